#include "bbs/daemon/config.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/daemon/config_json.h"
#include "bbs/testing/bbs_process.h"

namespace bbs::daemon {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// The error message of `result`, or "<ok>" so that a wrong success reads clearly.
template <typename T>
std::string ErrorOf(const Result<T>& result) {
  return result.ok() ? "<ok>" : result.status().message();
}

class ConfigTest : public ::testing::Test {
 protected:
  // Writes `json` to a fresh file and returns its path.
  std::string File(const std::string& json) {
    std::string path = dir_.path() + "/bbs" + std::to_string(files_++) + ".json";
    std::ofstream(path) << json;
    return path;
  }

  // LoadConfig with "-config <file holding json>" followed by `flags`.
  Result<Config> LoadWithFile(const std::string& json, std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {"-config", File(json)};
    args.insert(args.end(), flags.begin(), flags.end());
    return LoadConfig(args);
  }

  testing::TempDir dir_;
  int files_ = 0;
};

// --- Defaults ----------------------------------------------------------------------------------

TEST_F(ConfigTest, NoArgumentsGiveTheBoshDefaultsAndTheLaptopShape) {
  Result<Config> loaded = LoadConfig(std::vector<std::string>{});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  const Config& c = *loaded;
  EXPECT_EQ(c.listen_address, "127.0.0.1:8889");
  EXPECT_EQ(c.health_address, "127.0.0.1:8890");
  EXPECT_EQ(c.debug_address, "");
  EXPECT_EQ(c.session_name, "bbs");
  EXPECT_EQ(c.uuid, "");
  EXPECT_EQ(c.database_driver, "sqlite");
  EXPECT_EQ(c.database_connection_string, "./bbs-data/bbs.db");
  EXPECT_EQ(c.auctioneer_address, "");
  EXPECT_EQ(c.converge_repeat_interval, seconds(30));
  EXPECT_EQ(c.kick_task_duration, seconds(30));
  EXPECT_EQ(c.expire_pending_task_duration, seconds(1800));
  EXPECT_EQ(c.expire_completed_task_duration, seconds(120));
  EXPECT_EQ(c.convergence_workers, 20);
  EXPECT_EQ(c.update_workers, 1000);
  EXPECT_EQ(c.task_callback_workers, 1000);
  EXPECT_EQ(c.max_task_retries, 3);
  EXPECT_EQ(c.communication_timeout, seconds(10));
  EXPECT_EQ(c.lock_ttl, seconds(15));
  EXPECT_EQ(c.lock_retry_interval, seconds(5));
  EXPECT_EQ(c.report_interval, minutes(1));
  EXPECT_EQ(c.db_connection_timeout, minutes(10));
  EXPECT_EQ(c.db_read_timeout, minutes(10));
  EXPECT_EQ(c.db_write_timeout, minutes(10));
  EXPECT_EQ(c.max_open_database_connections, 200);
  EXPECT_EQ(c.max_idle_database_connections, 200);
  EXPECT_EQ(c.health_check_interval, seconds(10));
  EXPECT_EQ(c.health_check_timeout, seconds(5));
  EXPECT_EQ(c.health_check_failure_threshold, 3);
  EXPECT_EQ(c.locket_client_keepalive_time, seconds(10));
  EXPECT_EQ(c.locket_client_keepalive_timeout, seconds(22));
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.time_format, "unix-epoch");
  EXPECT_EQ(c.max_data_string_length, 640);
  EXPECT_TRUE(c.require_ssl);
  EXPECT_TRUE(c.sql_enable_identity_verification);
  EXPECT_FALSE(c.auctioneer_require_tls);
  EXPECT_EQ(c.loggregator.api_port, 3458);
  EXPECT_EQ(c.loggregator.job_origin, "bbs");
  EXPECT_EQ(c.loggregator.source_id, "bbs");
  EXPECT_FALSE(c.advanced_metrics.enabled);
  EXPECT_EQ(c.max_request_body_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(c.http_worker_threads, 0);
  EXPECT_EQ(c.max_instances_per_desired_lrp, 25000);
  EXPECT_EQ(c.event_subscriber_max_bytes, 16 * 1024 * 1024);
  EXPECT_EQ(c.event_resume_max_bytes, 64 * 1024 * 1024);
  EXPECT_FALSE(c.help);
  EXPECT_THAT(c.NotYetSupported(), IsEmpty());
}

TEST_F(ConfigTest, AnEmptyFileKeepsEveryDefault) {
  Result<Config> loaded = LoadWithFile("{}");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->converge_repeat_interval, seconds(30));
  EXPECT_EQ(loaded->listen_address, "127.0.0.1:8889");
}

TEST_F(ConfigTest, ANullValueKeepsTheDefaultAsInGo) {
  Result<Config> loaded = LoadWithFile(R"({"convergence_workers": null, "log_level": null})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->convergence_workers, 20);
  EXPECT_EQ(loaded->log_level, LogLevel::kInfo);
}

TEST_F(ConfigTest, AnExplicitZeroInTheDatabaseTimeoutsMeansTheDefault) {
  Result<Config> loaded = LoadWithFile(R"({"db_connection_timeout": "0", "db_read_timeout": "0s",
      "db_write_timeout": "0", "health_check_interval": "0", "health_check_timeout": "0",
      "health_check_failure_threshold": 0, "convergence_workers": 0})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->db_connection_timeout, minutes(10));
  EXPECT_EQ(loaded->db_read_timeout, minutes(10));
  EXPECT_EQ(loaded->db_write_timeout, minutes(10));
  EXPECT_EQ(loaded->health_check_interval, seconds(10));
  EXPECT_EQ(loaded->health_check_timeout, seconds(5));
  EXPECT_EQ(loaded->health_check_failure_threshold, 3);
  EXPECT_EQ(loaded->convergence_workers, 0);  // a real zero: convergence actions are skipped
}

// --- The file ----------------------------------------------------------------------------------

