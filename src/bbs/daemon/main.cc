// bbs: the Diego Bulletin Board System. Wiring only: the one place that names concrete classes.

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "bbs/api/api.h"
#include "bbs/base/clock.h"
#include "bbs/base/guid.h"
#include "bbs/base/logger.h"
#include "bbs/base/url.h"
#include "bbs/base/worker_pool.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/cells/locket_cell_directory.h"
#include "bbs/cells/locket_client.h"
#include "bbs/cells/locket_service.h"
#include "bbs/cells/registry_cell_directory.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/clients/callbacks.h"
#include "bbs/clients/reps.h"
#include "bbs/converger/converger.h"
#include "bbs/daemon/config.h"
#include "bbs/daemon/startup.h"
#include "bbs/events/hub.h"
#include "bbs/http/server.h"
#include "bbs/loggregator/emitter.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/metrics/debug_server.h"
#include "bbs/metrics/reporter.h"
#include "bbs/state/engine.h"
#include "bbs/state/task_callbacks.h"
#include "bbs/storage/factory.h"

namespace bbs::daemon {
namespace {

// Splits "host:port" (config validation has already checked the shape); an empty host means
// every interface.
bool SplitHostPort(const std::string& address, std::string* host, uint16_t* port) {
  auto split = url::SplitHostPort(address);
  if (!split.ok()) return false;
  *host = split->host.empty() ? "0.0.0.0" : split->host;
  *port = split->port;
  return true;
}

// Logs bbs.<event> at fatal level, repeats `error` on stderr and returns `exit_code`.
int Fail(const Logger& logger, const char* event, const Status& error, int exit_code) {
  logger.Fatal(event, error.message());
  std::fprintf(stderr, "bbs: %s\n", error.message().c_str());
  return exit_code;
}

int Run(int argc, char** argv) {
#ifndef BBS_JEMALLOC
  // Dozens of handler threads would each get a glibc malloc arena holding freed memory; a few
  // arenas keep the resident set close to the live data (measured: see docs/benchmarks.md).
  // (The release daemon allocates with jemalloc instead: CMakeLists.txt BBS_JEMALLOC.)
  mallopt(M_ARENA_MAX, 4);
#endif
  auto config = LoadConfig(argc, argv);
  if (!config.ok()) {
    std::fprintf(stderr, "bbs: %s\n", config.status().message().c_str());
    return 2;
  }
  if (config->help) {
    std::fputs(FlagUsage().c_str(), stdout);
    return 0;
  }

  // Block the shutdown signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  SignalWatcher signal_watcher(signals);

  LogFormat log_format;
  log_format.rfc3339 = config->time_format == "rfc3339";
  log_format.max_data_string_length = config->max_data_string_length;
  log_format.redact_secrets = config->redact_secrets;
  auto sink = LogSink::Stdout(config->log_level, log_format);
  Logger logger(sink, config->session_name);
  for (const auto& warning : config->warnings) {
    logger.Info("config-warning", {{"detail", warning}});
  }
  for (const auto& note : config->NotYetSupported()) {
    logger.Info("not-yet-supported", {{"detail", note}});
  }
  for (const auto& note : config->Ignored()) {
    logger.Info("accepted-and-ignored", {{"detail", note}});
  }

  auto clock = std::make_shared<SystemClock>();

  // Metrics (behavior.md §12): the registry every layer records into, the debug listener
  // (/metrics, /log-level, /healthz), the Loggregator v2 emitter and the periodic reporters.
  metrics::BbsMetrics bbs_metrics;
  std::unique_ptr<metrics::DebugServer> debug_server;
  if (!config->debug_address.empty()) {
    metrics::DebugServerOptions debug_options;
    if (!SplitHostPort(config->debug_address, &debug_options.host, &debug_options.port)) {
      logger.Fatal("invalid-debug-address", config->debug_address);
      return 2;
    }
    debug_server = std::make_unique<metrics::DebugServer>(debug_options, &bbs_metrics, sink,
                                                          logger.Session("debug-server"));
    if (Status s = debug_server->Start(); !s.ok()) {
      logger.Fatal("debug-listener-failed", s.message(), {{"address", config->debug_address}});
      return 1;
    }
    logger.Info("debug-server-started",
                {{"address", debug_options.host + ":" + std::to_string(debug_server->port())}});
  }
  std::unique_ptr<loggregator::Emitter> emitter;
  if (config->loggregator.use_v2_api) {
    const LoggregatorConfig& lc = config->loggregator;
    loggregator::EmitterOptions options;
    options.address = "127.0.0.1:" + std::to_string(lc.api_port);
    options.tls.ca_file = lc.ca_path;
    options.tls.cert_file = lc.cert_path;
    options.tls.key_file = lc.key_path;
    options.source_id = lc.source_id;
    options.instance_id = lc.instance_id;
    if (lc.batch_max_size > 0) options.batch_size = static_cast<std::size_t>(lc.batch_max_size);
    if (lc.batch_flush_interval.count() > 0) {
      options.flush_interval =
          std::chrono::duration_cast<std::chrono::milliseconds>(lc.batch_flush_interval);
    }
    options.tags["origin"] = lc.job_origin;
    for (const auto& [tag, value] :
         {std::pair{"deployment", lc.job_deployment}, std::pair{"job", lc.job_name},
          std::pair{"index", lc.job_index}, std::pair{"ip", lc.job_ip}}) {
      if (!value.empty()) options.tags[tag] = value;
    }
    auto created = loggregator::Emitter::Create(std::move(options), clock.get(), &bbs_metrics,
                                                logger.Session("loggregator"));
    if (!created.ok()) {
      return Fail(logger, "loggregator-client-failed", created.status(), 2);
    }
    emitter = std::move(*created);
    emitter->Start();
  }
  metrics::ReporterOptions reporter_options;
  reporter_options.report_interval = config->report_interval;
  reporter_options.report_store = config->database_driver != "etcd";
  reporter_options.stats_only_when_lock_held = true;  // a passive sends no LRP/task/DB stats
  reporter_options.advanced_enabled = config->advanced_metrics.enabled;
  reporter_options.request_count_routes = config->advanced_metrics.request_count_routes;
  reporter_options.request_latency_routes = config->advanced_metrics.request_latency_routes;
  metrics::Reporter metrics_reporter(&bbs_metrics, emitter.get(), reporter_options,
                                     logger.Session("metrics"));
  metrics_reporter.Start();

  // Health listener: plain HTTP, 200 to anything, available before the store is loaded.
  http::ServerOptions health_options;
  if (!SplitHostPort(config->health_address, &health_options.host, &health_options.port)) {
    logger.Fatal("invalid-health-address", config->health_address);
    return 2;
  }
  health_options.threads = 1;
  health_options.logger = logger.Session("health");
  http::Router health_router;
  health_router.SetFallback(
      [](http::Request&&, http::Responder respond) { respond(http::Response{}); });
  http::Server health(health_options, std::move(health_router));
  if (Status s = health.Start(); !s.ok()) {
    logger.Fatal("health-listener-failed", s.message(), {{"address", config->health_address}});
    return 1;
  }
  health.SetReady(true);

  // Outbound peers.
  std::unique_ptr<clients::HttpAuctioneer> auctioneer;
  if (!config->auctioneer_address.empty()) {
    clients::HttpAuctioneer::Options options;
    options.timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(config->communication_timeout);
    options.require_tls = config->auctioneer_require_tls;
    options.metrics = &bbs_metrics;
    options.tls.ca_file = config->auctioneer_ca_cert;
    options.tls.cert_file = config->auctioneer_client_cert;
    options.tls.key_file = config->auctioneer_client_key;
    auto created = clients::HttpAuctioneer::Create(config->auctioneer_address, options,
                                                   logger.Session("auctioneer-client"));
    if (!created.ok()) {
      return Fail(logger, "auctioneer-client-failed", created.status(), 2);
    }
    auctioneer = std::move(*created);
  } else {
    logger.Info("no-auctioneer-configured");
  }
  clients::HttpReps::Options rep_options;
  rep_options.timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(config->communication_timeout);
  rep_options.tls.ca_file = config->rep_ca_cert;
  rep_options.tls.cert_file = config->rep_client_cert;
  rep_options.tls.key_file = config->rep_client_key;
  rep_options.tls_session_cache_size = config->rep_client_session_cache_size;
  // Upstream always requires https to reps; without rep TLS settings we also accept http URLs.
  rep_options.require_tls = !config->rep_ca_cert.empty();
  rep_options.metrics = &bbs_metrics;
  auto reps = clients::HttpReps::Create(rep_options, logger.Session("rep-client"));
  if (!reps.ok()) {
    logger.Fatal("rep-client-failed", reps.status().message());
    return 2;
  }
  // https callbacks present the server's own certificate and trust its CA (behavior.md §11.2).
  auto callbacks = clients::HttpCallbacks::Create(
      std::chrono::duration_cast<std::chrono::milliseconds>(config->communication_timeout),
      logger.Session("task-callback-client"),
      clients::TlsOptions{config->ca_file, config->cert_file, config->key_file});
  if (!callbacks.ok()) {
    logger.Fatal("callback-client-failed", callbacks.status().message());
    return 2;
  }
  (*callbacks)->SetMetrics(&bbs_metrics);
  // Where cell presences come from: an external Locket, our own Locket service, or nothing
  // (then rep URLs come from -repUrlTemplate and no cell is ever considered vanished).
  std::unique_ptr<cells::LocketRegistry> registry;
  std::unique_ptr<cells::LocketServer> locket_server;
  std::unique_ptr<cells::LocketClient> locket_client;
  std::unique_ptr<cells::CellDirectory> cell_directory;
  std::string locket_listen;
  if (!config->locket_address.empty()) {
    cells::LocketClientOptions options;
    options.address = config->locket_address;
    options.metrics = &bbs_metrics;
    if (!config->locket_ca_cert_file.empty()) {
      options.tls = cells::LocketTls{config->locket_ca_cert_file, config->locket_client_cert_file,
                                     config->locket_client_key_file};
    }
    options.keepalive_time =
        std::chrono::duration_cast<std::chrono::seconds>(config->locket_client_keepalive_time);
    options.keepalive_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(config->locket_client_keepalive_timeout);
    auto client = cells::LocketClient::Create(options);
    if (!client.ok() || !(*client)->WaitForConnected(std::chrono::seconds(10)).ok()) {
      logger.Fatal("failed-to-create-locket-client",
                   client.ok() ? "locket not reachable" : client.status().message(),
                   {{"locket_address", config->locket_address}});
      return 1;
    }
    locket_client = std::move(*client);
    // Upstream reuses db_connection_timeout as the Locket deadline; bound it to be useful.
    auto deadline = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(config->db_connection_timeout),
        std::chrono::seconds(10));
    cell_directory = std::make_unique<cells::LocketCellDirectory>(locket_client.get(), deadline,
                                                                  logger.Session("locket-cells"));
  } else if (!config->locket_listen_address.empty()) {
    // In the store's database when it has one, so every process serves the same records.
    auto made = MakeLocketRegistry(*config, clock.get(), logger.Session("locket"));
    if (!made.ok()) {
      logger.Fatal("locket-registry-failed", made.status().message());
      return 1;
    }
    registry = std::move(*made);
    locket_server = std::make_unique<cells::LocketServer>(registry.get(), logger.Session("locket"));
    cells::LocketServerOptions options;
    options.address = config->locket_listen_address;
    // Upstream's Locket job serves mutual TLS with ca_file/cert_file/key_file: so do we, with
    // the API's.
    if (!config->cert_file.empty()) {
      options.tls = cells::LocketTls{config->ca_file, config->cert_file, config->key_file};
    }
    if (Status s = locket_server->Start(options); !s.ok()) {
      logger.Fatal("locket-listener-failed", s.message(),
                   {{"address", config->locket_listen_address}});
      return 1;
    }
    locket_listen =
        config->locket_listen_address.substr(0, config->locket_listen_address.rfind(':') + 1) +
        std::to_string(locket_server->port());
    cell_directory =
        std::make_unique<cells::RegistryCellDirectory>(registry.get(), logger.Session("cells"));
  } else {
    cell_directory = std::make_unique<cells::TemplateCellDirectory>(config->rep_url_template);
  }
  cells::CellDirectory& cells = *cell_directory;

