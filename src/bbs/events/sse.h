#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "bbs/http/message.h"

// The bytes of the event streams (api.md §4.2-§4.4). Upstream hijacks the connection and writes
// the chunked encoding by hand; so do we, byte for byte:
//
//   <size in lower-case hex>;\r\n            one HTTP chunk per event, empty chunk extension
//   id: <id>\nevent: <name>\ndata: <base64 of the protobuf payload>\n\n
//   \r\n
//
// and "0\r\n\r\n" when the stream ends. Pure functions, thread-safe.
namespace bbs::events {

// The last chunk, written when a stream ends for any server-side reason.
inline constexpr std::string_view kStreamTerminator = "0\r\n\r\n";

// Standard base64 (RFC 4648 alphabet with '+' and '/', '=' padding, no line breaks).
std::string Base64(std::string_view bytes);

// The part of an event's SSE text that follows its id line and is the same on every
// connection: "event: <type>\ndata: <base64(payload_bytes)>\n\n".
std::string EventBody(std::string_view type, std::string_view payload_bytes);
// The same for a message: serialises `payload` first.
std::string EventBody(std::string_view type, const google::protobuf::Message& payload);

// Appends to *out the chunk of one event: "<hex>;\r\n" "id: <id>\n" <body> "\r\n", where `body`
// comes from EventBody(). REQUIRES: out != nullptr.
void AppendEventChunk(std::string* out, std::string_view id, std::string_view body);

// The response of a successful stream request (api.md §4.2): status 200, Content-Type
// "text/event-stream; charset=utf-8", Cache-Control "no-cache, no-store, must-revalidate",
// Connection "keep-alive", Transfer-Encoding "chunked", and `stream` as the body.
http::Response EventStreamResponse(std::shared_ptr<http::Stream> stream);

}  // namespace bbs::events