TEST_F(ConfigTest, EveryUpstreamKeyIsReadFromTheFile) {
  Result<Config> loaded = LoadWithFile(R"({
    "listen_address": "0.0.0.0:8889", "health_address": "0.0.0.0:8890",
    "debug_address": "127.0.0.1:17017", "session_name": "bbs-z1", "uuid": "instance-1",
    "advertise_url": "https://bbs-0.bbs.service.cf.internal:8889", "require_ssl": false,
    "desired_lrp_creation_timeout": "2m", "access_log_path": "/var/log/bbs.access.log",
    "ca_file": "/certs/ca.crt", "cert_file": "/certs/server.crt", "key_file": "/certs/server.key",
    "database_driver": "postgres", "database_connection_string": "postgres://u:p@db:5432/diego",
    "max_open_database_connections": 50, "max_idle_database_connections": 10,
    "max_database_connection_lifetime": "1h", "db_connection_timeout": "20s",
    "db_read_timeout": "21s", "db_write_timeout": "22s", "sql_ca_cert_file": "/certs/sql.crt",
    "sql_enable_identity_verification": false, "enable_db_health_check": true,
    "health_check_interval": "11s", "health_check_timeout": "6s",
    "health_check_failure_threshold": 4,
    "converge_repeat_interval": "31s", "kick_task_duration": "32s",
    "expire_pending_task_duration": "33m", "expire_completed_task_duration": "34s",
    "convergence_workers": 21, "update_workers": 22, "task_callback_workers": 23,
    "max_task_retries": 5, "debug_lrp_start_heartbeats": true,
    "auctioneer_address": "https://auctioneer.service.cf.internal:9016",
    "auctioneer_ca_cert": "/a/ca", "auctioneer_client_cert": "/a/crt",
    "auctioneer_client_key": "/a/key", "auctioneer_require_tls": true,
    "rep_ca_cert": "/r/ca", "rep_client_cert": "/r/crt", "rep_client_key": "/r/key",
    "rep_client_session_cache_size": 64, "communication_timeout": "12s",
    "locket_address": "locket.service.cf.internal:8891", "locket_ca_cert_file": "/l/ca",
    "locket_client_cert_file": "/l/crt", "locket_client_key_file": "/l/key",
    "locket_client_keepalive_time": 11, "locket_client_keepalive_timeout": "23s",
    "lock_ttl": "16s", "lock_retry_interval": "6s",
    "active_key_label": "k2", "encryption_keys": {"k1": "one", "k2": "two"},
    "log_level": "debug", "time_format": "rfc3339", "max_data_string_length": 0,
    "redact_secrets": true, "report_interval": "2m",
    "loggregator": {"loggregator_use_v2_api": true, "loggregator_api_port": 3459,
      "loggregator_ca_path": "/g/ca", "loggregator_cert_path": "/g/crt",
      "loggregator_key_path": "/g/key", "loggregator_job_deployment": "cf",
      "loggregator_job_name": "diego-api", "loggregator_job_index": "abc",
      "loggregator_job_ip": "10.0.0.1", "loggregator_job_origin": "bbs-o",
      "loggregator_source_id": "bbs-s", "loggregator_instance_id": "abc"},
    "advanced_metrics": {"enabled": true, "route_config": {
      "request_count": ["DesireDesiredLRP"], "request_latency": ["StartActualLRP", "Tasks"]}},
    "locks_locket_enabled": true, "cell_registrations_locket_enabled": true,
    "rep_require_tls": true,
    "max_request_body_bytes": 1048576, "http_worker_threads": 4,
    "max_instances_per_desired_lrp": 500,
    "event_subscriber_max_bytes": 1048576, "event_resume_max_bytes": 2097152
  })");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  const Config& c = *loaded;
  EXPECT_EQ(c.listen_address, "0.0.0.0:8889");
  EXPECT_EQ(c.health_address, "0.0.0.0:8890");
  EXPECT_EQ(c.debug_address, "127.0.0.1:17017");
  EXPECT_EQ(c.session_name, "bbs-z1");
  EXPECT_EQ(c.uuid, "instance-1");
  EXPECT_EQ(c.advertise_url, "https://bbs-0.bbs.service.cf.internal:8889");
  EXPECT_FALSE(c.require_ssl);
  EXPECT_EQ(c.desired_lrp_creation_timeout, minutes(2));
  EXPECT_EQ(c.access_log_path, "/var/log/bbs.access.log");
  EXPECT_EQ(c.ca_file, "/certs/ca.crt");
  EXPECT_EQ(c.cert_file, "/certs/server.crt");
  EXPECT_EQ(c.key_file, "/certs/server.key");
  EXPECT_EQ(c.database_driver, "postgres");
  EXPECT_EQ(c.database_connection_string, "postgres://u:p@db:5432/diego");
  EXPECT_EQ(c.max_open_database_connections, 50);
  EXPECT_EQ(c.max_idle_database_connections, 10);
  EXPECT_EQ(c.max_database_connection_lifetime, hours(1));
  EXPECT_EQ(c.db_connection_timeout, seconds(20));
  EXPECT_EQ(c.db_read_timeout, seconds(21));
  EXPECT_EQ(c.db_write_timeout, seconds(22));
  EXPECT_EQ(c.sql_ca_cert_file, "/certs/sql.crt");
  EXPECT_FALSE(c.sql_enable_identity_verification);
  EXPECT_TRUE(c.enable_db_health_check);
  EXPECT_EQ(c.health_check_interval, seconds(11));
  EXPECT_EQ(c.health_check_timeout, seconds(6));
  EXPECT_EQ(c.health_check_failure_threshold, 4);
  EXPECT_EQ(c.converge_repeat_interval, seconds(31));
  EXPECT_EQ(c.kick_task_duration, seconds(32));
  EXPECT_EQ(c.expire_pending_task_duration, minutes(33));
  EXPECT_EQ(c.expire_completed_task_duration, seconds(34));
  EXPECT_EQ(c.convergence_workers, 21);
  EXPECT_EQ(c.update_workers, 22);
  EXPECT_EQ(c.task_callback_workers, 23);
  EXPECT_EQ(c.max_task_retries, 5);
  EXPECT_TRUE(c.debug_lrp_start_heartbeats);
  EXPECT_EQ(c.auctioneer_address, "https://auctioneer.service.cf.internal:9016");
  EXPECT_EQ(c.auctioneer_ca_cert, "/a/ca");
  EXPECT_EQ(c.auctioneer_client_cert, "/a/crt");
  EXPECT_EQ(c.auctioneer_client_key, "/a/key");
  EXPECT_TRUE(c.auctioneer_require_tls);
  EXPECT_EQ(c.rep_ca_cert, "/r/ca");
  EXPECT_EQ(c.rep_client_cert, "/r/crt");
  EXPECT_EQ(c.rep_client_key, "/r/key");
  EXPECT_EQ(c.rep_client_session_cache_size, 64);
  EXPECT_EQ(c.communication_timeout, seconds(12));
  EXPECT_EQ(c.locket_address, "locket.service.cf.internal:8891");
  EXPECT_EQ(c.locket_ca_cert_file, "/l/ca");
  EXPECT_EQ(c.locket_client_cert_file, "/l/crt");
  EXPECT_EQ(c.locket_client_key_file, "/l/key");
  EXPECT_EQ(c.locket_client_keepalive_time, seconds(11));
  EXPECT_EQ(c.locket_client_keepalive_timeout, seconds(23));
  EXPECT_EQ(c.lock_ttl, seconds(16));
  EXPECT_EQ(c.lock_retry_interval, seconds(6));
  EXPECT_EQ(c.active_key_label, "k2");
  EXPECT_EQ(c.encryption_keys, (std::map<std::string, std::string>{{"k1", "one"}, {"k2", "two"}}));
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.time_format, "rfc3339");
  EXPECT_EQ(c.max_data_string_length, 0);
  EXPECT_TRUE(c.redact_secrets);
  EXPECT_EQ(c.report_interval, minutes(2));
  EXPECT_TRUE(c.loggregator.use_v2_api);
  EXPECT_EQ(c.loggregator.api_port, 3459);
  EXPECT_EQ(c.loggregator.ca_path, "/g/ca");
  EXPECT_EQ(c.loggregator.cert_path, "/g/crt");
  EXPECT_EQ(c.loggregator.key_path, "/g/key");
  EXPECT_EQ(c.loggregator.job_deployment, "cf");
  EXPECT_EQ(c.loggregator.job_name, "diego-api");
  EXPECT_EQ(c.loggregator.job_index, "abc");
  EXPECT_EQ(c.loggregator.job_ip, "10.0.0.1");
  EXPECT_EQ(c.loggregator.job_origin, "bbs-o");
  EXPECT_EQ(c.loggregator.source_id, "bbs-s");
  EXPECT_EQ(c.loggregator.instance_id, "abc");
  EXPECT_TRUE(c.advanced_metrics.enabled);
  EXPECT_THAT(c.advanced_metrics.request_count_routes, ElementsAre("DesireDesiredLRP"));
  EXPECT_THAT(c.advanced_metrics.request_latency_routes, ElementsAre("StartActualLRP", "Tasks"));
  EXPECT_EQ(c.max_request_body_bytes, 1048576);
  EXPECT_EQ(c.http_worker_threads, 4);
  EXPECT_EQ(c.max_instances_per_desired_lrp, 500);
  EXPECT_EQ(c.event_subscriber_max_bytes, 1048576);
  EXPECT_EQ(c.event_resume_max_bytes, 2097152);
}

