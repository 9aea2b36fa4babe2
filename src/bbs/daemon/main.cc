// bbs: the Diego Bulletin Board System. Wiring only: the one place that names concrete classes.

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "bbs/api/api.h"
#include "bbs/base/clock.h"
#include "bbs/base/guid.h"
#include "bbs/base/logger.h"
#include "bbs/base/worker_pool.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/cells/locket_cell_directory.h"
#include "bbs/cells/locket_client.h"
#include "bbs/cells/locket_service.h"
#include "bbs/cells/presence_registry.h"
#include "bbs/cells/registry_cell_directory.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/clients/callbacks.h"
#include "bbs/clients/reps.h"
#include "bbs/converger/converger.h"
#include "bbs/daemon/config.h"
#include "bbs/events/hub.h"
#include "bbs/http/server.h"
#include "bbs/state/engine.h"
#include "bbs/state/task_callbacks.h"
#include "bbs/storage/factory.h"

namespace bbs::daemon {
namespace {

// Splits "host:port". Config validation has already checked the shape.
bool SplitHostPort(const std::string& address, std::string* host, uint16_t* port) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  *host = address.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) *host = "0.0.0.0";
  try {
    int p = std::stoi(address.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    *port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

http::Response Protobuf(std::string body) {
  http::Response r;
  r.status = 200;
  r.content_type = "application/x-protobuf";
  r.body = std::move(body);
  return r;
}

http::Router BuildApiRouter(api::Api* api, events::Hub* hub, WorkerPool* pool,
                            const Logger& logger) {
  http::Router router;
  for (auto& route : api->Routes()) {
    if (route.kind == api::RouteKind::kUnary) {
      auto handler = std::make_shared<api::UnaryHandler>(std::move(route.handler));
      std::string name = route.name;
      router.Add(route.method, route.path, route.name,
                 [pool, handler, name, logger](http::Request&& req, http::Responder respond) {
                   auto call = std::make_shared<api::Call>(
                       api::Call{std::move(req.body), std::move(req.request_id)});
                   bool queued = pool->Submit([handler, call, respond, name, logger] {
                     if (logger.DebugEnabled()) logger.Debug("serving", {{"route", name}});
                     respond(Protobuf((*handler)(*call)));
                   });
                   if (!queued) {
                     http::Response r;
                     r.status = 503;
                     respond(std::move(r));
                   }
                 });
    } else {
      auto kind = events::StreamKindForPath(route.path);
      if (!kind) continue;
      router.Add(route.method, route.path, route.name, events::StreamHandler(hub, *kind));
    }
  }
  return router;
}

int Run(int argc, char** argv) {
  // Dozens of handler threads would each get a glibc malloc arena holding freed memory; a few
  // arenas keep the resident set close to the live data (measured: see docs/benchmarks.md).
  mallopt(M_ARENA_MAX, 4);
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

  auto sink = LogSink::Stdout(config->log_level);
  Logger logger(sink, config->session_name);
  for (const auto& note : config->NotYetSupported()) {
    logger.Info("not-yet-supported", {{"detail", note}});
  }

  auto clock = std::make_shared<SystemClock>();

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

  storage::EtcdSettings etcd;
  etcd.cluster =
      config->etcd_cluster.empty() ? config->database_connection_string : config->etcd_cluster;
  etcd.cert_file = config->etcd_cert_file;
  etcd.key_file = config->etcd_key_file;
  etcd.ca_file = config->etcd_ca_file;
  auto store = config->database_driver == "etcd"
                   ? storage::OpenEtcdStore(etcd, logger.Session("store"))
                   : storage::OpenStore(config->database_driver, config->database_connection_string,
                                        logger.Session("store"));
  if (!store.ok()) {
    logger.Fatal("opening-store-failed", store.status().message(),
                 {{"driver", config->database_driver}});
    std::fprintf(stderr, "bbs: %s\n", store.status().message().c_str());
    return 1;
  }

  // Outbound peers.
  std::unique_ptr<clients::HttpAuctioneer> auctioneer;
  if (!config->auctioneer_address.empty()) {
    clients::HttpAuctioneer::Options options;
    options.timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(config->communication_timeout);
    options.require_tls = config->auctioneer_require_tls;
    options.tls.ca_file = config->auctioneer_ca_cert;
    options.tls.cert_file = config->auctioneer_client_cert;
    options.tls.key_file = config->auctioneer_client_key;
    auto created = clients::HttpAuctioneer::Create(config->auctioneer_address, options,
                                                   logger.Session("auctioneer-client"));
    if (!created.ok()) {
      logger.Fatal("auctioneer-client-failed", created.status().message());
      std::fprintf(stderr, "bbs: %s\n", created.status().message().c_str());
      return 2;
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
  // Upstream always requires https to reps; without rep TLS settings we also accept http URLs.
  rep_options.require_tls = !config->rep_ca_cert.empty();
  auto reps = clients::HttpReps::Create(rep_options, logger.Session("rep-client"));
  if (!reps.ok()) {
    logger.Fatal("rep-client-failed", reps.status().message());
    return 2;
  }
  auto callbacks = clients::HttpCallbacks::Create(
      std::chrono::duration_cast<std::chrono::milliseconds>(config->communication_timeout),
      logger.Session("task-callback-client"));
  if (!callbacks.ok()) {
    logger.Fatal("callback-client-failed", callbacks.status().message());
    return 2;
  }
  // Where cell presences come from: an external Locket, our own Locket service, or nothing
  // (then rep URLs come from -repUrlTemplate and no cell is ever considered vanished).
  std::unique_ptr<cells::PresenceRegistry> registry;
  std::unique_ptr<cells::LocketServer> locket_server;
  std::unique_ptr<cells::LocketClient> locket_client;
  std::unique_ptr<cells::CellDirectory> cell_directory;
  std::string locket_listen;
  if (!config->locket_address.empty()) {
    cells::LocketClientOptions options;
    options.address = config->locket_address;
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
    registry = std::make_unique<cells::PresenceRegistry>(clock.get(), logger.Session("locket"));
    locket_server = std::make_unique<cells::LocketServer>(registry.get(), logger.Session("locket"));
    cells::LocketServerOptions options;
    options.address = config->locket_listen_address;
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

  events::HubOptions hub_options;
  hub_options.logger = logger.Session("events");
  events::Hub hub(hub_options);

  RandomGuidGenerator guids;
  state::Engine engine(store->get(), clock.get(), &guids, &hub, logger.Session("state"),
                       state::Engine::Options{});
  engine.SetPeers(auctioneer.get(), reps->get(), &cells);
  engine.SetTaskOptions({config->max_task_retries});
  state::TaskCallbacks task_callbacks(&engine, callbacks->get(),
                                      static_cast<size_t>(config->task_callback_workers),
                                      logger.Session("task-callbacks"));
  engine.SetCallbackSink([&task_callbacks](state::TaskPtr task) { task_callbacks.Submit(task); });

  converger::Converger::Options converger_options;
  converger_options.interval = config->converge_repeat_interval;
  converger_options.task_durations = {config->kick_task_duration.count(),
                                      config->expire_pending_task_duration.count(),
                                      config->expire_completed_task_duration.count()};
  converger::Converger converger(&engine, &cells, &task_callbacks, converger_options,
                                 logger.Session("converger"));

  api::Api api(&engine, logger.Session("request"));
  api.SetCellsSource([&cells] { return cells.All(); });
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
  http::Server server(api_options, BuildApiRouter(&api, &hub, &pool, logger.Session("request")));
  if (Status s = server.Start(); !s.ok()) {
    logger.Fatal("listener-failed", s.message(), {{"address", config->listen_address}});
    std::fprintf(stderr, "bbs: cannot listen on %s: %s\n", config->listen_address.c_str(),
                 s.message().c_str());
    return 1;
  }
  // Until the store is loaded every request gets 503 (api.md §1.2).
  logger.Info("started",
              {{"address", api_options.host + ":" + std::to_string(server.port())},
               {"health_address", health_options.host + ":" + std::to_string(health.port())},
               {"locket_listen_address", locket_listen},
               {"database_driver", config->database_driver}});

  if (Status s = engine.Load(); !s.ok()) {
    logger.Fatal("loading-store-failed", s.ToString());
    server.Stop();
    return 1;
  }
  engine.Start();
  task_callbacks.Recover();
  converger.Start();
  server.SetReady(true);
  logger.Info("ready");

  int signo = 0;
  sigwait(&signals, &signo);
  logger.Info("shutting-down", {{"signal", signo}});
  converger.Stop();
  hub.Close();
  server.Stop();
  pool.Shutdown();
  task_callbacks.Shutdown();
  engine.Stop();
  if (locket_server) locket_server->Stop();
  health.Stop();
  logger.Info("exited");
  return 0;
}

}  // namespace
}  // namespace bbs::daemon

int main(int argc, char** argv) { return bbs::daemon::Run(argc, argv); }
