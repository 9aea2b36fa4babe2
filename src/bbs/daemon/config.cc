#include "bbs/daemon/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <utility>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace bbs::daemon {
namespace {

using Json = nlohmann::json;

Status ConfigError(std::string message) {
  return Status(ErrorCode::kInvalidRequest, std::move(message));
}

// `text` as a JSON string literal, so that odd bytes in a value cannot break the one-line error.
std::string Quote(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------------------------
// Value checks shared by flags and JSON keys. Each returns "" when `value` is fine, otherwise
// what is wrong with it, to be prefixed with the flag or key.

std::string HostPortProblem(std::string_view value) {
  std::string want = "want host:port with a numeric port, got " + Quote(value);
  std::string_view host;
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) {
      return want + " (missing ']')";
    }
    if (close + 1 >= value.size() || value[close + 1] != ':') {
      return want + " (missing port)";
    }
    host = value.substr(1, close - 1);
    port = value.substr(close + 2);
  } else {
    size_t colon = value.rfind(':');
    if (colon == std::string_view::npos) {
      return want + " (missing port)";
    }
    host = value.substr(0, colon);
    port = value.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return want + " (too many colons; write an IPv6 host as [::1]:8889)";
    }
  }
  if (host.find_first_of("[] ") != std::string_view::npos) {
    return want + " (bad host)";
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), IsDigit) ||
      std::stoi(std::string(port)) > 65535) {
    return want + " (port must be a number from 0 to 65535)";
  }
  return "";
}

std::string OptionalHostPortProblem(std::string_view value) {
  return value.empty() ? "" : HostPortProblem(value);
}

std::string LogLevelProblem(std::string_view value) {
  LogLevel level;
  if (ParseLogLevel(value, &level)) {
    return "";
  }
  return "want one of debug, info, error, fatal; got " + Quote(value);
}

std::string DriverProblem(std::string_view value) {
  if (value == "sqlite" || value == "postgres" || value == "etcd") {
    return "";
  }
  return "want one of sqlite, postgres, etcd; got " + Quote(value);
}

std::string UrlProblem(std::string_view value) {
  if (value.empty()) {
    return "";
  }
  for (std::string_view scheme : {"http://", "https://"}) {
    if (value.substr(0, scheme.size()) == scheme && value.size() > scheme.size()) {
      return "";
    }
  }
  return "want an http:// or https:// URL, got " + Quote(value);
}

std::string TimeFormatProblem(std::string_view value) {
  if (value == "unix-epoch" || value == "rfc3339") {
    return "";
  }
  return "want \"unix-epoch\" or \"rfc3339\", got " + Quote(value);
}

using Check = std::string (*)(std::string_view);