TEST_F(ConfigTest, LocketKeepaliveTakesWholeSecondsOrADurationString) {
  Result<Config> loaded = LoadWithFile(
      R"({"locket_client_keepalive_time": "1500ms", "locket_client_keepalive_timeout": 30})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->locket_client_keepalive_time, milliseconds(1500));
  EXPECT_EQ(loaded->locket_client_keepalive_timeout, seconds(30));
}

// --- Flags -------------------------------------------------------------------------------------

TEST_F(ConfigTest, EveryFlagSetsItsField) {
  Result<Config> loaded = LoadConfig(std::vector<std::string>{
      "-address=0.0.0.0:1", "-healthAddress=0.0.0.0:2", "-debugAddr=0.0.0.0:3",
      "-auctioneerAddress=http://auctioneer:9016", "-logLevel=error", "-databaseDriver=etcd",
      "-databaseConnectionString=https://etcd:2379", "-etcdCluster=https://etcd:4001",
      "-etcdCertFile=/e/crt", "-etcdKeyFile=/e/key", "-etcdCaFile=/e/ca", "-etcdRoot=/cf",
      "-consulCluster=http://127.0.0.1:8500"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  const Config& c = *loaded;
  EXPECT_EQ(c.listen_address, "0.0.0.0:1");
  EXPECT_EQ(c.health_address, "0.0.0.0:2");
  EXPECT_EQ(c.debug_address, "0.0.0.0:3");
  EXPECT_EQ(c.auctioneer_address, "http://auctioneer:9016");
  EXPECT_EQ(c.log_level, LogLevel::kError);
  EXPECT_EQ(c.database_driver, "etcd");
  EXPECT_EQ(c.database_connection_string, "https://etcd:2379");
  EXPECT_EQ(c.etcd_cluster, "https://etcd:4001");
  EXPECT_EQ(c.etcd_cert_file, "/e/crt");
  EXPECT_EQ(c.etcd_key_file, "/e/key");
  EXPECT_EQ(c.etcd_ca_file, "/e/ca");
  EXPECT_EQ(c.etcd_root, "/cf");
  EXPECT_EQ(c.consul_cluster, "http://127.0.0.1:8500");
  EXPECT_EQ(c.config_path, "");
}

TEST_F(ConfigTest, EtcdRootComesFromTheFileAndTheFlagWins) {
  Result<Config> defaulted = LoadWithFile("{}");
  ASSERT_TRUE(defaulted.ok()) << ErrorOf(defaulted);
  EXPECT_EQ(defaulted->etcd_root, "");
  Result<Config> file = LoadWithFile(R"({"etcd_root": "/cf"})");
  ASSERT_TRUE(file.ok()) << ErrorOf(file);
  EXPECT_EQ(file->etcd_root, "/cf");
  Result<Config> flag = LoadWithFile(R"({"etcd_root": "/cf"})", {"-etcdRoot=/other"});
  ASSERT_TRUE(flag.ok()) << ErrorOf(flag);
  EXPECT_EQ(flag->etcd_root, "/other");
}

TEST_F(ConfigTest, FlagsAcceptEveryGoSpelling) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"-logLevel=debug"},
           {"-logLevel", "debug"},
           {"--logLevel=debug"},
           {"--logLevel", "debug"},
       }) {
    Result<Config> loaded = LoadConfig(args);
    ASSERT_TRUE(loaded.ok()) << args[0] << ": " << ErrorOf(loaded);
    EXPECT_EQ(loaded->log_level, LogLevel::kDebug) << args[0];
  }
}

TEST_F(ConfigTest, AFlagValueMayStartWithADashOrBeEmpty) {
  Result<Config> loaded =
      LoadConfig(std::vector<std::string>{"-databaseConnectionString", "-odd=name", "-debugAddr="});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->database_connection_string, "-odd=name");
  EXPECT_EQ(loaded->debug_address, "");
}

TEST_F(ConfigTest, TheLastOfARepeatedFlagWins) {
  Result<Config> loaded =
      LoadConfig(std::vector<std::string>{"-logLevel=debug", "-logLevel=fatal"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->log_level, LogLevel::kFatal);
}

TEST_F(ConfigTest, HelpIsABooleanFlagAndSkipsEverythingElse) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"-help"},
                                             {"--help"},
                                             {"-h"},
                                             {"-help=true"},
                                             {"-help=1"},
                                             {"-help", "-config=/does/not/exist"}}) {
    Result<Config> loaded = LoadConfig(args);
    ASSERT_TRUE(loaded.ok()) << args[0] << ": " << ErrorOf(loaded);
    EXPECT_TRUE(loaded->help) << args[0];
  }
  Result<Config> off = LoadConfig(std::vector<std::string>{"-help=false"});
  ASSERT_TRUE(off.ok()) << ErrorOf(off);
  EXPECT_FALSE(off->help);
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"-help=maybe"})),
              HasSubstr("flag -help: want a boolean"));
}

TEST_F(ConfigTest, FlagUsageListsEveryFlagGoStyle) {
  std::string usage = FlagUsage();
  for (const char* flag :
       {"-config", "-address", "-healthAddress", "-debugAddr", "-auctioneerAddress", "-logLevel",
        "-databaseDriver", "-databaseConnectionString", "-etcdCluster", "-etcdCertFile",
        "-etcdKeyFile", "-etcdCaFile", "-etcdRoot", "-consulCluster"}) {
    EXPECT_THAT(usage, HasSubstr("\n  " + std::string(flag) + " string\n")) << flag;
  }
  EXPECT_THAT(usage, HasSubstr("\n  -help\n"));
}

TEST_F(ConfigTest, LoadConfigFromMainArgumentsSkipsTheProgramName) {
  std::string program = "bbs";
  std::string flag = "-logLevel=fatal";
  char* argv[] = {program.data(), flag.data(), nullptr};
  Result<Config> loaded = LoadConfig(2, argv);
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->log_level, LogLevel::kFatal);
}

// --- File and flags together -------------------------------------------------------------------

