#pragma once

#include <string>
#include <type_traits>

#include <gmock/gmock.h>

#include "bbs/base/status.h"

namespace bbs::cells::testing {

// Matches an OK Status or Result; otherwise prints the error.
MATCHER(IsOk, "is OK") {
  if (arg.ok()) return true;
  if constexpr (std::is_same_v<std::decay_t<decltype(arg)>, Status>) {
    *result_listener << "got " << arg.ToString();
  } else {
    *result_listener << "got " << arg.status().ToString();
  }
  return false;
}

// Matches a non-OK Status with `code` and `message`.
MATCHER_P2(StatusIs, code, message,
           std::string("is ") + ErrorCodeName(code) + " \"" + std::string(message) + "\"") {
  if (!arg.ok() && arg.code() == code && arg.message() == message) return true;
  *result_listener << "got " << arg.ToString();
  return false;
}

}  // namespace bbs::cells::testing
