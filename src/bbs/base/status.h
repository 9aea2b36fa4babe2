#pragma once

#include <string>
#include <utility>
#include <variant>

namespace bbs {

// The error taxonomy of the BBS, value for value the wire enum `models.Error.Type`.
enum class ErrorCode : int {
  kUnknownError = 0,
  kInvalidRecord = 3,
  kInvalidRequest = 4,
  kInvalidResponse = 5,
  kInvalidProtobufMessage = 6,
  kInvalidJson = 7,
  kFailedToOpenEnvelope = 8,
  kInvalidStateTransition = 9,
  kResourceConflict = 11,
  kResourceExists = 12,
  kResourceNotFound = 13,
  kRouterError = 14,
  kActualLrpCannotBeClaimed = 15,
  kActualLrpCannotBeStarted = 16,
  kActualLrpCannotBeCrashed = 17,
  kActualLrpCannotBeFailed = 18,
  kActualLrpCannotBeRemoved = 19,
  kActualLrpCannotBeUnclaimed = 21,
  kRunningOnDifferentCell = 24,
  kGuidGeneration = 26,
  kDeserialize = 27,
  kDeadlock = 28,
  kUnrecoverable = 29,
  kLockCollision = 30,
  kTimeout = 31,
};

// Upstream's name of an error type ("ResourceNotFound", ...).
const char* ErrorCodeName(ErrorCode code);

// Upstream's fixed message for an error type, or "" where the message is always specific.
const char* CanonicalMessage(ErrorCode code);

// Status is the outcome of an operation: OK, or an ErrorCode with a human-readable message.
// A cheap value type; thread-compatible.
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message)
      : ok_(false), code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // An error with upstream's canonical message for `code`.
  static Status Error(ErrorCode code) { return Status(code, CanonicalMessage(code)); }

  bool ok() const { return ok_; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ResourceNotFound: the requested resource could not be found", or "OK".
  std::string ToString() const;

  bool operator==(const Status& other) const = default;

 private:
  bool ok_ = true;
  ErrorCode code_ = ErrorCode::kUnknownError;
  std::string message_;
};

// Shorthands for the errors with fixed messages.
inline Status NotFound() { return Status::Error(ErrorCode::kResourceNotFound); }
inline Status Exists() { return Status::Error(ErrorCode::kResourceExists); }
inline Status InvalidRequest() { return Status::Error(ErrorCode::kInvalidRequest); }
inline Status InvalidRequest(std::string message) {
  return Status(ErrorCode::kInvalidRequest, std::move(message));
}
inline Status UnknownError(std::string message) {
  return Status(ErrorCode::kUnknownError, std::move(message));
}

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: !ok()
  const Status& status() const { return std::get<Status>(v_); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace bbs