TEST_F(ConfigTest, AFlagWinsOverTheFileWhateverTheOrder) {
  const std::string json = R"({"listen_address": "0.0.0.0:8889", "log_level": "debug",
      "database_driver": "postgres", "database_connection_string": "postgres://db/diego",
      "convergence_workers": 7})";
  std::string path = File(json);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"-config", path, "-address=10.0.0.1:1", "-logLevel=error", "-databaseDriver=sqlite",
            "-databaseConnectionString=/tmp/x.db"},
           {"-address=10.0.0.1:1", "-logLevel=error", "-databaseDriver=sqlite",
            "-databaseConnectionString=/tmp/x.db", "-config=" + path}}) {
    Result<Config> loaded = LoadConfig(args);
    ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
    EXPECT_EQ(loaded->listen_address, "10.0.0.1:1");
    EXPECT_EQ(loaded->log_level, LogLevel::kError);
    EXPECT_EQ(loaded->database_driver, "sqlite");
    EXPECT_EQ(loaded->database_connection_string, "/tmp/x.db");
    EXPECT_EQ(loaded->convergence_workers, 7);  // from the file: no flag for it
    EXPECT_EQ(loaded->config_path, path);
  }
}

TEST_F(ConfigTest, AFlagRepairsNothingInABadFile) {
  // The file is checked on its own, so a bad key is reported even when a flag would override it.
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"log_level": "loud"})", {"-logLevel=info"})),
              HasSubstr("key \"log_level\""));
}

// --- Errors ------------------------------------------------------------------------------------

TEST_F(ConfigTest, AnUnknownFlagIsAnErrorWithASuggestion) {
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-loglevel=debug"})),
            "unknown flag -loglevel (did you mean -logLevel?)");
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"--frobnicate"})),
            "unknown flag -frobnicate");
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-listen_address=0.0.0.0:1"})),
            "unknown flag -listen_address");
}

TEST_F(ConfigTest, MalformedArgumentsAreErrors) {
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-logLevel"})),
            "flag -logLevel needs a value");
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"serve"})),
              HasSubstr("unexpected argument \"serve\""));
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"-logLevel=info", "--", "x"})),
              HasSubstr("unexpected argument \"x\""));
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"---address=x"})),
            "bad flag syntax: \"---address=x\"");
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-=x"})), "bad flag syntax: \"-=x\"");
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"-"})),
              HasSubstr("unexpected argument \"-\""));
}

TEST_F(ConfigTest, AnUnknownKeyIsAWarningNamingItWithASuggestion) {
  std::string path = File(R"({"listen_adress": "0.0.0.0:8889", "log_level": "debug"})");
  Result<Config> loaded = LoadConfig(std::vector<std::string>{"-config", path});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->log_level, LogLevel::kDebug);  // the rest of the file still applies
  EXPECT_EQ(loaded->listen_address, "127.0.0.1:8889");
  EXPECT_THAT(loaded->warnings,
              ElementsAre("config file \"" + path +
                          "\": unknown key \"listen_adress\" ignored (did you mean "
                          "listen_address?)"));

  Result<Config> camel = LoadWithFile(R"({"listenAddress": "0.0.0.0:8889", "zzz": 1})");
  ASSERT_TRUE(camel.ok()) << ErrorOf(camel);
  EXPECT_THAT(camel->warnings,
              ElementsAre(HasSubstr("unknown key \"listenAddress\" ignored (did you mean "
                                    "listen_address?)"),
                          EndsWith("unknown key \"zzz\" ignored")));
}

TEST_F(ConfigTest, AnUnknownNestedKeyIsAWarningNamingItsPath) {
  Result<Config> loaded = LoadWithFile(
      R"({"loggregator": {"loggregator_api_prot": 1, "loggregator_api_port": 3459},
          "advanced_metrics": {"route_config": {"request_counts": []}}})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->loggregator.api_port, 3459);
  EXPECT_THAT(loaded->warnings,
              ElementsAre(HasSubstr("unknown key \"loggregator.loggregator_api_prot\" ignored "
                                    "(did you mean loggregator.loggregator_api_port?)"),
                          HasSubstr("unknown key \"advanced_metrics.route_config.request_counts\" "
                                    "ignored")));
}

TEST_F(ConfigTest, NoWarningsWhenEveryKeyIsKnown) {
  Result<Config> loaded = LoadWithFile(R"({"log_level": "debug", "loggregator": {}})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->warnings, IsEmpty());
}

TEST_F(ConfigTest, ABadValueOfAKnownKeyIsStillAnErrorNextToUnknownKeys) {
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"zzz": 1, "log_level": "loud"})")),
              HasSubstr(R"(key "log_level": want one of debug, info, error, fatal; got "loud")"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"loggregator": {"zzz": 1, "loggregator_api_port": "x"}})")),
              HasSubstr(R"(key "loggregator.loggregator_api_port": want an integer)"));
}

// Upstream's test tooling marshals its Go config struct: the loggregator object then carries
// the untagged field BatchFlushInterval (integer nanoseconds) and the batching keys.
TEST_F(ConfigTest, TheLoggregatorObjectTakesEveryKeyOfUpstreamsGoStruct) {
  Result<Config> loaded = LoadWithFile(R"({"loggregator": {
      "loggregator_use_v2_api": false, "loggregator_api_port": 0, "loggregator_ca_path": "",
      "loggregator_cert_path": "", "loggregator_key_path": "", "loggregator_job_deployment": "",
      "loggregator_job_name": "", "loggregator_job_index": "", "loggregator_job_ip": "",
      "loggregator_job_origin": "", "loggregator_source_id": "", "loggregator_instance_id": "",
      "loggregator_batch_max_size": 100, "BatchFlushInterval": 50000000,
      "loggregator_app_metric_exclusion_filter": ["cpu", "disk"]}})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->warnings, IsEmpty());
  EXPECT_EQ(loaded->loggregator.batch_max_size, 100);
  EXPECT_EQ(loaded->loggregator.batch_flush_interval, milliseconds(50));
  EXPECT_THAT(loaded->loggregator.app_metric_exclusion_filter, ElementsAre("cpu", "disk"));
  EXPECT_EQ(loaded->loggregator.api_port, 0);

  Result<Config> nulls = LoadWithFile(
      R"({"loggregator": {"BatchFlushInterval": 0, "loggregator_app_metric_exclusion_filter": null}})");
  ASSERT_TRUE(nulls.ok()) << ErrorOf(nulls);
  EXPECT_THAT(nulls->warnings, IsEmpty());

  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"loggregator": {"BatchFlushInterval": "1s"}})")),
              HasSubstr(R"(key "loggregator.BatchFlushInterval": want an integer, got string)"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"loggregator": {"BatchFlushInterval": -1}})")),
              HasSubstr(R"(key "loggregator.BatchFlushInterval": must not be negative)"));
}

