#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bbs/base/status.h"
#include "bbs/cli/transport.h"
#include "bbs/models/models.h"

namespace bbs::cli {

// Unary BBS calls as the Go client makes them (api.md §2): POST a protobuf body, decode the
// response, and turn its `error` into a Status. Client-side failures are reported as upstream's
// client does: InvalidResponse ("Invalid Response with status code: N") for a non-protobuf
// answer above 299, InvalidProtobufMessage for an undecodable body, Timeout for a deadline,
// kTransportError for anything else (connection refused, TLS).
Status CallBbs(HttpClient& client, const std::string& path,
               const google::protobuf::Message& request, google::protobuf::Message* response);

template <typename Response>
Result<Response> Call(HttpClient& client, const std::string& path,
                      const google::protobuf::Message& request) {
  Response response;
  Status s = CallBbs(client, path, request, &response);
  if (!s.ok()) return s;
  return response;
}

// Decodes one SSE event (api.md §4.5) into its payload message: base64 protobuf of the type
// its name names. Fails with InvalidProtobufMessage on a bad payload, InvalidRequest on an
// unknown name.
Result<std::unique_ptr<google::protobuf::Message>> DecodeEvent(const SseEvent& event);

// Follows one event stream, reconnecting as the Go client does (api.md §4.9): a broken
// connection or a 500/502/503/504 answer is retried every `retry_interval` (network errors at
// most `retries` times in a row) with Last-Event-ID set to the last id seen; a clean end of the
// stream ends the follow. `on_event` runs for each event and returns false to stop. `stop` is
// polled between attempts. Returns the error that ended it, OK on a clean end or a stop.
struct FollowOptions {
  std::string method = "POST";
  std::string path;
  std::string body;
  int retries = 3;
  std::chrono::milliseconds retry_interval{1000};
  std::function<bool()> stop;                 // may be empty
  std::function<void(EventStream*)> on_open;  // the stream now being read (or null)
};
Status FollowEvents(HttpClient& client, const FollowOptions& options,
                    const std::function<bool(const SseEvent&)>& on_event);

}  // namespace bbs::cli
