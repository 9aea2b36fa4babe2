#include "bbs/daemon/config.h"

#include <initializer_list>
#include <optional>
#include <utility>

#include <CLI/CLI.hpp>

#include "bbs/daemon/config_checks.h"
#include "bbs/daemon/config_json.h"

namespace bbs::daemon {
namespace {

// ---------------------------------------------------------------------------------------------
// Flags. CLI11 holds the flag set and collects the values; GoArgsForCli below only rewrites
// Go's flag syntax into tokens CLI11 reads without guessing.

enum class FlagKind { kString, kLogLevel, kHelp, kEncryptionKey };

struct FlagSpec {
  std::string_view name;
  FlagKind kind;
  std::string Config::*field;  // kString only
  Check check;                 // may be null
  std::string_view usage;
};

const FlagSpec kFlags[] = {
    {"config", FlagKind::kString, &Config::config_path, nullptr,
     "path to the JSON config file (upstream's keys); flags win over it"},
    {"address", FlagKind::kString, &Config::listen_address, HostPortProblem,
     "API listen address host:port (listen_address; default 127.0.0.1:8889)"},
    {"healthAddress", FlagKind::kString, &Config::health_address, HostPortProblem,
     "health check address host:port (health_address; default 127.0.0.1:8890)"},
    {"debugAddr", FlagKind::kString, &Config::debug_address, OptionalHostPortProblem,
     "debug server address host:port, empty for none (debug_address; not built yet)"},
    {"auctioneerAddress", FlagKind::kString, &Config::auctioneer_address, UrlProblem,
     "auctioneer URL, e.g. http://auctioneer:9016 (auctioneer_address; default none)"},
    {"logLevel", FlagKind::kLogLevel, nullptr, LogLevelProblem,
     "debug, info, error or fatal (log_level; default info)"},
    {"databaseDriver", FlagKind::kString, &Config::database_driver, DriverProblem,
     "sqlite, postgres, mysql or etcd (database_driver; default sqlite)"},
    {"databaseConnectionString", FlagKind::kString, &Config::database_connection_string, nullptr,
     "database file, URL or endpoints (database_connection_string; default ./bbs-data/bbs.db)"},
    {"encryptionKey", FlagKind::kEncryptionKey, nullptr, nullptr,
     "encryption key as label:passphrase, repeatable; replaces encryption_keys"},
    {"activeKeyLabel", FlagKind::kString, &Config::active_key_label, nullptr,
     "label of the encryption key that encrypts new records (active_key_label)"},
    {"etcdCluster", FlagKind::kString, &Config::etcd_cluster, nullptr,
     "comma-separated etcd client URLs; selects database_driver etcd unless that is given"},
    {"etcdCertFile", FlagKind::kString, &Config::etcd_cert_file, nullptr,
     "etcd client certificate (PEM), with -etcdKeyFile"},
    {"etcdKeyFile", FlagKind::kString, &Config::etcd_key_file, nullptr,
     "etcd client private key (PEM), with -etcdCertFile"},
    {"etcdCaFile", FlagKind::kString, &Config::etcd_ca_file, nullptr,
     "CA certificate (PEM) that signed the etcd members' certificates"},
    {"etcdRoot", FlagKind::kString, &Config::etcd_root, nullptr,
     "key prefix of the etcd store and lock (etcd_root; default \"\": the seed's /v1/...)"},
    {"locketListenAddress", FlagKind::kString, &Config::locket_listen_address,
     OptionalHostPortProblem,
     "serve the Locket gRPC API for cell presences on host:port (bbs extension; default off)"},
    {"repUrlTemplate", FlagKind::kString, &Config::rep_url_template, nullptr,
     "rep URL of a cell while no cell registry knows it; {cell_id} is replaced (bbs extension)"},
    {"consulCluster", FlagKind::kString, &Config::consul_cluster, nullptr,
     "comma-separated Consul URLs (accepted and ignored)"},
    {"help", FlagKind::kHelp, nullptr, nullptr, "print this help and exit"},
};

// The flags as a CLI11 app. Values land in `values`, one vector per kFlags entry: the last value
// for a single flag (CLI11's TakeLast), every value for a repeatable one.
class FlagSet {
 public:
  FlagSet() : app_("bbs") {
    app_.set_help_flag();  // -help is ours: a Go boolean flag, see kFlags
    values_.resize(std::size(kFlags));
    for (size_t i = 0; i < std::size(kFlags); ++i) {
      const FlagSpec& flag = kFlags[i];
      std::string usage(flag.usage);
      CLI::Option* option = nullptr;
      switch (flag.kind) {
        case FlagKind::kHelp:
          option = app_.add_flag("-h,--" + std::string(flag.name), help_, usage);
          break;
        case FlagKind::kEncryptionKey:
          option = app_.add_option("--" + std::string(flag.name), values_[i], usage)
                       ->type_name("value")
                       ->expected(1)
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
          break;
        case FlagKind::kString:
        case FlagKind::kLogLevel:
          option = app_.add_option("--" + std::string(flag.name), values_[i], usage)
                       ->type_name("string")
                       ->expected(1)
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
          break;
      }
      options_.push_back(option);
    }
  }

