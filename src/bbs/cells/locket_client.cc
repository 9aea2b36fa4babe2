#include "bbs/cells/locket_client.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "locket/locket.grpc.pb.h"

namespace bbs::cells {
namespace {

// Go's names of the gRPC codes (codes.Code's String), indexed by the code.
constexpr const char* kCodeNames[] = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};
static_assert(static_cast<size_t>(grpc::StatusCode::DEADLINE_EXCEEDED) == 4 &&
              static_cast<size_t>(grpc::StatusCode::UNAUTHENTICATED) + 1 == std::size(kCodeNames));

const char* CodeName(grpc::StatusCode code) {
  auto index = static_cast<size_t>(code);
  return index < std::size(kCodeNames) ? kCodeNames[index] : "Code";
}

Status FromGrpc(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::ALREADY_EXISTS:
      return Status(ErrorCode::kLockCollision, status.error_message());
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status(ErrorCode::kInvalidRequest, status.error_message());
    case grpc::StatusCode::NOT_FOUND:
      return Status(ErrorCode::kResourceNotFound, status.error_message());
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status(ErrorCode::kTimeout, "locket: DeadlineExceeded: " + status.error_message());
    default:
      return UnknownError(std::string("locket: ") + CodeName(status.error_code()) + ": " +
                          status.error_message());
  }
}

void Prepare(grpc::ClientContext* context, const LocketCallOptions& call) {
  if (call.deadline.count() > 0) {
    context->set_deadline(std::chrono::system_clock::now() + call.deadline);
  }
  context->set_wait_for_ready(call.wait_for_ready);
  if (!call.request_uuid.empty()) context->AddMetadata("uuid", call.request_uuid);
}

LocketResource FromProto(const models::Resource& r) {
  LocketResource out;
  out.key = r.key();
  out.owner = r.owner();
  out.value = r.value();
  // The server derives type_code from its stored type string; trust the code.
  int code = r.type_code();
  out.type = (code == models::LOCK || code == models::PRESENCE) ? static_cast<ResourceType>(code)
                                                                : ResourceType::kUnknown;
  return out;
}

}  // namespace

struct LocketClient::Impl {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<models::Locket::Stub> stub;
  metrics::BbsMetrics* metrics = nullptr;

  // call(), recorded on `metrics` as one outbound call to Locket.
  template <typename Call>
  grpc::Status Observed(Call call) {
    if (metrics == nullptr) return call();
    auto started = std::chrono::steady_clock::now();
    grpc::Status status = call();
    metrics->ObserveOutbound(
        metrics::OutboundPeer::kLocket, status.ok(),
        std::chrono::duration_cast<metrics::Nanos>(std::chrono::steady_clock::now() - started));
    return status;
  }
};

Result<std::unique_ptr<LocketClient>> LocketClient::Create(const LocketClientOptions& options) {
  auto credentials = MakeLocketChannelCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  grpc::ChannelArguments args;
  auto keepalive_time =
      std::max<std::chrono::seconds>(options.keepalive_time, std::chrono::seconds(10));
  auto keepalive_timeout =
      options.keepalive_timeout.count() > 0 ? options.keepalive_timeout : std::chrono::seconds(20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
              static_cast<int>(std::chrono::milliseconds(keepalive_time).count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
              static_cast<int>(std::chrono::milliseconds(keepalive_timeout).count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Go clients stop at 4 MiB; reading a larger cell set is harmless for us.
  args.SetMaxReceiveMessageSize(-1);
  auto impl = std::make_unique<Impl>();
  impl->channel = grpc::CreateCustomChannel(options.address, *credentials, args);
  impl->stub = models::Locket::NewStub(impl->channel);
  impl->metrics = options.metrics;
  return std::unique_ptr<LocketClient>(new LocketClient(std::move(impl)));
}

LocketClient::LocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocketClient::~LocketClient() = default;

Status LocketClient::WaitForConnected(std::chrono::milliseconds timeout) {
  if (impl_->channel->WaitForConnected(std::chrono::system_clock::now() + timeout)) {
    return Status::Ok();
  }
  return Status(ErrorCode::kTimeout,
                "locket: not connected within " + std::to_string(timeout.count()) + " ms");
}

Status LocketClient::Lock(const LocketResource& resource, int64_t ttl_seconds,
                          const LocketCallOptions& call) {
  models::LockRequest request;
  models::Resource* r = request.mutable_resource();
  r->set_key(resource.key);
  r->set_owner(resource.owner);
  r->set_value(resource.value);
  r->set_type(ResourceTypeName(resource.type));
  r->set_type_code(static_cast<models::TypeCode>(resource.type));
  request.set_ttl_in_seconds(ttl_seconds);
  models::LockResponse response;
  grpc::ClientContext context;
  Prepare(&context, call);
  return FromGrpc(impl_->Observed([&] { return impl_->stub->Lock(&context, request, &response); }));
}

Status LocketClient::Release(const std::string& key, const std::string& owner,
                             const LocketCallOptions& call) {
  models::ReleaseRequest request;
  request.mutable_resource()->set_key(key);
  request.mutable_resource()->set_owner(owner);
  models::ReleaseResponse response;
  grpc::ClientContext context;
  Prepare(&context, call);
  return FromGrpc(
      impl_->Observed([&] { return impl_->stub->Release(&context, request, &response); }));
}

Result<LocketResource> LocketClient::Fetch(const std::string& key, const LocketCallOptions& call) {
  models::FetchRequest request;
  request.set_key(key);
  models::FetchResponse response;
  grpc::ClientContext context;
  Prepare(&context, call);
  if (Status s = FromGrpc(
          impl_->Observed([&] { return impl_->stub->Fetch(&context, request, &response); }));
      !s.ok())
    return s;
  return FromProto(response.resource());
}

Result<std::vector<LocketResource>> LocketClient::FetchAll(ResourceType type,
                                                           const LocketCallOptions& call) {
  models::FetchAllRequest request;
  request.set_type(ResourceTypeName(type));
  request.set_type_code(static_cast<models::TypeCode>(type));
  models::FetchAllResponse response;
  grpc::ClientContext context;
  Prepare(&context, call);
  if (Status s = FromGrpc(
          impl_->Observed([&] { return impl_->stub->FetchAll(&context, request, &response); }));
      !s.ok()) {
    return s;
  }
  std::vector<LocketResource> resources;
  resources.reserve(static_cast<size_t>(response.resources_size()));
  for (const models::Resource& r : response.resources()) resources.push_back(FromProto(r));
  return resources;
}

}  // namespace bbs::cells