  // --- Leader election (behavior.md §9.2, docs/ha.md) -----------------------------------
  // Everything above serves on every process; a passive process waits here and never opens
  // the store for writing nor listens on the API port.
  std::shared_ptr<const storage::sql::LeaseFence> lease_fence;  // postgres/mysql lease lock
  auto leader_lock = MakeLeaderLock(*config, locket_client.get(), logger, &lease_fence);
  if (!leader_lock.ok()) {
    return Fail(logger, "invalid-lock-config", leader_lock.status(), 2);
  }
  LockMetrics lock_metrics{
      .lock_held = [&bbs_metrics](bool held) { bbs_metrics.SetLockHeld(held); },
      .master_elected =
          [&bbs_metrics] {
            // behavior.md §9.2 steps 7 and 13: LockHeld = 1 as soon as the lock is held.
            bbs_metrics.SetLockHeld(true);
            bbs_metrics.MasterElected();
          }};
  LockHeldReporter lock_held_reporter(leader_lock->get(), config->report_interval,
                                      lock_metrics.lock_held);
  logger.Info("acquiring-lock",
              {{"lock", (*leader_lock)->Description()},
               {"health_address", health_options.host + ":" + std::to_string(health.port())},
               {"locket_listen_address", locket_listen}});
  auto leadership = AwaitLeadership(leader_lock->get(), &signal_watcher, lock_metrics, logger);
  if (!leadership.ok()) {
    return Fail(logger, "lock-failed", leadership.status(), 1);
  }
  if (*leadership == Leadership::kShutdown) {
    logger.Info("exited", {{"passive", true}});
    return 0;
  }
  StartupTimer startup_timer;