// The shape json.Marshal gives upstream's BBSConfig in its own test suite: Go's duration
// strings ("1m0s"), every loggregator field including the untagged one, nulls for nil slices.
TEST_F(ConfigTest, AConfigAsUpstreamsGoTestToolingWritesItLoadsWithoutWarnings) {
  Result<Config> loaded = LoadWithFile(R"({
    "auctioneer_address": "http://127.0.0.1:45000", "uuid": "bbs-bosh-boshy-bosh-bosh",
    "communication_timeout": "10s", "converge_repeat_interval": "1m0s",
    "convergence_workers": 20, "database_connection_string": "postgres://u:p@localhost/diego",
    "database_driver": "postgres", "desired_lrp_creation_timeout": "1m0s",
    "expire_completed_task_duration": "2m0s", "expire_pending_task_duration": "30m0s",
    "health_address": "127.0.0.1:45001", "kick_task_duration": "30s",
    "listen_address": "127.0.0.1:45002", "lock_retry_interval": "1s", "lock_ttl": "15s",
    "max_idle_database_connections": 200, "max_open_database_connections": 200,
    "report_interval": "10ms", "require_ssl": true, "session_name": "bbs",
    "task_callback_workers": 1000, "update_workers": 1000,
    "loggregator": {"loggregator_use_v2_api": true, "loggregator_api_port": 45003,
      "loggregator_ca_path": "/f/ca.crt", "loggregator_cert_path": "/f/client.crt",
      "loggregator_key_path": "/f/client.key", "loggregator_job_deployment": "",
      "loggregator_job_name": "", "loggregator_job_index": "", "loggregator_job_ip": "",
      "loggregator_job_origin": "", "loggregator_source_id": "", "loggregator_instance_id": "",
      "loggregator_batch_max_size": 0, "BatchFlushInterval": 0,
      "loggregator_app_metric_exclusion_filter": null},
    "advanced_metrics": {"enabled": false,
      "route_config": {"request_count": null, "request_latency": null}},
    "debug_address": "127.0.0.1:45004", "active_key_label": "label",
    "encryption_keys": {"label": "passphrase"}, "log_level": "debug",
    "time_format": "unix-epoch", "max_data_string_length": 0,
    "locket_address": "127.0.0.1:45005", "locket_ca_cert_file": "/f/ca.crt",
    "locket_client_cert_file": "/f/client.crt", "locket_client_key_file": "/f/client.key"
  })");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->warnings, IsEmpty());
  EXPECT_EQ(loaded->converge_repeat_interval, minutes(1));
  EXPECT_EQ(loaded->report_interval, milliseconds(10));
  EXPECT_EQ(loaded->loggregator.api_port, 45003);
}

TEST_F(ConfigTest, KeysMatchCaseInsensitivelyAndTheLastMatchWinsAsInGo) {
  Result<Config> loaded = LoadWithFile(
      R"({"LOG_LEVEL": "debug", "Listen_Address": "0.0.0.0:1",
          "loggregator": {"batchflushinterval": 7}, "convergence_workers": 3,
          "CONVERGENCE_WORKERS": 4, "task_callback_workers": 9, "Task_Callback_Workers": null})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->warnings, IsEmpty());
  EXPECT_EQ(loaded->log_level, LogLevel::kDebug);
  EXPECT_EQ(loaded->listen_address, "0.0.0.0:1");
  EXPECT_EQ(loaded->loggregator.batch_flush_interval, nanoseconds(7));
  EXPECT_EQ(loaded->convergence_workers, 4);
  EXPECT_EQ(loaded->task_callback_workers, 9);  // a later null is a no-op
}

TEST_F(ConfigTest, TimeFormatTakesLagersNumericFormsToo) {
  for (const char* json : {R"({"time_format": 1})", R"({"time_format": "1"})"}) {
    Result<Config> loaded = LoadWithFile(json);
    ASSERT_TRUE(loaded.ok()) << json << ": " << ErrorOf(loaded);
    EXPECT_EQ(loaded->time_format, "rfc3339") << json;
  }
  for (const char* json : {R"({"time_format": 0})", R"({"time_format": "0"})"}) {
    Result<Config> loaded = LoadWithFile(json);
    ASSERT_TRUE(loaded.ok()) << json << ": " << ErrorOf(loaded);
    EXPECT_EQ(loaded->time_format, "unix-epoch") << json;
  }
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"time_format": 2})")),
              HasSubstr(R"(key "time_format": want "unix-epoch" or "rfc3339", got "2")"));
}

TEST_F(ConfigTest, AFileThatCannotBeReadIsAnError) {
  std::string missing = dir_.path() + "/missing.json";
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-config=" + missing})),
            "cannot read config file \"" + missing + "\": No such file or directory");
}

TEST_F(ConfigTest, MalformedJsonIsAnErrorWithItsPosition) {
  std::string message = ErrorOf(LoadWithFile("{\n  \"log_level\": \"info\",\n}"));
  EXPECT_THAT(message, HasSubstr("invalid JSON: parse error at line 3"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST_F(ConfigTest, TheTopLevelMustBeAnObject) {
  EXPECT_THAT(ErrorOf(LoadWithFile("[1, 2]")),
              HasSubstr("want a JSON object at the top level, got an array"));
  EXPECT_THAT(ErrorOf(LoadWithFile("\"x\"")),
              HasSubstr("want a JSON object at the top level, got string \"x\""));
}

TEST_F(ConfigTest, AValueOfTheWrongTypeIsAnErrorNamingTheKey) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"convergence_workers": "20"})",
            R"(key "convergence_workers": want an integer, got string "20")"},
           {R"({"convergence_workers": 20.5})",
            R"(key "convergence_workers": want an integer, got number 20.5)"},
           {R"({"listen_address": 8889})", R"(key "listen_address": want a string, got number)"},
           {R"({"require_ssl": "true"})", R"(key "require_ssl": want true or false)"},
           {R"({"converge_repeat_interval": 30})",
            R"(key "converge_repeat_interval": want a duration string like "30s", got number 30)"},
           {R"({"encryption_keys": ["a"]})", R"(key "encryption_keys": want an object)"},
           {R"({"encryption_keys": {"a": 1}})", R"(key "encryption_keys": want string values)"},
           {R"({"loggregator": true})", R"(key "loggregator": want an object)"},
           {R"({"advanced_metrics": {"route_config": {"request_count": [1]}}})",
            R"(key "advanced_metrics.route_config.request_count": want an array of strings)"},
           {R"({"max_task_retries": 3000000000})",
            R"(key "max_task_retries": must be from 0 to 2147483647, got 3000000000)"},
           {R"({"loggregator": {"loggregator_api_port": 70000}})",
            R"(key "loggregator.loggregator_api_port": must be from 0 to 65535, got 70000)"},
           {R"({"max_request_body_bytes": 0})",
            R"(key "max_request_body_bytes": must be from 1 to)"},
           {R"({"max_instances_per_desired_lrp": 0})",
            R"(key "max_instances_per_desired_lrp": must be from 1 to)"},
           {R"({"event_subscriber_max_bytes": 0})",
            R"(key "event_subscriber_max_bytes": must be from 1 to)"},
       }) {
    EXPECT_THAT(ErrorOf(LoadWithFile(c.json)), HasSubstr(c.message)) << c.json;
  }
}

