#pragma once

// gMock matchers for Status and Result<T>, so that a failing test reads "expected
// ResourceNotFound, got ResourceConflict: ..." instead of a bare `false`.
//
//   EXPECT_THAT(engine.DesireLrp(lrp, ""), IsOk());
//   EXPECT_THAT(result, StatusIs(ErrorCode::kResourceNotFound));
//   EXPECT_THAT(status, StatusIs(ErrorCode::kInvalidRequest, "the request received is invalid"));

#include <string>
#include <type_traits>

#include <gmock/gmock.h>

#include "bbs/base/status.h"

namespace bbs {
namespace status_matchers_internal {

// The error of a Status or Result, or null when it is OK (Result::status() requires !ok()).
template <typename T>
const Status* ErrorOf(const T& value) {
  if (value.ok()) return nullptr;
  if constexpr (std::is_same_v<std::decay_t<T>, Status>) {
    return &value;
  } else {
    return &value.status();
  }
}

}  // namespace status_matchers_internal

// Matches an OK Status or a Result holding a value; otherwise prints the error.
MATCHER(IsOk, "is OK") {
  const Status* error = status_matchers_internal::ErrorOf(arg);
  if (error == nullptr) return true;
  *result_listener << "got " << error->ToString();
  return false;
}

// Matches a failed Status or Result whose error is `code`.
MATCHER_P(StatusIs, code, std::string("has error ") + ErrorCodeName(code)) {
  const Status* error = status_matchers_internal::ErrorOf(arg);
  if (error != nullptr && error->code() == code) return true;
  *result_listener << "got " << (error == nullptr ? std::string("OK") : error->ToString());
  return false;
}

// Matches a failed Status or Result whose error is `code` with exactly `message`.
MATCHER_P2(StatusIs, code, message,
           std::string("has error ") + ErrorCodeName(code) + " \"" + std::string(message) + "\"") {
  const Status* error = status_matchers_internal::ErrorOf(arg);
  if (error != nullptr && error->code() == code && error->message() == message) return true;
  *result_listener << "got " << (error == nullptr ? std::string("OK") : error->ToString());
  return false;
}

}  // namespace bbs