  const CLI::App& app() const { return app_; }
  bool help() const { return help_; }
  // Whether kFlags[i] was given, and its values.
  bool Given(size_t i) const { return options_[i]->count() > 0; }
  const std::vector<std::string>& Values(size_t i) const { return values_[i]; }

  Status Parse(const std::vector<std::string>& args) {
    Result<std::vector<std::string>> tokens = GoArgsForCli(args);
    if (!tokens.ok()) {
      return tokens.status();
    }
    std::vector<const char*> argv = {"bbs"};
    for (const std::string& token : *tokens) {
      argv.push_back(token.c_str());
    }
    try {
      app_.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      return ConfigError(std::string("cannot parse flags: ") + e.what());
    }
    return Status::Ok();
  }

 private:
  // Go's flag syntax: "-name" and "--name" are the same flag; a flag that takes a value takes
  // "=value" or else the next argument, whatever it looks like; a boolean takes only "=value";
  // flags end at "--", and bbs takes no other arguments. Each flag becomes one "--name=value"
  // token (an empty value "--name" ""; CLI11 reads "--name=" as "--name").
  Result<std::vector<std::string>> GoArgsForCli(const std::vector<std::string>& args) const {
    std::vector<std::string> tokens;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& arg = args[i];
      if (arg == "--") {
        if (i + 1 < args.size()) {
          return ConfigError("unexpected argument " + Quote(args[i + 1]) +
                             " (bbs takes only flags)");
        }
        break;
      }
      if (arg.size() < 2 || arg[0] != '-') {
        return ConfigError("unexpected argument " + Quote(arg) +
                           " (flags look like -name=value or -name value)");
      }
      std::string_view body = std::string_view(arg).substr(arg[1] == '-' ? 2 : 1);
      if (body.empty() || body[0] == '-' || body[0] == '=') {
        return ConfigError("bad flag syntax: " + Quote(arg));
      }
      size_t equals = body.find('=');
      std::string name(body.substr(0, equals));
      const CLI::Option* option = app_.get_option_no_throw((name.size() == 1 ? "-" : "--") + name);
      if (option == nullptr) {
        return ConfigError(UnknownFlag(name));
      }
      std::string value;
      if (option->get_expected_min() == 0) {  // a boolean flag
        std::optional<bool> on = equals == std::string_view::npos
                                     ? std::optional<bool>(true)
                                     : ParseGoBool(body.substr(equals + 1));
        if (!on) {
          return ConfigError("flag -" + name + ": want a boolean, got " +
                             Quote(body.substr(equals + 1)));
        }
        value = *on ? "true" : "false";
      } else if (equals != std::string_view::npos) {
        value = body.substr(equals + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return ConfigError("flag -" + name + " needs a value");
      }
      std::string token = "--" + option->get_lnames().front();
      if (value.empty()) {
        tokens.push_back(token);
        tokens.emplace_back();
      } else {
        tokens.push_back(token + "=" + value);
      }
    }
    return tokens;
  }