TEST_F(ConfigTest, AnUnparseableDurationIsAnErrorNamingTheKey) {
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"kick_task_duration": "30"})")),
              HasSubstr(R"(key "kick_task_duration": invalid duration "30": missing unit)"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"report_interval": "1 minute"})")),
              HasSubstr(R"(key "report_interval": invalid duration "1 minute")"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"kick_task_duration": "-5s"})")),
              HasSubstr(R"(key "kick_task_duration": must not be negative, got "-5s")"));
}

TEST_F(ConfigTest, PeriodsThatCannotBeZeroRejectZero) {
  for (const char* key :
       {"converge_repeat_interval", "report_interval", "lock_ttl", "lock_retry_interval"}) {
    EXPECT_THAT(ErrorOf(LoadWithFile("{\"" + std::string(key) + "\": \"0s\"}")),
                HasSubstr("key \"" + std::string(key) + "\": must be greater than zero"));
  }
}

TEST_F(ConfigTest, NegativeCountsAreErrors) {
  for (const char* key :
       {"convergence_workers", "update_workers", "task_callback_workers", "max_task_retries",
        "max_open_database_connections", "max_idle_database_connections",
        "rep_client_session_cache_size", "max_data_string_length", "http_worker_threads",
        "health_check_failure_threshold"}) {
    EXPECT_THAT(ErrorOf(LoadWithFile("{\"" + std::string(key) + "\": -1}")),
                HasSubstr("key \"" + std::string(key) + "\": must not be negative, got -1"));
  }
}

TEST_F(ConfigTest, ABadLogLevelIsAnError) {
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-logLevel=verbose"})),
            "flag -logLevel: want one of debug, info, error, fatal; got \"verbose\"");
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"log_level": "INFO"})")),
              HasSubstr(R"(key "log_level": want one of debug, info, error, fatal; got "INFO")"));
}

TEST_F(ConfigTest, AddressesMustBeHostAndNumericPort) {
  for (const char* good :
       {"127.0.0.1:8889", "0.0.0.0:0", ":8889", "localhost:65535", "[::1]:8889", "[::]:1"}) {
    Result<Config> loaded = LoadConfig(std::vector<std::string>{std::string("-address=") + good});
    EXPECT_TRUE(loaded.ok()) << good << ": " << ErrorOf(loaded);
  }
  for (const char* bad : {"", "localhost", "127.0.0.1:http", "127.0.0.1:", "1.2.3.4:65536",
                          "::1:8889", "[::1]8889", "[::1:8889", "host:-1", "a b:1"}) {
    for (const char* flag : {"-address", "-healthAddress", "-debugAddr"}) {
      if (std::string(bad).empty() && std::string(flag) == "-debugAddr") {
        continue;
      }
      EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{std::string(flag) + "=" + bad})),
                  HasSubstr(std::string("flag ") + flag + ": want host:port with a numeric port"))
          << flag << "=" << bad;
    }
  }
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"health_address": "localhost"})")),
              HasSubstr(R"(key "health_address": want host:port with a numeric port, got )"
                        R"("localhost" (address localhost: missing port in address))"));
}

TEST_F(ConfigTest, AnEmptyDebugAddressTurnsTheDebugServerOff) {
  Result<Config> loaded = LoadWithFile(R"({"debug_address": ""})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->debug_address, "");
}

TEST_F(ConfigTest, TheDatabaseDriverMustBeKnown) {
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-databaseDriver=oracle"})),
            "flag -databaseDriver: want one of sqlite, postgres, mysql, etcd; got \"oracle\"");
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"database_driver": "oracle"})")),
              HasSubstr(R"(key "database_driver": want one of sqlite, postgres, mysql, etcd)"));
}

TEST_F(ConfigTest, OtherDriversNeedAnExplicitConnectionString) {
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-databaseDriver=postgres"})),
            "database_connection_string (-databaseConnectionString) is required when "
            "database_driver is \"postgres\"");
  EXPECT_TRUE(LoadWithFile(R"({"database_connection_string": "postgres://db/diego"})",
                           {"-databaseDriver=postgres"})
                  .ok());
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"-databaseConnectionString="})),
              HasSubstr("database_connection_string (-databaseConnectionString) is empty"));
}

TEST_F(ConfigTest, TheAuctioneerAddressMustBeAnHttpUrl) {
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-auctioneerAddress=auctioneer:9016"})),
            "flag -auctioneerAddress: want an http:// or https:// URL, got \"auctioneer:9016\"");
  EXPECT_TRUE(LoadConfig(std::vector<std::string>{"-auctioneerAddress=https://a:9016"}).ok());
}

TEST_F(ConfigTest, ATimeFormatOtherThanUpstreamsTwoIsAnError) {
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"time_format": "iso"})")),
              HasSubstr(R"(key "time_format": want "unix-epoch" or "rfc3339", got "iso")"));
}

TEST_F(ConfigTest, EncryptionKeysMustBeUsable) {
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"encryption_keys": {"k1": "p"}})")),
              HasSubstr("active_key_label is required when encryption_keys is set"));
  EXPECT_THAT(
      ErrorOf(LoadWithFile(R"({"encryption_keys": {"k1": "p"}, "active_key_label": "k2"})")),
      HasSubstr("active_key_label \"k2\" is not a label in encryption_keys"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"active_key_label": "k2"})")),
              HasSubstr("active_key_label \"k2\" is not a label in encryption_keys"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"encryption_keys": {"": "p"}, "active_key_label": ""})")),
              HasSubstr("must be 1 to 127 bytes long"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"encryption_keys": {")" + std::string(128, 'k') +
                                   R"(": "p"}, "active_key_label": "k"})")),
              HasSubstr("must be 1 to 127 bytes long"));
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"encryption_keys": {"k": ""}, "active_key_label": "k"})")),
              HasSubstr("the passphrase of \"k\" is empty"));
}

TEST_F(ConfigTest, LocketKeepaliveTimeMustNotExceedItsTimeout) {
  EXPECT_THAT(ErrorOf(LoadWithFile(R"({"locket_client_keepalive_time": 30})")),
              HasSubstr("locket_client_keepalive_time must not be greater than "
                        "locket_client_keepalive_timeout"));
}

// --- Features not built yet --------------------------------------------------------------------

TEST_F(ConfigTest, NotYetSupportedNamesEachFeatureThatIsSet) {
  Result<Config> loaded = LoadWithFile(
      R"({"ca_file": "/c/ca", "cert_file": "/c/crt", "database_driver": "postgres",
          "database_connection_string": "postgres://db/diego", "locket_address": "l:8891",
          "lock_ttl": "20s", "encryption_keys": {"k": "p"}, "active_key_label": "k",
          "access_log_path": "/log", "loggregator": {"loggregator_use_v2_api": true},
          "advanced_metrics": {"enabled": true}, "sql_ca_cert_file": "/s/ca",
          "enable_db_health_check": true, "auctioneer_require_tls": true,
          "rep_ca_cert": "/r/ca", "time_format": "rfc3339", "redact_secrets": true,
          "max_data_string_length": 0})",
      {"-etcdCluster=https://etcd:4001", "-etcdCaFile=/e/ca", "-etcdKeyFile=/e/key",
       "-consulCluster=http://consul:8500"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(
      loaded->NotYetSupported(),
      ElementsAre(
          "-consulCluster is set but Consul registration is not built (Diego dropped Consul); "
          "ignored"));
}