// ---------------------------------------------------------------------------------------------
// "Did you mean" for misspelt keys and flags.

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Lower case without '_' and '-', so that "listenAddress" matches "listen_address".
std::string Folded(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != '_' && c != '-') {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string Suggestion(std::string_view wrong, const std::vector<std::string>& known,
                       std::string_view prefix) {
  const std::string* best = nullptr;
  size_t best_distance = 3;
  for (const std::string& candidate : known) {
    size_t distance = Folded(candidate) == Folded(wrong) ? 0 : EditDistance(wrong, candidate);
    if (distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  if (best == nullptr) {
    return "";
  }
  return " (did you mean " + std::string(prefix) + *best + "?)";
}

// ---------------------------------------------------------------------------------------------
// JSON decoding.

std::string Describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string:
      return "string " + value.dump(-1, ' ', false, Json::error_handler_t::replace);
    case Json::value_t::boolean:
      return "boolean " + value.dump();
    default:
      return "number " + value.dump();
  }
}

enum class DurationRule { kNonNegative, kPositive };

// Reads the keys of one JSON object into fields. Each reader call names a known key; a key that
// is absent or null leaves its field alone (null is what Go's encoding/json does too). The first
// problem found is kept; Finish() reports an unknown key before it.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string where, std::string prefix)
      : object_(object), where_(std::move(where)), prefix_(std::move(prefix)) {}

  const std::string& where() const { return where_; }

  // The value of `key` if present and not null.
  const Json* Find(std::string_view key) {
    known_.emplace_back(key);
    auto it = object_.find(std::string(key));
    if (it == object_.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }

  void Fail(std::string_view key, std::string_view problem) {
    if (!error_.ok()) {
      return;
    }
    error_ = ConfigError(where_ + ": key " + Quote(prefix_ + std::string(key)) + ": " +
                         std::string(problem));
  }

  void Merge(const Status& status) {
    if (error_.ok() && !status.ok()) {
      error_ = status;
    }
  }

  // Returns true when the key was present and valid.
  bool String(std::string_view key, std::string* out, Check check = nullptr) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return false;
    }
    if (!value->is_string()) {
      Fail(key, "want a string, got " + Describe(*value));
      return false;
    }
    const auto& text = value->get_ref<const std::string&>();
    if (check != nullptr) {
      if (std::string problem = check(text); !problem.empty()) {
        Fail(key, problem);
        return false;
      }
    }
    *out = text;
    return true;
  }

  void Bool(std::string_view key, bool* out) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_boolean()) {
      return Fail(key, "want true or false, got " + Describe(*value));
    }
    *out = value->get<bool>();
  }

  void Int64(std::string_view key, std::int64_t* out, std::int64_t min, std::int64_t max) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_number_integer()) {
      return Fail(key, "want an integer, got " + Describe(*value));
    }
    bool too_big = value->is_number_unsigned() &&
                   value->get<std::uint64_t>() > static_cast<std::uint64_t>(max);
    std::int64_t number = too_big ? max : value->get<std::int64_t>();
    if (number < 0 && min == 0) {
      return Fail(key, "must not be negative, got " + value->dump());
    }
    if (too_big || number < min || number > max) {
      return Fail(key, "must be from " + std::to_string(min) + " to " + std::to_string(max) +
                           ", got " + value->dump());
    }
    *out = number;
  }

  void Int(std::string_view key, int* out, int min = 0, int max = std::numeric_limits<int>::max()) {
    std::int64_t wide = *out;
    Int64(key, &wide, min, max);
    *out = static_cast<int>(wide);
  }

  void Dur(std::string_view key, Duration* out, DurationRule rule = DurationRule::kNonNegative) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_string()) {
      return Fail(key, "want a duration string like \"30s\", got " + Describe(*value));
    }
    Store(key, value->get_ref<const std::string&>(), out, rule);
  }

  // Whole seconds as a number, or a duration string.
  void SecondsOrDur(std::string_view key, Duration* out) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (value->is_number_integer()) {
      if (value->is_number_unsigned() ? value->get<std::uint64_t>() > 1'000'000'000
                                      : value->get<std::int64_t>() < 0) {
        return Fail(key, "want whole seconds from 0 to 1000000000, got " + value->dump());
      }
      *out = std::chrono::seconds(value->get<std::int64_t>());
      return;
    }
    if (!value->is_string()) {
      return Fail(key, "want whole seconds or a duration string, got " + Describe(*value));
    }
    Store(key, value->get_ref<const std::string&>(), out, DurationRule::kNonNegative);
  }

  void StringMap(std::string_view key, std::map<std::string, std::string>* out) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_object()) {
      return Fail(key, "want an object, got " + Describe(*value));
    }
    std::map<std::string, std::string> result;
    for (const auto& [name, item] : value->items()) {
      if (!item.is_string()) {
        return Fail(key, "want string values, got " + Describe(item) + " for " + Quote(name));
      }
      result[name] = item.get<std::string>();
    }
    *out = std::move(result);
  }

  void StringList(std::string_view key, std::vector<std::string>* out) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    if (!value->is_array()) {
      return Fail(key, "want an array of strings, got " + Describe(*value));
    }
    std::vector<std::string> result;
    for (const Json& item : *value) {
      if (!item.is_string()) {
        return Fail(key, "want an array of strings, got " + Describe(item));
      }
      result.push_back(item.get<std::string>());
    }
    *out = std::move(result);
  }

  const Json* Object(std::string_view key) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return nullptr;
    }
    if (!value->is_object()) {
      Fail(key, "want an object, got " + Describe(*value));
      return nullptr;
    }
    return value;
  }

  // A key that is accepted with the right type and then ignored.
  void IgnoredBool(std::string_view key) {
    bool unused = false;
    Bool(key, &unused);
  }

  Status Finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (std::find(known_.begin(), known_.end(), key) == known_.end()) {
        return ConfigError(where_ + ": unknown key " + Quote(prefix_ + key) +
                           Suggestion(key, known_, prefix_));
      }
    }
    return error_;
  }

 private:
  void Store(std::string_view key, const std::string& text, Duration* out, DurationRule rule) {
    Result<Duration> parsed = ParseGoDuration(text);
    if (!parsed.ok()) {
      return Fail(key, parsed.status().message() + " (write e.g. \"30s\", \"1m30s\", \"500ms\")");
    }
    if (*parsed < Duration::zero()) {
      return Fail(key, "must not be negative, got " + Quote(text));
    }
    if (rule == DurationRule::kPositive && *parsed == Duration::zero()) {
      return Fail(key, "must be greater than zero, got " + Quote(text));
    }
    *out = *parsed;
  }

  const Json& object_;
  std::string where_;
  std::string prefix_;
  std::vector<std::string> known_;
  Status error_;
};

