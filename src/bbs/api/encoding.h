#pragma once

#include <string>

#include <google/protobuf/message_lite.h>

#include "bbs/base/status.h"

namespace bbs::api {

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
