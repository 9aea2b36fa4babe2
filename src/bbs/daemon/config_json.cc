#include "bbs/daemon/config_json.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "bbs/base/go_duration.h"
#include "bbs/daemon/config_checks.h"

namespace bbs::daemon {
namespace {

// Document order is kept so that, as in Go, the last of several matching keys wins.
using Json = nlohmann::ordered_json;

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

// Go's encoding/json matches a key to a field name case-insensitively when no exact match
// exists; ASCII folding covers every key we know.
bool EqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

enum class DurationRule { kNonNegative, kPositive };

// Reads the keys of one JSON object into fields. Each reader call names a known key; a key that
// is absent or null leaves its field alone. The first problem found is kept. In catalog mode
// (KnownConfigFileKeys) nothing is read: each key named is recorded, and every object is
// entered as if present and empty.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string where, std::string prefix,
               std::vector<std::string>* catalog)
      : object_(object), where_(std::move(where)), prefix_(std::move(prefix)), catalog_(catalog) {}

  const std::string& where() const { return where_; }
  std::vector<std::string>* catalog() const { return catalog_; }

  // The value of `key` if present and not null.
  const Json* Find(std::string_view key) {
    known_.emplace_back(key);
    if (catalog_ != nullptr) {
      catalog_->push_back(prefix_ + std::string(key));
      return nullptr;
    }
    // Go applies every matching key in turn, a null one as a no-op: the last non-null wins.
    const Json* found = nullptr;
    for (const auto& [name, value] : object_.items()) {
      if (!value.is_null() && EqualFold(name, key)) {
        found = &value;
      }
    }
    return found;
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

  // A Go duration string, as upstream's durationjson.Duration.
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

  // Whole seconds as a number (upstream's int field, as BOSH writes it), or a duration string.
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

  // A plain Go time.Duration field: integer nanoseconds.
  void Nanos(std::string_view key, Duration* out) {
    std::int64_t nanos = out->count();
    Int64(key, &nanos, 0, std::numeric_limits<std::int64_t>::max());
    *out = Duration(nanos);
  }

  // lager's TimeFormat: "unix-epoch", "rfc3339", or the same as 0 and 1, quoted or not.
  void TimeFormat(std::string_view key, std::string* out) {
    const Json* value = Find(key);
    if (value == nullptr) {
      return;
    }
    std::string text = value->is_string() ? value->get<std::string>() : value->dump();
    std::optional<std::string> format = CanonicalTimeFormat(text);
    if (!format) {
      return Fail(key, TimeFormatProblem(text));
    }
    *out = *format;
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
    if (catalog_ != nullptr) {
      static const Json kEmpty = Json::object();
      return &kEmpty;
    }
    if (value == nullptr) {
      return nullptr;
    }
    if (!value->is_object()) {
      Fail(key, "want an object, got " + Describe(*value));
      return nullptr;
    }
    return value;
  }

  // Adds a warning for each key of the object that no reader call named, then returns the
  // first problem found, if any.
  Status Finish(std::vector<std::string>* warnings) const {
    for (const auto& [key, value] : object_.items()) {
      bool known = false;
      for (const std::string& name : known_) {
        known = known || EqualFold(key, name);
      }
      if (!known) {
        warnings->push_back(where_ + ": unknown key " + Quote(prefix_ + key) + " ignored" +
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
  std::vector<std::string>* catalog_;
  std::vector<std::string> known_;
  Status error_;
};

// The `loggregator` object: diego-logging-client's Config. Its keys keep their `loggregator_`
// prefix; BatchFlushInterval has no JSON tag, so Go writes it under its field name, in
// nanoseconds.
void ReadLoggregator(ObjectReader& parent, LoggregatorConfig* out,
                     std::vector<std::string>* warnings) {
  const Json* object = parent.Object("loggregator");
  if (object == nullptr) {
    return;
  }
  ObjectReader r(*object, parent.where(), "loggregator.", parent.catalog());
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
  r.Int64("loggregator_batch_max_size", &out->batch_max_size, 0,
          std::numeric_limits<std::int64_t>::max());
  r.Nanos("BatchFlushInterval", &out->batch_flush_interval);
  r.StringList("loggregator_app_metric_exclusion_filter", &out->app_metric_exclusion_filter);
  parent.Merge(r.Finish(warnings));
}

void ReadAdvancedMetrics(ObjectReader& parent, AdvancedMetricsConfig* out,
                         std::vector<std::string>* warnings) {
  const Json* object = parent.Object("advanced_metrics");
  if (object == nullptr) {
    return;
  }
  ObjectReader r(*object, parent.where(), "advanced_metrics.", parent.catalog());
  r.Bool("enabled", &out->enabled);
  if (const Json* routes = r.Object("route_config")) {
    ObjectReader rr(*routes, parent.where(), "advanced_metrics.route_config.", parent.catalog());
    rr.StringList("request_count", &out->request_count_routes);
    rr.StringList("request_latency", &out->request_latency_routes);
    r.Merge(rr.Finish(warnings));
  }
  parent.Merge(r.Finish(warnings));
}

// Applies the keys of a parsed config file to `c`.
Status DecodeConfig(const Json& root, const std::string& where, Config* c, ConfigFileNotes* notes,
                    std::vector<std::string>* catalog) {
  if (!root.is_object()) {
    return ConfigError(where + ": want a JSON object at the top level, got " + Describe(root));
  }
  ObjectReader r(root, where, "", catalog);
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
  if (r.String("database_driver", &c->database_driver, DriverProblem)) {
    notes->driver_set = true;
  }
  if (r.String("database_connection_string", &c->database_connection_string)) {
    notes->connection_string_set = true;
  }
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
  r.TimeFormat("time_format", &c->time_format);
  r.Int("max_data_string_length", &c->max_data_string_length);
  r.Bool("redact_secrets", &c->redact_secrets);
  r.Dur("report_interval", &c->report_interval, kPositive);
  ReadLoggregator(r, &c->loggregator, &notes->warnings);
  ReadAdvancedMetrics(r, &c->advanced_metrics, &notes->warnings);
  r.Bool("locks_locket_enabled", &c->locks_locket_enabled);
  r.Bool("cell_registrations_locket_enabled", &c->cell_registrations_locket_enabled);
  r.Bool("rep_require_tls", &c->rep_require_tls);
  // bbs extensions
  r.Int64("max_request_body_bytes", &c->max_request_body_bytes, 1,
          std::numeric_limits<std::int64_t>::max());
  r.Int("http_worker_threads", &c->http_worker_threads);
  r.Int("max_instances_per_desired_lrp", &c->max_instances_per_desired_lrp, 1);
  r.Int64("event_subscriber_max_bytes", &c->event_subscriber_max_bytes, 1,
          std::numeric_limits<std::int64_t>::max());
  r.Int64("event_resume_max_bytes", &c->event_resume_max_bytes, 1,
          std::numeric_limits<std::int64_t>::max());
  r.String("rep_url_template", &c->rep_url_template);
  r.String("locket_listen_address", &c->locket_listen_address, OptionalHostPortProblem);
  r.String("etcd_root", &c->etcd_root);
  return r.Finish(&notes->warnings);
}

}  // namespace

Status ReadConfigFile(const std::string& path, Config* config, ConfigFileNotes* notes) {
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
  } catch (const Json::exception& e) {
    // parse_error, or out_of_range for a number beyond a double (found by config_fuzz).
    // Drop the "[json.exception.parse_error.101] " tag; keep "parse error at line 3, column 5".
    std::string message = e.what();
    if (size_t tag_end = message.find("] "); tag_end != std::string::npos) {
      message = message.substr(tag_end + 2);
    }
    return ConfigError(where + ": invalid JSON: " + message);
  }
  return DecodeConfig(root, where, config, notes, nullptr);
}

std::vector<std::string> KnownConfigFileKeys() {
  std::vector<std::string> keys;
  Config scratch;
  ConfigFileNotes notes;
  DecodeConfig(Json::object(), "", &scratch, &notes, &keys);
  return keys;
}

}  // namespace bbs::daemon
