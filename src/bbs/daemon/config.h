#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"

namespace bbs::daemon {

// Durations are kept as Go keeps them: whole nanoseconds.
using Duration = std::chrono::nanoseconds;

// The `loggregator` object of the JSON config. Each field is the key with its `loggregator_`
// prefix removed (`loggregator_use_v2_api` -> use_v2_api).
struct LoggregatorConfig {
  bool use_v2_api = false;
  int api_port = 3458;
  std::string ca_path;
  std::string cert_path;
  std::string key_path;
  std::string job_deployment;
  std::string job_name;
  std::string job_index;
  std::string job_ip;
  std::string job_origin = "bbs";
  std::string source_id = "bbs";
  std::string instance_id;
  std::int64_t batch_max_size = 0;                       // loggregator_batch_max_size
  Duration batch_flush_interval{0};                      // BatchFlushInterval (nanoseconds)
  std::vector<std::string> app_metric_exclusion_filter;  // loggregator_app_metric_exclusion_filter

  bool operator==(const LoggregatorConfig&) const = default;
};

// The `advanced_metrics` object: {"enabled": bool, "route_config": {"request_count": [...],
// "request_latency": [...]}} with route names such as "DesireDesiredLRP".
struct AdvancedMetricsConfig {
  bool enabled = false;
  std::vector<std::string> request_count_routes;
  std::vector<std::string> request_latency_routes;

  bool operator==(const AdvancedMetricsConfig&) const = default;
};

// The configuration of the `bbs` daemon: upstream's JSON keys (behavior.md §11), the
// command-line flags of the original BBS, and a few bbs extensions. Every field is named after
// its JSON key and starts at the diego-release BOSH job default, except where a comment says
// "laptop default". A plain value; thread-compatible.
struct Config {
  // --- Flags without a JSON key ---
  std::string config_path;     // -config
  bool help = false;           // -help / -h: print FlagUsage() and exit; nothing else is loaded
  std::string consul_cluster;  // -consulCluster
  std::string etcd_cluster;    // -etcdCluster
  std::string etcd_cert_file;  // -etcdCertFile
  std::string etcd_key_file;   // -etcdKeyFile
  std::string etcd_ca_file;    // -etcdCaFile

  // --- §11.1 Core ---
  std::string listen_address = "127.0.0.1:8889";  // -address; laptop default
  std::string health_address = "127.0.0.1:8890";  // -healthAddress
  std::string debug_address;                      // -debugAddr; laptop default "" = no debug server
  std::string session_name = "bbs";
  std::string uuid;  // laptop default "": the Locket lock owner, required with locket_address
  std::string advertise_url;                                        // unused upstream too
  bool require_ssl = true;                                          // unused upstream too
  Duration desired_lrp_creation_timeout = std::chrono::minutes(1);  // unused upstream too
  std::string access_log_path;

  // --- §11.2 TLS for the API server ---
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  // --- §11.3 Database ---
  std::string database_driver = "sqlite";  // -databaseDriver: sqlite, postgres, mysql or etcd
                                           // (etcd when only -etcdCluster is given)
  // -databaseConnectionString. Laptop default for sqlite; required for the other drivers.
  std::string database_connection_string = "./bbs-data/bbs.db";
  int max_open_database_connections = 200;  // 0 = unlimited
  int max_idle_database_connections = 200;
  Duration max_database_connection_lifetime{0};  // 0 = unlimited
  // For these three an explicit 0 means the default, as upstream.
  Duration db_connection_timeout = std::chrono::minutes(10);
  Duration db_read_timeout = std::chrono::minutes(10);
  Duration db_write_timeout = std::chrono::minutes(10);
  std::string sql_ca_cert_file;
  bool sql_enable_identity_verification = true;
  bool enable_db_health_check = false;
  // For these three an explicit 0 means the default, as upstream.
  Duration health_check_interval = std::chrono::seconds(10);
  Duration health_check_timeout = std::chrono::seconds(5);
  int health_check_failure_threshold = 3;

  // --- §11.4 Convergence, tasks, workers ---
  Duration converge_repeat_interval = std::chrono::seconds(30);
  Duration kick_task_duration = std::chrono::seconds(30);
  Duration expire_pending_task_duration = std::chrono::seconds(1800);
  Duration expire_completed_task_duration = std::chrono::seconds(120);
  int convergence_workers = 20;
  int update_workers = 1000;
  int task_callback_workers = 1000;
  int max_task_retries = 3;
  bool debug_lrp_start_heartbeats = false;

  // --- §11.5 Auctioneer and rep clients ---
  std::string auctioneer_address;  // -auctioneerAddress; laptop default "" = no auctioneer
  std::string auctioneer_ca_cert;
  std::string auctioneer_client_cert;
  std::string auctioneer_client_key;
  bool auctioneer_require_tls = false;
  std::string rep_ca_cert;
  std::string rep_client_cert;
  std::string rep_client_key;
  int rep_client_session_cache_size = 0;
  Duration communication_timeout = std::chrono::seconds(10);