  static std::string UnknownFlag(std::string_view name) {
    std::vector<std::string> names;
    for (const FlagSpec& flag : kFlags) {
      names.emplace_back(flag.name);
    }
    return "unknown flag -" + std::string(name) + Suggestion(name, names, "-");
  }

  CLI::App app_;
  bool help_ = false;
  std::vector<std::vector<std::string>> values_;
  std::vector<CLI::Option*> options_;
};

// "label:passphrase" values of -encryptionKey, as the original BBS took them.
Result<std::map<std::string, std::string>> ParseEncryptionKeys(
    const std::vector<std::string>& values) {
  std::map<std::string, std::string> keys;
  for (const std::string& value : values) {
    size_t colon = value.find(':');
    if (colon == std::string::npos) {
      // The value may be a bare passphrase: do not echo it.
      return ConfigError("flag -encryptionKey: want label:passphrase, got a value without ':'");
    }
    std::string label = value.substr(0, colon);
    if (!keys.emplace(label, value.substr(colon + 1)).second) {
      return ConfigError("flag -encryptionKey: label " + Quote(label) + " is given twice");
    }
  }
  return keys;
}

Status ApplyFlag(const FlagSpec& spec, const std::vector<std::string>& values, Config* c) {
  if (spec.kind == FlagKind::kHelp) {
    return Status::Ok();  // LoadConfig has read it already
  }
  if (spec.kind == FlagKind::kEncryptionKey) {
    Result<std::map<std::string, std::string>> keys = ParseEncryptionKeys(values);
    if (!keys.ok()) {
      return keys.status();
    }
    c->encryption_keys = std::move(*keys);
    return Status::Ok();
  }
  const std::string& value = values.back();
  if (spec.check != nullptr) {
    if (std::string problem = spec.check(value); !problem.empty()) {
      return ConfigError("flag -" + std::string(spec.name) + ": " + problem);
    }
  }
  switch (spec.kind) {
    case FlagKind::kString:
      c->*spec.field = value;
      break;
    case FlagKind::kLogLevel:
      ParseLogLevel(value, &c->log_level);
      break;
    case FlagKind::kHelp:
    case FlagKind::kEncryptionKey:
      break;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// After file and flags are merged.

// Checks that involve more than one key.
Status CheckCombination(const Config& c, bool connection_string_set) {
  // etcd takes its endpoints from -etcdCluster, or else from the connection string.
  const bool etcd_cluster_set = c.database_driver == "etcd" && !c.etcd_cluster.empty();
  if (c.database_driver != "sqlite" && !connection_string_set && !etcd_cluster_set) {
    return ConfigError(std::string("database_connection_string (-databaseConnectionString)") +
                       (c.database_driver == "etcd" ? " or -etcdCluster" : "") +
                       " is required when database_driver is " + Quote(c.database_driver));
  }
  if (c.database_connection_string.empty() && !etcd_cluster_set) {
    return ConfigError("database_connection_string (-databaseConnectionString) is empty");
  }
  if (c.locket_client_keepalive_time > c.locket_client_keepalive_timeout) {
    return ConfigError(
        "locket_client_keepalive_time must not be greater than locket_client_keepalive_timeout");
  }
  for (const auto& [label, passphrase] : c.encryption_keys) {
    if (label.empty() || label.size() > 127) {
      return ConfigError("encryption_keys: label " + Quote(label) + " must be 1 to 127 bytes long");
    }
    if (passphrase.empty()) {
      return ConfigError("encryption_keys: the passphrase of " + Quote(label) + " is empty");
    }
  }
  if (!c.encryption_keys.empty() && c.active_key_label.empty()) {
    return ConfigError("active_key_label is required when encryption_keys is set");
  }
  if (!c.active_key_label.empty() && c.encryption_keys.count(c.active_key_label) == 0) {
    return ConfigError("active_key_label " + Quote(c.active_key_label) +
                       " is not a label in encryption_keys");
  }
  return Status::Ok();
}

// Upstream reads an explicit zero in these keys as "use the default".
void ApplyZeroMeansDefault(Config* c) {
  const Config defaults;
  for (Duration Config::*field :
       {&Config::db_connection_timeout, &Config::db_read_timeout, &Config::db_write_timeout,
        &Config::health_check_interval, &Config::health_check_timeout}) {
    if (c->*field == Duration::zero()) {
      c->*field = defaults.*field;
    }
  }
  if (c->health_check_failure_threshold == 0) {
    c->health_check_failure_threshold = defaults.health_check_failure_threshold;
  }
}

// "a is", "a and b are", "a, b and c are" for the names whose flag is true; "" if none.
std::string SetNames(std::initializer_list<std::pair<std::string_view, bool>> names) {
  std::vector<std::string_view> set;
  for (const auto& [name, is_set] : names) {
    if (is_set) {
      set.push_back(name);
    }
  }
  if (set.empty()) {
    return "";
  }
  std::string out(set[0]);
  for (size_t i = 1; i < set.size(); ++i) {
    out += (i + 1 == set.size() ? " and " : ", ");
    out += set[i];
  }
  return out + (set.size() == 1 ? " is" : " are");
}

}  // namespace

Result<Config> LoadConfig(const std::vector<std::string>& args) {
  FlagSet flags;
  if (Status s = flags.Parse(args); !s.ok()) {
    return s;
  }
  Config config;
  if (flags.help()) {
    config.help = true;
    return config;
  }

  ConfigFileNotes notes;
  for (size_t i = 0; i < std::size(kFlags); ++i) {
    if (kFlags[i].name == "config" && flags.Given(i)) {
      config.config_path = flags.Values(i).back();
    }
  }
  if (!config.config_path.empty()) {
    if (Status s = ReadConfigFile(config.config_path, &config, &notes); !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < std::size(kFlags); ++i) {
    if (!flags.Given(i)) {
      continue;
    }
    if (Status s = ApplyFlag(kFlags[i], flags.Values(i), &config); !s.ok()) {
      return s;
    }
    if (kFlags[i].name == "databaseConnectionString") {
      notes.connection_string_set = true;
    }
    if (kFlags[i].name == "databaseDriver") {
      notes.driver_set = true;
    }
  }
  // -etcdCluster alone selects the etcd store, as it was the original BBS's only store.
  if (!notes.driver_set && !config.etcd_cluster.empty()) {
    config.database_driver = "etcd";
  }
  ApplyZeroMeansDefault(&config);
  if (Status s = CheckCombination(config, notes.connection_string_set); !s.ok()) {
    return s;
  }
  config.warnings = std::move(notes.warnings);
  return config;
}

Result<Config> LoadConfig(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    args.emplace_back(argv[i]);
  }
  return LoadConfig(args);
}

std::string FlagUsage() {
  FlagSet flags;
  std::string out = "Usage: bbs [flags]\n";
  for (const CLI::Option* option : flags.app().get_options()) {
    out += "  -" + option->get_lnames().front();
    if (option->get_expected_min() > 0) {
      out += " " + option->get_type_name();
    }
    out += "\n        " + option->get_description() + "\n";
  }
  return out;
}

std::vector<std::string> Config::NotYetSupported() const {
  const Config d;
  std::vector<std::string> out;
  auto add = [&out](const std::string& names, std::string_view rest) {
    if (!names.empty()) {
      out.push_back(names + std::string(rest));
    }
  };
  add(SetNames({{"-consulCluster", !consul_cluster.empty()}}),
      " set but Consul registration is not built (Diego dropped Consul); ignored");
  add(SetNames({{"convergence_workers", convergence_workers != d.convergence_workers},
                {"update_workers", update_workers != d.update_workers}}),
      " set but bbs has no limit on these workers yet; ignored");
  add(SetNames({{"debug_lrp_start_heartbeats", debug_lrp_start_heartbeats}}),
      " set but no-change StartActualLRP heartbeats are not logged at any level yet");
  return out;
}

std::vector<std::string> Config::Ignored() const {
  const Config d;
  std::vector<std::string> out;
  if (std::string names =
          SetNames({{"advertise_url", advertise_url != d.advertise_url},
                    {"require_ssl", require_ssl != d.require_ssl},
                    {"desired_lrp_creation_timeout",
                     desired_lrp_creation_timeout != d.desired_lrp_creation_timeout},
                    {"locks_locket_enabled", locks_locket_enabled != d.locks_locket_enabled},
                    {"cell_registrations_locket_enabled",
                     cell_registrations_locket_enabled != d.cell_registrations_locket_enabled},
                    {"rep_require_tls", rep_require_tls != d.rep_require_tls},
                    {"loggregator.loggregator_app_metric_exclusion_filter",
                     !loggregator.app_metric_exclusion_filter.empty()}});
      !names.empty()) {
    out.push_back(names + " set but unused, as upstream; ignored");
  }
  return out;
}

const std::vector<AcceptedKey>& AcceptedKeys() {
  constexpr KeyUse kApplied = KeyUse::kApplied;
  constexpr KeyUse kNotYet = KeyUse::kNotYetSupported;
  constexpr KeyUse kIgnored = KeyUse::kIgnored;
  static const std::vector<AcceptedKey> keys = {
      // §11.1
      {"listen_address", kApplied, ""},
      {"health_address", kApplied, ""},
      {"debug_address", kApplied, ""},
      {"session_name", kApplied, ""},
      {"uuid", kApplied, ""},
      {"advertise_url", kIgnored, ""},
      {"require_ssl", kIgnored, ""},
      {"desired_lrp_creation_timeout", kIgnored, ""},
      {"access_log_path", kApplied, ""},
      // §11.2
      {"ca_file", kApplied, ""},
      {"cert_file", kApplied, ""},
      {"key_file", kApplied, ""},
      // §11.3
      {"database_driver", kApplied, ""},
      {"database_connection_string", kApplied, ""},
      {"max_open_database_connections", kApplied, ""},
      {"max_idle_database_connections", kApplied, ""},
      {"max_database_connection_lifetime", kApplied, ""},
      {"db_connection_timeout", kApplied, ""},  // the Locket call deadline, as upstream
      {"db_read_timeout", kApplied, ""},
      {"db_write_timeout", kApplied, ""},
      {"sql_ca_cert_file", kApplied, ""},
      {"sql_enable_identity_verification", kApplied, ""},
      {"enable_db_health_check", kApplied, ""},
      {"health_check_interval", kApplied, ""},
      {"health_check_timeout", kApplied, ""},
      {"health_check_failure_threshold", kApplied, ""},
      // §11.4
      {"converge_repeat_interval", kApplied, ""},
      {"kick_task_duration", kApplied, ""},
      {"expire_pending_task_duration", kApplied, ""},
      {"expire_completed_task_duration", kApplied, ""},
      {"convergence_workers", kNotYet, ""},
      {"update_workers", kNotYet, ""},
      {"task_callback_workers", kApplied, ""},
      {"max_task_retries", kApplied, ""},
      {"debug_lrp_start_heartbeats", kNotYet, ""},
      // §11.5
      {"auctioneer_address", kApplied, ""},
      {"auctioneer_ca_cert", kApplied, ""},
      {"auctioneer_client_cert", kApplied, ""},
      {"auctioneer_client_key", kApplied, ""},
      {"auctioneer_require_tls", kApplied, ""},
      {"rep_ca_cert", kApplied, ""},
      {"rep_client_cert", kApplied, ""},
      {"rep_client_key", kApplied, ""},
      {"rep_client_session_cache_size", kApplied, ""},
      {"communication_timeout", kApplied, ""},
      // §11.6
      {"locket_address", kApplied, ""},
      {"locket_ca_cert_file", kApplied, ""},
      {"locket_client_cert_file", kApplied, ""},
      {"locket_client_key_file", kApplied, ""},
      {"locket_client_keepalive_time", kApplied, ""},
      {"locket_client_keepalive_timeout", kApplied, ""},
      {"lock_ttl", kApplied, ""},
      {"lock_retry_interval", kApplied, ""},
      // §11.7
      {"active_key_label", kApplied, ""},
      {"encryption_keys", kApplied, ""},
      {"log_level", kApplied, ""},
      {"time_format", kApplied, ""},
      {"max_data_string_length", kApplied, ""},
      {"redact_secrets", kApplied, ""},
      {"report_interval", kApplied, ""},
      {"loggregator", kApplied, ""},
      {"loggregator.loggregator_use_v2_api", kApplied, ""},
      {"loggregator.loggregator_api_port", kApplied, ""},
      {"loggregator.loggregator_ca_path", kApplied, ""},
      {"loggregator.loggregator_cert_path", kApplied, ""},
      {"loggregator.loggregator_key_path", kApplied, ""},
      {"loggregator.loggregator_job_deployment", kApplied, ""},
      {"loggregator.loggregator_job_name", kApplied, ""},
      {"loggregator.loggregator_job_index", kApplied, ""},
      {"loggregator.loggregator_job_ip", kApplied, ""},
      {"loggregator.loggregator_job_origin", kApplied, ""},
      {"loggregator.loggregator_source_id", kApplied, ""},
      {"loggregator.loggregator_instance_id", kApplied, ""},
      {"loggregator.loggregator_batch_max_size", kApplied, ""},
      {"loggregator.BatchFlushInterval", kApplied, ""},
      {"loggregator.loggregator_app_metric_exclusion_filter", kIgnored, ""},
      {"advanced_metrics", kApplied, ""},
      {"advanced_metrics.enabled", kApplied, ""},
      {"advanced_metrics.route_config", kApplied, ""},
      {"advanced_metrics.route_config.request_count", kApplied, ""},
      {"advanced_metrics.route_config.request_latency", kApplied, ""},
      {"locks_locket_enabled", kIgnored, ""},
      {"cell_registrations_locket_enabled", kIgnored, ""},
      {"rep_require_tls", kIgnored, ""},
      // bbs extensions
      {"max_request_body_bytes", kApplied, ""},
      {"http_worker_threads", kApplied, ""},
      {"max_instances_per_desired_lrp", kApplied, ""},
      {"event_subscriber_max_bytes", kApplied, ""},
      {"event_resume_max_bytes", kApplied, ""},
      {"rep_url_template", kApplied, ""},
      {"locket_listen_address", kApplied, ""},
      {"etcd_root", kApplied, ""},
      // Flags
      {"-config", kApplied, ""},
      {"-address", kApplied, ""},
      {"-healthAddress", kApplied, ""},
      {"-debugAddr", kApplied, ""},
      {"-auctioneerAddress", kApplied, ""},
      {"-logLevel", kApplied, ""},
      {"-databaseDriver", kApplied, ""},
      {"-databaseConnectionString", kApplied, ""},
      {"-encryptionKey", kApplied, ""},
      {"-activeKeyLabel", kApplied, ""},
      {"-etcdCluster", kApplied, ""},
      {"-etcdCertFile", kApplied, ""},
      {"-etcdKeyFile", kApplied, ""},
      {"-etcdCaFile", kApplied, ""},
      {"-etcdRoot", kApplied, ""},
      {"-locketListenAddress", kApplied, ""},
      {"-repUrlTemplate", kApplied, ""},
      {"-consulCluster", kNotYet, ""},
      {"-help", kApplied, ""},
  };
  return keys;
}

}  // namespace bbs::daemon