void ReadLoggregator(ObjectReader& parent, LoggregatorConfig* out) {
  const Json* object = parent.Object("loggregator");
  if (object == nullptr) {
    return;
  }
  ObjectReader r(*object, parent.where(), "loggregator.");
  r.Bool("loggregator_use_v2_api", &out->use_v2_api);
  r.Int("loggregator_api_port", &out->api_port, 0, 65535);
  r.String("loggregator_ca_path", &out->ca_path);
  r.String("loggregator_cert_path", &out->cert_path);
  r.String("loggregator_key_path", &out->key_path);
  r.String("loggregator_job_deployment", &out->job_deployment);
  r.String("loggregator_job_name", &out->job_name);
  r.String("loggregator_job_index", &out->job_index);
  r.String("loggregator_job_ip", &out->job_ip);
  r.String("loggregator_job_origin", &out->job_origin);
  r.String("loggregator_source_id", &out->source_id);
  r.String("loggregator_instance_id", &out->instance_id);
  parent.Merge(r.Finish());
}

void ReadAdvancedMetrics(ObjectReader& parent, AdvancedMetricsConfig* out) {
  const Json* object = parent.Object("advanced_metrics");
  if (object == nullptr) {
    return;
  }
  ObjectReader r(*object, parent.where(), "advanced_metrics.");
  r.Bool("enabled", &out->enabled);
  if (const Json* routes = r.Object("route_config")) {
    ObjectReader rr(*routes, parent.where(), "advanced_metrics.route_config.");
    rr.StringList("request_count", &out->request_count_routes);
    rr.StringList("request_latency", &out->request_latency_routes);
    r.Merge(rr.Finish());
  }
  parent.Merge(r.Finish());
}