  // Migrations: opening the store creates or upgrades the schema, then runs the encryptor.
  storage::StoreOptions store_options;
  store_options.driver = config->database_driver;
  store_options.connection_string = config->database_connection_string;
  store_options.encryption_keys = config->encryption_keys;
  store_options.active_key_label = config->active_key_label;
  store_options.max_open_connections = config->max_open_database_connections;
  store_options.max_idle_connections = config->max_idle_database_connections;
  store_options.max_connection_lifetime = config->max_database_connection_lifetime;
  store_options.connection_timeout = config->db_connection_timeout;
  store_options.read_timeout = config->db_read_timeout;
  store_options.write_timeout = config->db_write_timeout;
  store_options.sql_ca_cert_file = config->sql_ca_cert_file;
  store_options.sql_enable_identity_verification = config->sql_enable_identity_verification;
  store_options.etcd_cluster = config->etcd_cluster;
  store_options.etcd_cert_file = config->etcd_cert_file;
  store_options.etcd_key_file = config->etcd_key_file;
  store_options.etcd_ca_file = config->etcd_ca_file;
  store_options.etcd_root = config->etcd_root;
  store_options.lease_fence = lease_fence;
  // behavior.md §9.2 steps 10-11: the lines upstream's integration suite waits for, and the
  // MigrationDuration / EncryptionDuration metrics. Backends without the hooks (sqlite, memory)
  // run both inside OpenStore: the whole open counts as the migrations there.
  bool migrations_reported = false;
  bool encryption_reported = false;
  auto migrations_finished = [&](std::chrono::nanoseconds d) {
    migrations_reported = true;
    logger.Session("migration-manager")
        .Info("finished-migrations", {{"MigrationDuration", d.count()}});
    bbs_metrics.MigrationFinished(d);
  };
  auto encryption_finished = [&](std::chrono::nanoseconds d) {
    encryption_reported = true;
    // Upstream's data: total_time (a Go duration: ns) and the active label.
    logger.Session("encryptor")
        .Info("encryption-finished", {{"total_time", d.count()},
                                      {"desired-key-label", config->active_key_label},
                                      {"EncryptionDuration", d.count()}});
    bbs_metrics.EncryptionFinished(d);
  };
  store_options.on_migrations_finished = migrations_finished;
  store_options.on_encryption_finished = encryption_finished;
  auto open_started = std::chrono::steady_clock::now();
  auto store = storage::OpenStore(store_options, logger.Session("store"));
  if (!store.ok()) {
    logger.Fatal("opening-store-failed", store.status().message(),
                 {{"driver", config->database_driver}});
    std::fprintf(stderr, "bbs: %s\n", store.status().message().c_str());
    return 1;
  }
  if (!migrations_reported) migrations_finished(std::chrono::steady_clock::now() - open_started);
  if (!encryption_reported) encryption_finished(std::chrono::nanoseconds(0));
  startup_timer.Mark("open_store");
  // DB health check (behavior.md §10.5): a database that stops answering ends the active.
  std::unique_ptr<DbHealthMonitor> db_health;
  if (auto check = MakeDbHealthCheck(*config)) {
    db_health = std::make_unique<DbHealthMonitor>(
        std::move(check), config->health_check_interval, config->health_check_failure_threshold,
        [&logger](const Status& why) {
          logger.Fatal("db-health-check-failed-exiting", why.message());
          std::fflush(stdout);
          _exit(1);
        },
        logger.Session("db-health-check"));
  }
  LoadTimingStore timed_store(store->get(),
                              [&logger, fenced = lease_fence != nullptr](const Status& why) {
                                if (!fenced) return;
                                // The lease fence refused a commit: another process is active
                                // (docs/ha.md).
                                logger.Fatal("lost-lock-exiting", why.message());
                                std::fflush(stdout);
                                _exit(kExitLostLock);
                              });

