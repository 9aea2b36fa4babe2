#include "bbs/cli/bbs_api.h"

#include <openssl/evp.h>

#include <thread>

namespace bbs::cli {
namespace {

Result<std::string> Unbase64(const std::string& text) {
  if (text.size() % 4 != 0) return Status(ErrorCode::kInvalidProtobufMessage, "invalid base64");
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return Status(ErrorCode::kInvalidProtobufMessage, "invalid base64");
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::unique_ptr<google::protobuf::Message> NewEventMessage(const std::string& name) {
  if (name == "desired_lrp_created") return std::make_unique<models::DesiredLRPCreatedEvent>();
  if (name == "desired_lrp_changed") return std::make_unique<models::DesiredLRPChangedEvent>();
  if (name == "desired_lrp_removed") return std::make_unique<models::DesiredLRPRemovedEvent>();
  if (name == "actual_lrp_instance_created") {
    return std::make_unique<models::ActualLRPInstanceCreatedEvent>();
  }
  if (name == "actual_lrp_instance_changed") {
    return std::make_unique<models::ActualLRPInstanceChangedEvent>();
  }
  if (name == "actual_lrp_instance_removed") {
    return std::make_unique<models::ActualLRPInstanceRemovedEvent>();
  }
  if (name == "actual_lrp_crashed") return std::make_unique<models::ActualLRPCrashedEvent>();
  if (name == "actual_lrp_created") return std::make_unique<models::ActualLRPCreatedEvent>();
  if (name == "actual_lrp_changed") return std::make_unique<models::ActualLRPChangedEvent>();
  if (name == "actual_lrp_removed") return std::make_unique<models::ActualLRPRemovedEvent>();
  if (name == "task_created") return std::make_unique<models::TaskCreatedEvent>();
  if (name == "task_changed") return std::make_unique<models::TaskChangedEvent>();
  if (name == "task_removed") return std::make_unique<models::TaskRemovedEvent>();
  return nullptr;
}

bool Retryable(int status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

}  // namespace

Status CallBbs(HttpClient& client, const std::string& path,
               const google::protobuf::Message& request, google::protobuf::Message* response) {
  auto reply = client.Request("POST", path, request.SerializeAsString(), "application/x-protobuf");
  if (!reply.ok()) return reply.status();
  if (reply->status > 299 && reply->Header("content-type") != "application/x-protobuf") {
    return Status(ErrorCode::kInvalidResponse,
                  "Invalid Response with status code: " + std::to_string(reply->status));
  }
  if (!response->ParseFromString(reply->body)) {
    return Status(ErrorCode::kInvalidProtobufMessage, "failed to unmarshal proto");
  }
  const auto* d = response->GetDescriptor();
  const auto* error_field = d->FindFieldByName("error");
  if (error_field != nullptr && response->GetReflection()->HasField(*response, error_field)) {
    const auto& error = static_cast<const models::Error&>(
        response->GetReflection()->GetMessage(*response, error_field));
    return Status(static_cast<ErrorCode>(error.type()), error.message());
  }
  return Status::Ok();
}

Result<std::unique_ptr<google::protobuf::Message>> DecodeEvent(const SseEvent& event) {
  auto message = NewEventMessage(event.name);
  if (message == nullptr) {
    return Status(ErrorCode::kInvalidRequest, "unrecognized event type: " + event.name);
  }
  auto bytes = Unbase64(event.data);
  if (!bytes.ok()) return bytes.status();
  if (bytes->empty() || !message->ParseFromString(*bytes)) {
    return Status(ErrorCode::kInvalidProtobufMessage,
                  "invalid protobuf payload in event " + event.name);
  }
  return message;
}

Status FollowEvents(HttpClient& client, const FollowOptions& options,
                    const std::function<bool(const SseEvent&)>& on_event) {
  std::string last_id;
  int failures = 0;
  auto stopped = [&] { return options.stop && options.stop(); };
  for (;;) {
    if (stopped()) return Status::Ok();
    auto opened = client.OpenStream(options.method, options.path, options.body, last_id);
    if (!opened.ok()) {
      // The first connect fails at once, as the Go client's does after its retries.
      if (++failures > options.retries) return opened.status();
      std::this_thread::sleep_for(options.retry_interval);
      continue;
    }
    if (opened->stream == nullptr) {
      if (Retryable(opened->head.status)) {
        std::this_thread::sleep_for(options.retry_interval);
        continue;
      }
      return Status(ErrorCode::kInvalidResponse,
                    "Invalid Response with status code: " + std::to_string(opened->head.status));
    }
    failures = 0;
    if (options.on_open) options.on_open(opened->stream.get());
    for (;;) {
      auto next = opened->stream->Next();
      if (!next.ok()) break;  // broken: reconnect with Last-Event-ID
      if (!next->has_value()) {
        if (options.on_open) options.on_open(nullptr);
        return Status::Ok();  // clean end (io.EOF for the Go consumer)
      }
      last_id = (*next)->id;
      if (!on_event(**next)) {
        if (options.on_open) options.on_open(nullptr);
        return Status::Ok();
      }
    }
    if (options.on_open) options.on_open(nullptr);
    if (stopped()) return Status::Ok();
    std::this_thread::sleep_for(options.retry_interval);
  }
}

}  // namespace bbs::cli