// Applies the keys of a parsed config file to `c`.
Status DecodeConfig(const Json& root, const std::string& where, Config* c,
                    bool* connection_string_set) {
  if (!root.is_object()) {
    return ConfigError(where + ": want a JSON object at the top level, got " + Describe(root));
  }
  ObjectReader r(root, where, "");
  const auto kPositive = DurationRule::kPositive;

  // §11.1
  r.String("listen_address", &c->listen_address, HostPortProblem);
  r.String("health_address", &c->health_address, HostPortProblem);
  r.String("debug_address", &c->debug_address, OptionalHostPortProblem);
  r.String("session_name", &c->session_name);
  r.String("uuid", &c->uuid);
  r.String("advertise_url", &c->advertise_url);
  r.Bool("require_ssl", &c->require_ssl);
  r.Dur("desired_lrp_creation_timeout", &c->desired_lrp_creation_timeout);
  r.String("access_log_path", &c->access_log_path);
  // §11.2
  r.String("ca_file", &c->ca_file);
  r.String("cert_file", &c->cert_file);
  r.String("key_file", &c->key_file);
  // §11.3
  r.String("database_driver", &c->database_driver, DriverProblem);
  *connection_string_set = r.String("database_connection_string", &c->database_connection_string) ||
                           *connection_string_set;
  r.Int("max_open_database_connections", &c->max_open_database_connections);
  r.Int("max_idle_database_connections", &c->max_idle_database_connections);
  r.Dur("max_database_connection_lifetime", &c->max_database_connection_lifetime);
  r.Dur("db_connection_timeout", &c->db_connection_timeout);
  r.Dur("db_read_timeout", &c->db_read_timeout);
  r.Dur("db_write_timeout", &c->db_write_timeout);
  r.String("sql_ca_cert_file", &c->sql_ca_cert_file);
  r.Bool("sql_enable_identity_verification", &c->sql_enable_identity_verification);
  r.Bool("enable_db_health_check", &c->enable_db_health_check);
  r.Dur("health_check_interval", &c->health_check_interval);
  r.Dur("health_check_timeout", &c->health_check_timeout);
  r.Int("health_check_failure_threshold", &c->health_check_failure_threshold);
  // §11.4
  r.Dur("converge_repeat_interval", &c->converge_repeat_interval, kPositive);
  r.Dur("kick_task_duration", &c->kick_task_duration);
  r.Dur("expire_pending_task_duration", &c->expire_pending_task_duration);
  r.Dur("expire_completed_task_duration", &c->expire_completed_task_duration);
  r.Int("convergence_workers", &c->convergence_workers);
  r.Int("update_workers", &c->update_workers);
  r.Int("task_callback_workers", &c->task_callback_workers);
  r.Int("max_task_retries", &c->max_task_retries);
  r.Bool("debug_lrp_start_heartbeats", &c->debug_lrp_start_heartbeats);
  // §11.5
  r.String("auctioneer_address", &c->auctioneer_address, UrlProblem);
  r.String("auctioneer_ca_cert", &c->auctioneer_ca_cert);
  r.String("auctioneer_client_cert", &c->auctioneer_client_cert);
  r.String("auctioneer_client_key", &c->auctioneer_client_key);
  r.Bool("auctioneer_require_tls", &c->auctioneer_require_tls);
  r.String("rep_ca_cert", &c->rep_ca_cert);
  r.String("rep_client_cert", &c->rep_client_cert);
  r.String("rep_client_key", &c->rep_client_key);
  r.Int("rep_client_session_cache_size", &c->rep_client_session_cache_size);
  r.Dur("communication_timeout", &c->communication_timeout);
  // §11.6
  r.String("locket_address", &c->locket_address);
  r.String("locket_ca_cert_file", &c->locket_ca_cert_file);
  r.String("locket_client_cert_file", &c->locket_client_cert_file);
  r.String("locket_client_key_file", &c->locket_client_key_file);
  r.SecondsOrDur("locket_client_keepalive_time", &c->locket_client_keepalive_time);
  r.SecondsOrDur("locket_client_keepalive_timeout", &c->locket_client_keepalive_timeout);
  r.Dur("lock_ttl", &c->lock_ttl, kPositive);
  r.Dur("lock_retry_interval", &c->lock_retry_interval, kPositive);
  // §11.7
  r.String("active_key_label", &c->active_key_label);
  r.StringMap("encryption_keys", &c->encryption_keys);
  std::string level;
  if (r.String("log_level", &level, LogLevelProblem)) {
    ParseLogLevel(level, &c->log_level);
  }
  r.String("time_format", &c->time_format, TimeFormatProblem);
  r.Int("max_data_string_length", &c->max_data_string_length);
  r.Bool("redact_secrets", &c->redact_secrets);
  r.Dur("report_interval", &c->report_interval, kPositive);
  ReadLoggregator(r, &c->loggregator);
  ReadAdvancedMetrics(r, &c->advanced_metrics);
  r.IgnoredBool("locks_locket_enabled");
  r.IgnoredBool("cell_registrations_locket_enabled");
  r.IgnoredBool("rep_require_tls");
  // bbs extensions
  r.Int64("max_request_body_bytes", &c->max_request_body_bytes, 1,
          std::numeric_limits<std::int64_t>::max());
  r.Int("http_worker_threads", &c->http_worker_threads);
  r.String("rep_url_template", &c->rep_url_template);
  r.String("locket_listen_address", &c->locket_listen_address, OptionalHostPortProblem);
  return r.Finish();
}

