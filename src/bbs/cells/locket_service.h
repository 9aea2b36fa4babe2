#pragma once

#include <memory>
#include <optional>
#include <string>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/cells/locket_registry.h"
#include "bbs/cells/locket_tls.h"
#include "locket/locket.grpc.pb.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace bbs::cells {

// The Locket gRPC API (`models.Locket`, locket.md §3-§5) over a LocketRegistry: codes and
// messages exactly as locket.md §5.5. A request without `resource` (which crashes upstream)
// gets INVALID_ARGUMENT "invalid-resource". Thread-safe.
class LocketService final : public models::Locket::Service {
 public:
  // `registry` must outlive the service.
  LocketService(LocketRegistry* registry, Logger logger);

  grpc::Status Lock(grpc::ServerContext* context, const models::LockRequest* request,
                    models::LockResponse* response) override;
  grpc::Status Fetch(grpc::ServerContext* context, const models::FetchRequest* request,
                     models::FetchResponse* response) override;
  grpc::Status Release(grpc::ServerContext* context, const models::ReleaseRequest* request,
                       models::ReleaseResponse* response) override;
  grpc::Status FetchAll(grpc::ServerContext* context, const models::FetchAllRequest* request,
                        models::FetchAllResponse* response) override;

 private:
  LocketRegistry* registry_;
  Logger logger_;
};

// Where and how a LocketServer listens.
struct LocketServerOptions {
  std::string address = "127.0.0.1:0";  // "host:port"; port 0 picks a free port
  std::optional<LocketTls> tls;         // mutual TLS when set; plaintext otherwise
};

// Serves a LocketService on one address. Start/Stop are not thread-safe against each other;
// the served calls run on gRPC's threads.
class LocketServer {
 public:
  // `registry` must outlive the server.
  LocketServer(LocketRegistry* registry, Logger logger);
  ~LocketServer();  // Stops.
  LocketServer(const LocketServer&) = delete;
  LocketServer& operator=(const LocketServer&) = delete;

  // Binds and starts serving. Fails with InvalidRequest when the TLS files cannot be read and
  // with UnknownError when the address cannot be bound. REQUIRES: not started.
  Status Start(const LocketServerOptions& options);
  // The bound port (the chosen one when the address asked for port 0); 0 before Start.
  int port() const { return port_; }
  // Finishes in-flight calls (cancelling those still running after a short grace period) and
  // stops listening. Idempotent.
  void Stop();

 private:
  Logger logger_;
  LocketService service_;  // outlives server_ (declared first, destroyed last)
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace bbs::cells