  // --- §11.6 Locket and locking ---
  std::string locket_address;  // laptop default "" = no Locket
  std::string locket_ca_cert_file;
  std::string locket_client_cert_file;
  std::string locket_client_key_file;
  // JSON: whole seconds (as BOSH writes them) or a duration string.
  Duration locket_client_keepalive_time = std::chrono::seconds(10);
  Duration locket_client_keepalive_timeout = std::chrono::seconds(22);
  Duration lock_ttl = std::chrono::seconds(15);
  Duration lock_retry_interval = std::chrono::seconds(5);

  // --- §11.7 Encryption, logging, metrics ---
  std::string active_key_label;                        // -activeKeyLabel
  std::map<std::string, std::string> encryption_keys;  // label -> passphrase; -encryptionKey
  LogLevel log_level = LogLevel::kInfo;                // -logLevel
  std::string time_format = "unix-epoch";              // or "rfc3339"
  int max_data_string_length = 640;                    // 0 = no truncation
  bool redact_secrets = false;
  Duration report_interval = std::chrono::minutes(1);
  LoggregatorConfig loggregator;
  AdvancedMetricsConfig advanced_metrics;
  // Written by the BOSH job, ignored by upstream and by bbs.
  bool locks_locket_enabled = false;
  bool cell_registrations_locket_enabled = false;
  bool rep_require_tls = false;

  // --- bbs extensions (not upstream keys) ---
  std::int64_t max_request_body_bytes = std::int64_t{16} << 20;  // 16 MiB; must be positive
  int http_worker_threads = 0;                                   // 0 = hardware concurrency
  // The most instances one DesireLRP / UpdateDesiredLRP may ask for (docs/reliability.md);
  // must be positive. The default is wire::kMaxInstancesPerDesiredLrp.
  int max_instances_per_desired_lrp = 25000;
  // Unsent SSE bytes an event subscriber may hold before it is dropped as a slow consumer, and
  // the bytes of the Last-Event-ID resume ring (docs/reliability.md). Must be positive.
  std::int64_t event_subscriber_max_bytes = std::int64_t{16} << 20;  // 16 MiB
  std::int64_t event_resume_max_bytes = std::int64_t{64} << 20;      // 64 MiB
  // The rep URL of a cell that no cell registry knows (yet): "{cell_id}" is replaced by the
  // cell id. Empty = such cells are treated as gone.
  std::string rep_url_template;
  // Serve the Locket gRPC API (Lock, Release, Fetch, FetchAll) on this host:port so reps can
  // register their presence with bbs directly. Empty = off.
  std::string locket_listen_address;
  // etcd_root / -etcdRoot: the key prefix of the etcd store and its leader lock; "" = the seed's
  // layout ("/v1/task/<guid>", ...), "/cf" gives "/cf/v1/task/<guid>".
  std::string etcd_root;

  // --- Filled by LoadConfig ---
  // One line per unknown JSON key, naming it (upstream ignores such keys). The daemon logs each.
  std::vector<std::string> warnings;

  // One human sentence for each feature that this configuration asks for but bbs does not
  // build yet (empty when none). The daemon logs them at startup; it does not fail on them.
  std::vector<std::string> NotYetSupported() const;
  // One human sentence for each group of keys set here that bbs accepts and ignores (empty
  // when none): keys upstream ignores too.
  std::vector<std::string> Ignored() const;
};

// What bbs does with an accepted key or flag.
enum class KeyUse {
  kApplied,          // the daemon uses the value
  kNotYetSupported,  // a value other than the default is reported by NotYetSupported()
  kIgnored,          // a value other than the default is reported by Ignored()
};

struct AcceptedKey {
  std::string_view name;  // JSON key (nested ones dotted) or flag ("-name")
  KeyUse use;
  std::string_view reported_as;  // the name the report line uses; "" = `name`
};

// Every JSON key and every flag that LoadConfig accepts, with its use.
const std::vector<AcceptedKey>& AcceptedKeys();

// Builds the configuration from command-line arguments (without argv[0]) and the JSON file
// named by -config, if any. Flags are Go style: `-name=value`, `-name value`, `--name=value`;
// booleans as `-name` or `-name=<bool>`; -encryptionKey may be repeated. A flag wins over the
// file; an absent key keeps its default. An unknown JSON key is skipped with a line in
// `warnings`, as upstream skips it. Fails with a one-line message naming the flag or key on an
// unknown flag, an unreadable or malformed file, a value of the wrong type, or an invalid
// value. When -help is given, returns at once with `help` set and nothing else loaded.
Result<Config> LoadConfig(const std::vector<std::string>& args);
// The same for main()'s arguments; argv[0] is skipped.
Result<Config> LoadConfig(int argc, char** argv);

// The flag reference printed for -help, one flag per entry, Go style.
std::string FlagUsage();

}  // namespace bbs::daemon