Status LoadFile(const std::string& path, Config* c, bool* connection_string_set) {
  std::string where = "config file " + Quote(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return ConfigError("cannot read " + where + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return ConfigError("cannot read " + where + ": " + std::strerror(errno));
  }
  Json root;
  try {
    root = Json::parse(text.str());
  } catch (const Json::parse_error& e) {
    // Drop the "[json.exception.parse_error.101] " tag; keep "parse error at line 3, column 5".
    std::string message = e.what();
    if (size_t tag_end = message.find("] "); tag_end != std::string::npos) {
      message = message.substr(tag_end + 2);
    }
    return ConfigError(where + ": invalid JSON: " + message);
  }
  return DecodeConfig(root, where, c, connection_string_set);
}

// ---------------------------------------------------------------------------------------------
// Flags.

enum class FlagKind { kString, kLogLevel, kHelp };

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
     "debug server address host:port, empty for none (debug_address; default none)"},
    {"auctioneerAddress", FlagKind::kString, &Config::auctioneer_address, UrlProblem,
     "auctioneer URL, e.g. http://auctioneer:9016 (auctioneer_address; default none)"},
    {"logLevel", FlagKind::kLogLevel, nullptr, LogLevelProblem,
     "debug, info, error or fatal (log_level; default info)"},
    {"databaseDriver", FlagKind::kString, &Config::database_driver, DriverProblem,
     "sqlite, postgres or etcd (database_driver; default sqlite)"},
    {"databaseConnectionString", FlagKind::kString, &Config::database_connection_string, nullptr,
     "database file, URL or endpoints (database_connection_string; default ./bbs-data/bbs.db)"},
    {"etcdCluster", FlagKind::kString, &Config::etcd_cluster, nullptr,
     "comma-separated etcd URLs (not built yet)"},
    {"etcdCertFile", FlagKind::kString, &Config::etcd_cert_file, nullptr,
     "etcd client certificate (not built yet)"},
    {"etcdKeyFile", FlagKind::kString, &Config::etcd_key_file, nullptr,
     "etcd client key (not built yet)"},
    {"etcdCaFile", FlagKind::kString, &Config::etcd_ca_file, nullptr,
     "etcd CA certificate (not built yet)"},
    {"locketListenAddress", FlagKind::kString, &Config::locket_listen_address,
     OptionalHostPortProblem,
     "serve the Locket gRPC API for cell presences on host:port (bbs extension; default off)"},
    {"repUrlTemplate", FlagKind::kString, &Config::rep_url_template, nullptr,
     "rep URL of a cell while no cell registry knows it; {cell_id} is replaced (bbs extension)"},
    {"consulCluster", FlagKind::kString, &Config::consul_cluster, nullptr,
     "comma-separated Consul URLs (accepted and ignored)"},
    {"help", FlagKind::kHelp, nullptr, nullptr, "print this help and exit"},
    {"h", FlagKind::kHelp, nullptr, nullptr, "print this help and exit"},
};

