#pragma once

#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "bbs/base/status.h"

namespace bbs::api {

// The JSON face of the unary routes (beyond upstream): a request whose Content-Type is
// application/json carries the request message as JSON, and a request whose Accept names
// application/json is answered with the response message as JSON. The JSON is upstream's Go
// shape, the one bbsctl prints and reads (bbs/models/model_json.h): upstream's json tags as
// keys, byte fields as strings, enums by name. Unknown keys in a request fail. Protobuf stays
// the default and is unchanged.

// True when `content_type` (a Content-Type header value) is application/json, any parameters.
bool IsJsonContentType(std::string_view content_type);

// True when `accept` (the Accept header values) names application/json.
bool AcceptsJson(std::string_view accept);

// Decodes `json` into `message`; false when it is not valid JSON for the message (including an
// unknown key).
bool DecodeJsonRequest(std::string_view json, google::protobuf::Message* message);

// The full name of the response message of the unary route `route_name` (e.g.
// "models.PingResponse"), or "" for a route this face does not know.
std::string_view ResponseTypeOf(std::string_view route_name);

// Re-encodes `protobuf`, the response body of `route_name`, as JSON. Fails (UnknownError) when the
// route is unknown or the body does not decode.
Result<std::string> ResponseToJson(std::string_view route_name, const std::string& protobuf);

}  // namespace bbs::api