  events::HubOptions hub_options;
  hub_options.logger = logger.Session("events");
  hub_options.metrics = &bbs_metrics;
  hub_options.queue_bytes_capacity = static_cast<size_t>(config->event_subscriber_max_bytes);
  hub_options.ring_bytes_capacity = static_cast<size_t>(config->event_resume_max_bytes);
  events::Hub hub(hub_options);

  RandomGuidGenerator guids;
  state::Engine engine(&timed_store, clock.get(), &guids, &hub, logger.Session("state"),
                       state::Engine::Options{.metrics = &bbs_metrics});
  engine.SetPeers(auctioneer.get(), reps->get(), &cells);
  engine.tasks().SetOptions({config->max_task_retries});
  state::TaskCallbacks task_callbacks(&engine, callbacks->get(),
                                      static_cast<size_t>(config->task_callback_workers),
                                      logger.Session("task-callbacks"));
  engine.tasks().SetCallbackSink(
      [&task_callbacks](state::TaskPtr task) { task_callbacks.Submit(task); });

  converger::Converger::Options converger_options;
  converger_options.interval = config->converge_repeat_interval;
  converger_options.metrics = &bbs_metrics;
  converger_options.task_durations = {config->kick_task_duration.count(),
                                      config->expire_pending_task_duration.count(),
                                      config->expire_completed_task_duration.count()};
  converger::Converger converger(&engine, &cells, &task_callbacks, converger_options,
                                 logger.Session("converger"));