const FlagSpec* FindFlag(std::string_view name) {
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == name) {
      return &flag;
    }
  }
  return nullptr;
}

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    if (text == yes) {
      return true;
    }
  }
  for (std::string_view no : {"0", "f", "F", "false", "FALSE", "False"}) {
    if (text == no) {
      return false;
    }
  }
  return std::nullopt;
}

std::string UnknownFlag(std::string_view name) {
  std::vector<std::string> names;
  for (const FlagSpec& flag : kFlags) {
    names.emplace_back(flag.name);
  }
  return "unknown flag -" + std::string(name) + Suggestion(name, names, "-");
}

// Rewrites Go-style arguments as "--name=value" tokens, with Go's rules: a flag ends at "--" or
// at the first argument that is not a flag; a non-boolean flag without "=" takes the next
// argument as its value whatever it looks like; a boolean flag never does.
Status NormaliseArgs(const std::vector<std::string>& args, std::vector<std::string>* tokens) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size()) {
        return ConfigError("unexpected argument " + Quote(args[i + 1]) + " (bbs takes only flags)");
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
    std::string_view name = body.substr(0, equals);
    const FlagSpec* flag = FindFlag(name);
    if (flag == nullptr) {
      return ConfigError(UnknownFlag(name));
    }
    std::string value;
    if (flag->kind == FlagKind::kHelp) {
      std::optional<bool> on = equals == std::string_view::npos
                                   ? std::optional<bool>(true)
                                   : ParseGoBool(body.substr(equals + 1));
      if (!on) {
        return ConfigError("flag -" + std::string(name) + ": want a boolean, got " +
                           Quote(body.substr(equals + 1)));
      }
      value = *on ? "true" : "false";
    } else if (equals != std::string_view::npos) {
      value = body.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return ConfigError("flag -" + std::string(name) + " needs a value");
    }
    // "-h" is an alias; CLI11 sees one long option per flag. CLI11 reads "--name=" as "--name"
    // and would take the next token as the value, so an empty value goes as its own token.
    std::string option = "--" + std::string(flag->kind == FlagKind::kHelp ? "help" : flag->name);
    if (value.empty()) {
      tokens->push_back(option);
      tokens->push_back("");
    } else {
      option += '=';
      option += value;
      tokens->push_back(std::move(option));
    }
  }
  return Status::Ok();
}

struct GivenFlag {
  const FlagSpec* spec;
  std::string value;
};

// Parses the flags; returns those given, in table order, each with its last value.
Result<std::vector<GivenFlag>> ParseFlags(const std::vector<std::string>& args) {
  std::vector<std::string> tokens;
  if (Status s = NormaliseArgs(args, &tokens); !s.ok()) {
    return s;
  }

  CLI::App app("bbs");
  app.set_help_flag();  // -help is ours, so that it follows the Go rules above
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::vector<std::pair<const FlagSpec*, std::string>> values;
  values.reserve(std::size(kFlags));
  std::vector<CLI::Option*> options;
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == "h") {
      continue;
    }
    values.emplace_back(&flag, "");
    options.push_back(app.add_option("--" + std::string(flag.name), values.back().second,
                                     std::string(flag.usage)));
  }
  std::reverse(tokens.begin(), tokens.end());  // CLI11 consumes a reversed vector
  try {
    app.parse(tokens);
  } catch (const CLI::ParseError& e) {
    return ConfigError(std::string("cannot parse flags: ") + e.what());
  }
  std::vector<GivenFlag> given;
  for (size_t i = 0; i < options.size(); ++i) {
    if (options[i]->count() > 0) {
      given.push_back({values[i].first, values[i].second});
    }
  }
  return given;
}

