#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include <google/protobuf/message_lite.h>

#include "bbs/base/status.h"
#include "bbs/http/message.h"
#include "bbs/state/model.h"

namespace bbs::api {

// What a unary handler answers: the response body's bytes, or (the big lists) a source the
// HTTP server pulls them from while it writes (http::BodySource). Made implicitly from a
// std::string, so most handlers just return their bytes.
struct Body {
  Body() = default;
  Body(std::string bytes) : bytes(std::move(bytes)) {}  // NOLINT: implicit on purpose
  Body(const char* bytes) : bytes(bytes) {}             // NOLINT
  explicit Body(std::shared_ptr<http::BodySource> source) : source(std::move(source)) {}

  // The whole body as one string (reads the source, if any, to its end).
  std::string TakeString();

  std::string bytes;
  std::shared_ptr<http::BodySource> source;  // when set, the body (and `bytes` is empty)
};

// Lists whose body is at least this large are streamed from their EncodedList; smaller ones
// are built whole (one copy, and the references released at once).
inline constexpr std::size_t kStreamedListBytes = 1 << 20;

// The body of a list response: `list` copied into a string when small, else streamed.
Body ListBody(state::EncodedList list);

// The encoding of a response message whose only set field is `error` (field 1 in every BBS
// response that has one): success = zero bytes, failure = the Error sub-message.
std::string ErrorResponse(const Status& status);

// Appends `message` as length-delimited field `field_number` to `out`: the same bytes the
// response message would get for one element of a repeated (or a singular) message field.
// Used to stream large lists into a response without copying the records.
void AppendMessageField(std::string* out, int field_number,
                        const google::protobuf::MessageLite& message);

// Appends a string/bytes field.
void AppendBytesField(std::string* out, int field_number, const std::string& value);

}  // namespace bbs::api