TEST_F(ConfigTest, EtcdClusterAloneSelectsTheEtcdDriverWithoutAConnectionString) {
  Result<Config> loaded = LoadConfig(
      std::vector<std::string>{"-etcdCluster=https://e1:2379,https://e2:2379",
                               "-etcdCertFile=/e/crt", "-etcdKeyFile=/e/key", "-etcdCaFile=/e/ca"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->database_driver, "etcd");
  EXPECT_EQ(loaded->etcd_cluster, "https://e1:2379,https://e2:2379");
  EXPECT_THAT(loaded->NotYetSupported(), IsEmpty());
}

TEST_F(ConfigTest, AGivenDatabaseDriverWinsOverEtcdCluster) {
  Result<Config> by_flag =
      LoadConfig(std::vector<std::string>{"-databaseDriver=sqlite", "-etcdCluster=https://e:2379"});
  ASSERT_TRUE(by_flag.ok()) << ErrorOf(by_flag);
  EXPECT_EQ(by_flag->database_driver, "sqlite");
  Result<Config> by_file = LoadWithFile(
      R"({"database_driver": "postgres", "database_connection_string": "postgres://db/diego"})",
      {"-etcdCluster=https://e:2379"});
  ASSERT_TRUE(by_file.ok()) << ErrorOf(by_file);
  EXPECT_EQ(by_file->database_driver, "postgres");
}

TEST_F(ConfigTest, TheEtcdDriverTakesItsEndpointsFromTheClusterOrTheConnectionString) {
  Result<Config> cluster =
      LoadConfig(std::vector<std::string>{"-databaseDriver=etcd", "-etcdCluster=https://e:2379"});
  ASSERT_TRUE(cluster.ok()) << ErrorOf(cluster);
  Result<Config> connection = LoadConfig(
      std::vector<std::string>{"-databaseDriver=etcd", "-databaseConnectionString=http://e:2379"});
  ASSERT_TRUE(connection.ok()) << ErrorOf(connection);
  EXPECT_THAT(connection->NotYetSupported(), IsEmpty());
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-databaseDriver=etcd"})),
            "database_connection_string (-databaseConnectionString) or -etcdCluster is required "
            "when database_driver is \"etcd\"");
}

TEST_F(ConfigTest, KeysThatUpstreamIgnoresAreNotReportedAsMissingFeatures) {
  Result<Config> loaded = LoadWithFile(R"({"advertise_url": "https://x", "require_ssl": false,
      "desired_lrp_creation_timeout": "5m", "locks_locket_enabled": true,
      "cell_registrations_locket_enabled": false, "rep_require_tls": true, "uuid": "u",
      "lock_ttl": "15s"})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->NotYetSupported(), IsEmpty());
}

TEST_F(ConfigTest, IgnoredNamesTheKeysBbsAcceptsAndDoesNotUse) {
  Result<Config> loaded = LoadWithFile(R"({"advertise_url": "https://x", "require_ssl": false,
      "desired_lrp_creation_timeout": "5m", "locks_locket_enabled": true,
      "cell_registrations_locket_enabled": true, "rep_require_tls": true, "uuid": "u"})");
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->Ignored(),
              ElementsAre("advertise_url, require_ssl, desired_lrp_creation_timeout, "
                          "locks_locket_enabled, cell_registrations_locket_enabled and "
                          "rep_require_tls are set but unused, as upstream; ignored"));
  EXPECT_THAT(LoadConfig(std::vector<std::string>{})->Ignored(), IsEmpty());
}

TEST_F(ConfigTest, NotYetSupportedNamesTheKeysThatWereOnceSilentlyIgnored) {
  Result<Config> loaded =
      LoadWithFile(R"({"convergence_workers": 5, "update_workers": 6, "report_interval": "2m",
                       "desired_lrp_creation_timeout": "2m"})",
                   {"-debugAddr=127.0.0.1:17017"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_THAT(loaded->NotYetSupported(),
              ElementsAre("convergence_workers and update_workers are set but bbs has no limit on "
                          "these workers yet; ignored"));
  EXPECT_THAT(loaded->Ignored(), ElementsAre("desired_lrp_creation_timeout is set but unused, as "
                                             "upstream; ignored"));
}

// --- Encryption flags --------------------------------------------------------------------------

TEST_F(ConfigTest, EncryptionKeyFlagsRepeatAndNameTheActiveKey) {
  Result<Config> loaded =
      LoadConfig(std::vector<std::string>{"-encryptionKey=old:pass:with:colons", "-encryptionKey",
                                          "new:secret", "-activeKeyLabel=new"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->encryption_keys,
            (std::map<std::string, std::string>{{"old", "pass:with:colons"}, {"new", "secret"}}));
  EXPECT_EQ(loaded->active_key_label, "new");
}

TEST_F(ConfigTest, EncryptionKeyFlagsReplaceTheFilesKeys) {
  Result<Config> loaded =
      LoadWithFile(R"({"encryption_keys": {"a": "1", "b": "2"}, "active_key_label": "a"})",
                   {"-encryptionKey=c:3", "-activeKeyLabel=c"});
  ASSERT_TRUE(loaded.ok()) << ErrorOf(loaded);
  EXPECT_EQ(loaded->encryption_keys, (std::map<std::string, std::string>{{"c", "3"}}));
  EXPECT_EQ(loaded->active_key_label, "c");

  Result<Config> label_only =
      LoadWithFile(R"({"encryption_keys": {"a": "1", "b": "2"}, "active_key_label": "a"})",
                   {"-activeKeyLabel=b"});
  ASSERT_TRUE(label_only.ok()) << ErrorOf(label_only);
  EXPECT_EQ(label_only->encryption_keys.size(), 2u);
  EXPECT_EQ(label_only->active_key_label, "b");
}

TEST_F(ConfigTest, BadEncryptionKeyFlagsAreErrorsThatDoNotEchoThePassphrase) {
  EXPECT_EQ(
      ErrorOf(LoadConfig(std::vector<std::string>{"-encryptionKey=s3cret", "-activeKeyLabel=k"})),
      "flag -encryptionKey: want label:passphrase, got a value without ':'");
  EXPECT_EQ(ErrorOf(LoadConfig(std::vector<std::string>{"-encryptionKey=k:a", "-encryptionKey=k:b",
                                                        "-activeKeyLabel=k"})),
            "flag -encryptionKey: label \"k\" is given twice");
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"-encryptionKey=k:p"})),
              HasSubstr("active_key_label is required when encryption_keys is set"));
  EXPECT_THAT(
      ErrorOf(LoadConfig(std::vector<std::string>{"-encryptionKey=k:p", "-activeKeyLabel=j"})),
      HasSubstr("active_key_label \"j\" is not a label in encryption_keys"));
  EXPECT_THAT(
      ErrorOf(LoadConfig(std::vector<std::string>{"-encryptionKey=k:", "-activeKeyLabel=k"})),
      HasSubstr("the passphrase of \"k\" is empty"));
  EXPECT_THAT(ErrorOf(LoadConfig(std::vector<std::string>{"-encryptionKey"})),
              HasSubstr("flag -encryptionKey needs a value"));
}