Status ApplyFlag(const GivenFlag& flag, Config* c) {
  const FlagSpec& spec = *flag.spec;
  if (spec.check != nullptr) {
    if (std::string problem = spec.check(flag.value); !problem.empty()) {
      return ConfigError("flag -" + std::string(spec.name) + ": " + problem);
    }
  }
  switch (spec.kind) {
    case FlagKind::kString:
      c->*spec.field = flag.value;
      break;
    case FlagKind::kLogLevel:
      ParseLogLevel(flag.value, &c->log_level);
      break;
    case FlagKind::kHelp:
      c->help = flag.value == "true";
      break;
  }
  return Status::Ok();
}

// Checks that involve more than one key, after file and flags are merged.
Status CheckCombination(const Config& c, bool connection_string_set) {
  if (c.database_driver != "sqlite" && !connection_string_set) {
    return ConfigError(
        "database_connection_string (-databaseConnectionString) is required when "
        "database_driver is " +
        Quote(c.database_driver));
  }
  if (c.database_connection_string.empty()) {
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

Result<Duration> ParseGoDuration(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return ConfigError("invalid duration " + Quote(text) + ": " + std::string(why));
  };
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;  // |INT64_MIN|
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return Duration::zero();
  }
  if (s.empty()) {
    return invalid("empty");
  }
  std::uint64_t total = 0;
  while (!s.empty()) {
    if (s[0] != '.' && !IsDigit(s[0])) {
      return invalid("expected a number");
    }
    std::uint64_t whole = 0;
    size_t n = 0;
    for (; n < s.size() && IsDigit(s[n]); ++n) {
      if (whole > kLimit / 10) {
        return invalid("out of range");
      }
      whole = whole * 10 + static_cast<std::uint64_t>(s[n] - '0');
      if (whole > kLimit) {
        return invalid("out of range");
      }
    }
    bool has_whole = n > 0;
    s.remove_prefix(n);
    // Fraction digits beyond what fits are dropped, not an error.
    std::uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t m = 0;
      bool full = false;
      for (; m < s.size() && IsDigit(s[m]); ++m) {
        if (full) {
          continue;
        }
        std::uint64_t next = fraction * 10 + static_cast<std::uint64_t>(s[m] - '0');
        if (fraction > kLimit / 10 || next > kLimit) {
          full = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      has_fraction = m > 0;
      s.remove_prefix(m);
    }
    if (!has_whole && !has_fraction) {
      return invalid("expected a number");
    }
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u])) {
      ++u;
    }
    if (u == 0) {
      return invalid("missing unit");
    }
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    std::uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1'000;  // "us", U+00B5 micro sign, U+03BC Greek mu
    } else if (unit_name == "ms") {
      unit = 1'000'000;
    } else if (unit_name == "s") {
      unit = 1'000'000'000;
    } else if (unit_name == "m") {
      unit = 60'000'000'000;
    } else if (unit_name == "h") {
      unit = 3'600'000'000'000;
    } else {
      return invalid("unknown unit " + Quote(unit_name) + " (use ns, us, ms, s, m or h)");
    }
    if (whole > kLimit / unit) {
      return invalid("out of range");
    }
    whole *= unit;
    if (fraction > 0) {
      whole += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(unit) / scale));
      if (whole > kLimit) {
        return invalid("out of range");
      }
    }
    total += whole;
    if (total > kLimit) {
      return invalid("out of range");
    }
  }
  if (negative) {
    if (total == kLimit) {
      return Duration(std::numeric_limits<std::int64_t>::min());
    }
    return Duration(-static_cast<std::int64_t>(total));
  }
  if (total == kLimit) {
    return invalid("out of range");
  }
  return Duration(static_cast<std::int64_t>(total));
}

