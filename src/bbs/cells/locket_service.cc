#include "bbs/cells/locket_service.h"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

namespace bbs::cells {
namespace {

// The registry's errors mirror Locket's codes one to one (locket_registry.h).
grpc::Status ToGrpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  switch (status.code()) {
    case ErrorCode::kLockCollision:
      return {grpc::StatusCode::ALREADY_EXISTS, status.message()};
    case ErrorCode::kInvalidRequest:
      return {grpc::StatusCode::INVALID_ARGUMENT, status.message()};
    case ErrorCode::kResourceNotFound:
      return {grpc::StatusCode::NOT_FOUND, status.message()};
    default:
      return {grpc::StatusCode::UNKNOWN, status.message()};
  }
}

grpc::Status MissingResource() { return {grpc::StatusCode::INVALID_ARGUMENT, "invalid-resource"}; }

// The `uuid` metadata Diego's lock runner attaches, for the logs.
std::string RequestUuid(const grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("uuid");
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// Any int that is not LOCK or PRESENCE maps to a type the registry rejects as "invalid-type".
ResourceType TypeFromWire(int code) {
  return (code == models::LOCK || code == models::PRESENCE) ? static_cast<ResourceType>(code)
                                                            : ResourceType::kUnknown;
}

void ToProto(const LocketResource& resource, models::Resource* out) {
  out->set_key(resource.key);
  out->set_owner(resource.owner);
  out->set_value(resource.value);
  out->set_type(ResourceTypeName(resource.type));
  out->set_type_code(static_cast<models::TypeCode>(resource.type));
}

}  // namespace

LocketService::LocketService(LocketRegistry* registry, Logger logger)
    : registry_(registry), logger_(std::move(logger)) {}

grpc::Status LocketService::Lock(grpc::ServerContext* context, const models::LockRequest* request,
                                 models::LockResponse* /*response*/) {
  if (!request->has_resource()) return MissingResource();
  const models::Resource& r = request->resource();
  LocketResource resource{r.key(), r.owner(), r.value(), TypeFromWire(r.type_code())};
  Status status = registry_->Lock(resource, request->ttl_in_seconds());
  if (!status.ok() && status.code() != ErrorCode::kLockCollision) {
    logger_.Error("lock.failed", status.message(),
                  {{"key", r.key()}, {"owner", r.owner()}, {"request-uuid", RequestUuid(context)}});
  }
  return ToGrpc(status);
}

grpc::Status LocketService::Release(grpc::ServerContext* context,
                                    const models::ReleaseRequest* request,
                                    models::ReleaseResponse* /*response*/) {
  if (!request->has_resource()) return MissingResource();
  const models::Resource& r = request->resource();
  Status status = registry_->Release(r.key(), r.owner());
  if (!status.ok()) {
    logger_.Error("release.failed", status.message(),
                  {{"key", r.key()}, {"owner", r.owner()}, {"request-uuid", RequestUuid(context)}});
  }
  return ToGrpc(status);
}

grpc::Status LocketService::Fetch(grpc::ServerContext* /*context*/,
                                  const models::FetchRequest* request,
                                  models::FetchResponse* response) {
  Result<LocketResource> resource = registry_->Fetch(request->key());
  if (!resource.ok()) return ToGrpc(resource.status());
  ToProto(*resource, response->mutable_resource());
  return grpc::Status::OK;
}

grpc::Status LocketService::FetchAll(grpc::ServerContext* /*context*/,
                                     const models::FetchAllRequest* request,
                                     models::FetchAllResponse* response) {
  Result<std::vector<LocketResource>> resources =
      registry_->FetchAll(TypeFromWire(request->type_code()));
  if (!resources.ok()) return ToGrpc(resources.status());
  response->mutable_resources()->Reserve(static_cast<int>(resources->size()));
  for (const LocketResource& resource : *resources) {
    ToProto(resource, response->add_resources());
  }
  return grpc::Status::OK;
}

LocketServer::LocketServer(LocketRegistry* registry, Logger logger)
    : logger_(std::move(logger)), service_(registry, logger_.Session("locket")) {}

LocketServer::~LocketServer() { Stop(); }

Status LocketServer::Start(const LocketServerOptions& options) {
  auto credentials = MakeLocketServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, *credentials, &port);
  builder.RegisterService(&service_);
  // Accept client keep-alive pings often, with or without calls in flight, so that no Go
  // client (which pings at most every 10 s) is ever sent GOAWAY "too_many_pings".
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC binds with SO_REUSEPORT by default: a second server on a taken port would then start
  // and share the traffic instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return UnknownError("locket: cannot listen on " + options.address);
  }
  port_ = port;
  logger_.Info("locket.started",
               {{"address", options.address}, {"port", port_}, {"tls", options.tls.has_value()}});
  return Status::Ok();
}

void LocketServer::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
  logger_.Info("locket.stopped", {{"port", port_}});
}

}  // namespace bbs::cells