TEST_F(ConfigTest, FlagUsageShowsTheEncryptionFlags) {
  std::string usage = FlagUsage();
  EXPECT_THAT(usage, HasSubstr("\n  -encryptionKey value\n"));
  EXPECT_THAT(usage, HasSubstr("\n  -activeKeyLabel string\n"));
}

// --- Every key is applied or reported ----------------------------------------------------------

// The flags FlagUsage lists ("-name").
std::set<std::string> FlagsInUsage() {
  std::set<std::string> flags;
  std::istringstream lines(FlagUsage());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  -", 0) == 0) {
      flags.insert(line.substr(2, line.find(' ', 2) - 2));
    }
  }
  return flags;
}

// A config file holding only `value` at the dotted `path`: JsonAt("a.b", "1") is {"a": {"b": 1}}.
std::string JsonAt(const std::string& path, const std::string& value) {
  std::string open;
  std::string close;
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '.');) {
    open += "{\"" + part + "\": ";
    close += "}";
  }
  return open + value + close;
}

TEST_F(ConfigTest, EveryAcceptedKeyIsAppliedOrReported) {
  // AcceptedKeys() lists exactly what the reader and the flag set accept.
  std::set<std::string> listed;
  for (const AcceptedKey& key : AcceptedKeys()) {
    EXPECT_TRUE(listed.insert(std::string(key.name)).second) << key.name << " listed twice";
  }
  std::set<std::string> accepted = FlagsInUsage();
  for (const std::string& key : KnownConfigFileKeys()) {
    accepted.insert(key);
  }
  for (const std::string& key : accepted) {
    EXPECT_TRUE(listed.count(key)) << key << " is accepted but missing from AcceptedKeys()";
  }
  for (const std::string& key : listed) {
    EXPECT_TRUE(accepted.count(key)) << key << " is in AcceptedKeys() but not accepted";
  }

  // A value for each key that is not applied, other than its default: in the file, at the key's
  // path...
  const std::map<std::string, std::string> values = {
      {"debug_address", R"("127.0.0.1:17017")"},
      {"uuid", R"("u")"},
      {"advertise_url", R"("https://bbs:8889")"},
      {"require_ssl", R"(false)"},
      {"desired_lrp_creation_timeout", R"("2m")"},
      {"access_log_path", R"("/log")"},
      {"ca_file", R"("/ca")"},
      {"cert_file", R"("/crt")"},
      {"key_file", R"("/key")"},
      {"max_open_database_connections", R"(5)"},
      {"max_idle_database_connections", R"(5)"},
      {"max_database_connection_lifetime", R"("1h")"},
      {"db_read_timeout", R"("1s")"},
      {"db_write_timeout", R"("1s")"},
      {"sql_ca_cert_file", R"("/ca")"},
      {"sql_enable_identity_verification", R"(false)"},
      {"enable_db_health_check", R"(true)"},
      {"health_check_interval", R"("1s")"},
      {"health_check_timeout", R"("1s")"},
      {"health_check_failure_threshold", R"(9)"},
      {"convergence_workers", R"(5)"},
      {"update_workers", R"(5)"},
      {"debug_lrp_start_heartbeats", R"(true)"},
      {"rep_client_session_cache_size", R"(5)"},
      {"lock_ttl", R"("20s")"},
      {"lock_retry_interval", R"("2s")"},
      {"time_format", R"("rfc3339")"},
      {"max_data_string_length", R"(0)"},
      {"redact_secrets", R"(true)"},
      {"report_interval", R"("2m")"},
      {"loggregator", R"({"loggregator_use_v2_api": true})"},
      {"loggregator.loggregator_use_v2_api", R"(true)"},
      {"loggregator.loggregator_api_port", R"(1)"},
      {"loggregator.loggregator_ca_path", R"("x")"},
      {"loggregator.loggregator_cert_path", R"("x")"},
      {"loggregator.loggregator_key_path", R"("x")"},
      {"loggregator.loggregator_job_deployment", R"("x")"},
      {"loggregator.loggregator_job_name", R"("x")"},
      {"loggregator.loggregator_job_index", R"("x")"},
      {"loggregator.loggregator_job_ip", R"("x")"},
      {"loggregator.loggregator_job_origin", R"("x")"},
      {"loggregator.loggregator_source_id", R"("x")"},
      {"loggregator.loggregator_instance_id", R"("x")"},
      {"loggregator.loggregator_batch_max_size", R"(1)"},
      {"loggregator.BatchFlushInterval", R"(1)"},
      {"loggregator.loggregator_app_metric_exclusion_filter", R"(["cpu"])"},
      {"advanced_metrics", R"({"enabled": true})"},
      {"advanced_metrics.enabled", R"(true)"},
      {"advanced_metrics.route_config", R"({"request_count": ["Tasks"]})"},
      {"advanced_metrics.route_config.request_count", R"(["Tasks"])"},
      {"advanced_metrics.route_config.request_latency", R"(["Tasks"])"},
      {"locks_locket_enabled", R"(true)"},
      {"cell_registrations_locket_enabled", R"(true)"},
      {"rep_require_tls", R"(true)"},
  };
  // ...or the file's text and flags, for a key that needs more than its own value, or a flag.
  struct Sample {
    std::string json;
    std::vector<std::string> flags;
  };
  std::map<std::string, Sample> samples = {
      {"active_key_label", {R"({"active_key_label": "k", "encryption_keys": {"k": "p"}})", {}}},
      {"encryption_keys", {R"({"active_key_label": "k", "encryption_keys": {"k": "p"}})", {}}},
      {"-debugAddr", {"{}", {"-debugAddr=127.0.0.1:17017"}}},
      {"-encryptionKey", {"{}", {"-encryptionKey=k:p", "-activeKeyLabel=k"}}},
      {"-activeKeyLabel", {"{}", {"-encryptionKey=k:p", "-activeKeyLabel=k"}}},
      {"-consulCluster", {"{}", {"-consulCluster=http://consul:8500"}}},
  };
  for (const auto& [key, value] : values) {
    samples[key] = {JsonAt(key, value), {}};
  }

  for (const AcceptedKey& key : AcceptedKeys()) {
    if (key.use == KeyUse::kApplied) {
      continue;
    }
    auto sample = samples.find(std::string(key.name));
    if (sample == samples.end()) {
      ADD_FAILURE() << key.name << " is not applied: give it a sample here";
      continue;
    }
    Result<Config> loaded = LoadWithFile(sample->second.json, sample->second.flags);
    ASSERT_TRUE(loaded.ok()) << key.name << ": " << ErrorOf(loaded);
    EXPECT_THAT(loaded->warnings, IsEmpty()) << key.name;
    std::string_view reported_as = key.reported_as.empty() ? key.name : key.reported_as;
    std::vector<std::string> lines =
        key.use == KeyUse::kIgnored ? loaded->Ignored() : loaded->NotYetSupported();
    EXPECT_THAT(lines, Contains(HasSubstr(std::string(reported_as))))
        << key.name
        << (key.use == KeyUse::kIgnored ? " is not in Ignored()" : " is not in NotYetSupported()");
  }
}

}  // namespace
}  // namespace bbs::daemon