Result<Config> LoadConfig(const std::vector<std::string>& args) {
  Result<std::vector<GivenFlag>> flags = ParseFlags(args);
  if (!flags.ok()) {
    return flags.status();
  }

  Config config;
  bool connection_string_set = false;
  for (const GivenFlag& flag : *flags) {
    if (flag.spec->kind == FlagKind::kHelp) {
      if (Status s = ApplyFlag(flag, &config); !s.ok()) {
        return s;
      }
    }
    if (flag.spec->name == "config") {
      config.config_path = flag.value;
    }
  }
  if (config.help) {
    return config;
  }

  if (!config.config_path.empty()) {
    if (Status s = LoadFile(config.config_path, &config, &connection_string_set); !s.ok()) {
      return s;
    }
  }
  for (const GivenFlag& flag : *flags) {
    if (Status s = ApplyFlag(flag, &config); !s.ok()) {
      return s;
    }
    if (flag.spec->name == "databaseConnectionString") {
      connection_string_set = true;
    }
  }
  ApplyZeroMeansDefault(&config);
  if (Status s = CheckCombination(config, connection_string_set); !s.ok()) {
    return s;
  }
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
  std::string out = "Usage: bbs [flags]\n";
  for (const FlagSpec& flag : kFlags) {
    if (flag.name == "h") {
      continue;
    }
    out += "  -" + std::string(flag.name);
    if (flag.kind != FlagKind::kHelp) {
      out += " string";
    }
    out += "\n        " + std::string(flag.usage) + "\n";
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
  add(SetNames({{"-etcdCluster", !etcd_cluster.empty()}}),
      " set but the etcd store is not built yet; data stays in the configured database_driver");
  add(SetNames({{"-etcdCertFile", !etcd_cert_file.empty()},
                {"-etcdKeyFile", !etcd_key_file.empty()},
                {"-etcdCaFile", !etcd_ca_file.empty()}}),
      " set but the etcd store is not built yet; ignored");
  add(SetNames({{"-consulCluster", !consul_cluster.empty()}}),
      " set but Consul registration is not built (Diego dropped Consul); ignored");
  if (database_driver == "postgres") {
    out.push_back("database_driver is \"postgres\" but the PostgreSQL store is not built yet");
  } else if (database_driver == "etcd") {
    out.push_back("database_driver is \"etcd\" but the etcd store is not built yet");
  }
  add(SetNames({{"sql_ca_cert_file", !sql_ca_cert_file.empty()}}),
      " set but TLS to the SQL database is not built yet");
  add(SetNames({{"enable_db_health_check", enable_db_health_check}}),
      " set but the database health check is not built yet");
  add(SetNames({{"ca_file", !ca_file.empty()},
                {"cert_file", !cert_file.empty()},
                {"key_file", !key_file.empty()}}),
      " set but TLS for the API is not built yet; the API serves plain HTTP");
  add(SetNames({{"access_log_path", !access_log_path.empty()}}),
      " set but the access log is not built yet; no access log is written");
  add(SetNames({{"rep_client_session_cache_size",
                 rep_client_session_cache_size != d.rep_client_session_cache_size}}),
      " set but the rep client's TLS session cache is not built yet");
  add(SetNames({{"lock_ttl", lock_ttl != d.lock_ttl},
                {"lock_retry_interval", lock_retry_interval != d.lock_retry_interval}}),
      " set but Locket (the leader lock) is not built yet; this bbs takes no lock, so run only "
      "one");
  add(SetNames({{"encryption_keys", !encryption_keys.empty()},
                {"active_key_label", !active_key_label.empty()}}),
      " set but blob encryption is not built yet; records are stored unencrypted");
  if (time_format != d.time_format) {
    out.push_back("time_format is " + Quote(time_format) +
                  " but only unix-epoch log timestamps are built yet");
  }
  add(SetNames({{"redact_secrets", redact_secrets}}),
      " set but secret redaction in logs is not built yet");
  add(SetNames({{"max_data_string_length", max_data_string_length != d.max_data_string_length}}),
      " set but truncation of long log data is not built yet");
  add(SetNames({{"loggregator", loggregator != d.loggregator}}),
      " set but metric emission to Loggregator is not built yet; ignored");
  add(SetNames({{"advanced_metrics", advanced_metrics != d.advanced_metrics}}),
      " set but per-route request metrics are not built yet");
  return out;
}

}  // namespace bbs::daemon