  api::Api api(&engine, logger.Session("request"));
  api.SetCellsSource([&cells] { return cells.All(); });
  api.SetMaxInstancesPerDesiredLrp(config->max_instances_per_desired_lrp);
  api.SetConvergeHooks([&converger] { return converger.ConvergeLrps(); },
                       [&converger] { return converger.ConvergeTasks(); });
  WorkerPool pool(64);

  http::ServerOptions api_options;
  if (!SplitHostPort(config->listen_address, &api_options.host, &api_options.port)) {
    logger.Fatal("invalid-listen-address", config->listen_address);
    return 2;
  }
  api_options.threads = config->http_worker_threads;
  api_options.max_body_bytes = static_cast<size_t>(config->max_request_body_bytes);
  api_options.clock = clock;
  api_options.logger = logger.Session("http");
  // api.md §1.1: mutual TLS when configured; plain HTTP otherwise, meant for loopback.
  api_options.tls = {config->ca_file, config->cert_file, config->key_file};
  if (!api_options.tls.enabled()) {
    if (!url::IsLoopbackHost(api_options.host)) {
      logger.Info("warning-plain-http-on-non-loopback-address",
                  {{"address", config->listen_address},
                   {"detail",
                    "no cert_file/key_file/ca_file configured: the API is served without TLS "
                    "or client authentication"}});
    }
  }
  if (!config->access_log_path.empty()) {
    std::string error;
    auto access_sink = LogSink::File(config->access_log_path, LogLevel::kInfo, log_format, &error);
    if (access_sink == nullptr) {
      logger.Fatal("access-log-failed", error, {{"access_log_path", config->access_log_path}});
      return 2;
    }
    api_options.access_logger = Logger(access_sink, config->session_name).Session("access");
  }
  http::Server server(api_options, api.Router(&hub, &pool, &bbs_metrics, clock.get()));
  if (Status s = server.Start(); !s.ok()) {
    logger.Fatal("listener-failed", s.message(), {{"address", config->listen_address}});
    std::fprintf(stderr, "bbs: cannot listen on %s: %s\n", config->listen_address.c_str(),
                 s.message().c_str());
    return 1;
  }
  // Until the store is loaded every request gets 503 (api.md §1.2).
  startup_timer.Mark("wire_and_listen");
  auto load_started = std::chrono::steady_clock::now();
  if (Status s = engine.Load(); !s.ok()) {
    logger.Fatal("loading-store-failed", s.ToString());
    server.Stop();
    return 1;
  }
  startup_timer.Mark("load");
  startup_timer.Add("load_read_store", timed_store.load_duration());
  startup_timer.Add("load_build_model",
                    std::chrono::steady_clock::now() - load_started - timed_store.load_duration());
  engine.Start();
  task_callbacks.Recover();
  converger.Start();
  server.SetReady(true);
  startup_timer.Mark("start_serving");
  // "bbs.started" only once requests are served: upstream logs it when every member of its
  // start-up group is ready, and its integration suite sends requests as soon as it sees it.
  logger.Info("started",
              {{"address", api_options.host + ":" + std::to_string(server.port())},
               {"health_address", health_options.host + ":" + std::to_string(health.port())},
               {"locket_listen_address", locket_listen},
               {"tls", api_options.tls.enabled()},
               {"database_driver", config->database_driver}});

  logger.Info("ready");
  logger.Info("start-up-durations", startup_timer.ToJson());

  int signo = signal_watcher.Wait();
  logger.Info("shutting-down", {{"signal", signo}});
  converger.Stop();
  hub.Close();
  server.Stop();
  pool.Shutdown();
  task_callbacks.Shutdown();
  engine.Stop();
  (*leader_lock)->Release();
  if (locket_server) locket_server->Stop();
  health.Stop();
  metrics_reporter.Stop();
  if (emitter) emitter->Stop();
  if (debug_server) debug_server->Stop();
  logger.Info("exited");
  return 0;
}

}  // namespace
}  // namespace bbs::daemon

int main(int argc, char** argv) { return bbs::daemon::Run(argc, argv); }
