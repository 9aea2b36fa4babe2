#include "bbs/base/status.h"

namespace bbs {

namespace {

// Every error type: upstream's name and its fixed message ("" where it is always specific).
struct ErrorInfo {
  ErrorCode code;
  const char* name;
  const char* message;
};

constexpr ErrorInfo kErrors[] = {
    {ErrorCode::kUnknownError, "UnknownError", "the request failed for an unknown reason"},
    {ErrorCode::kInvalidRecord, "InvalidRecord", ""},
    {ErrorCode::kInvalidRequest, "InvalidRequest", "the request received is invalid"},
    {ErrorCode::kInvalidResponse, "InvalidResponse", ""},
    {ErrorCode::kInvalidProtobufMessage, "InvalidProtobufMessage", ""},
    {ErrorCode::kInvalidJson, "InvalidJSON", ""},
    {ErrorCode::kFailedToOpenEnvelope, "FailedToOpenEnvelope", "could not open envelope"},
    {ErrorCode::kInvalidStateTransition, "InvalidStateTransition", ""},
    {ErrorCode::kResourceConflict, "ResourceConflict",
     "the requested resource is in a conflicting state"},
    {ErrorCode::kResourceExists, "ResourceExists", "the requested resource already exists"},
    {ErrorCode::kResourceNotFound, "ResourceNotFound", "the requested resource could not be found"},
    {ErrorCode::kRouterError, "RouterError", ""},
    {ErrorCode::kActualLrpCannotBeClaimed, "ActualLRPCannotBeClaimed", "cannot claim actual LRP"},
    {ErrorCode::kActualLrpCannotBeStarted, "ActualLRPCannotBeStarted", "cannot start actual LRP"},
    {ErrorCode::kActualLrpCannotBeCrashed, "ActualLRPCannotBeCrashed", "cannot crash actual LRP"},
    {ErrorCode::kActualLrpCannotBeFailed, "ActualLRPCannotBeFailed", "cannot fail actual LRP"},
    {ErrorCode::kActualLrpCannotBeRemoved, "ActualLRPCannotBeRemoved", "cannot remove actual LRP"},
    {ErrorCode::kActualLrpCannotBeUnclaimed, "ActualLRPCannotBeUnclaimed",
     "cannot unclaim actual LRP"},
    {ErrorCode::kRunningOnDifferentCell, "RunningOnDifferentCell", ""},
    {ErrorCode::kGuidGeneration, "GUIDGeneration", "cannot generate random guid"},
    {ErrorCode::kDeserialize, "Deserialize", "could not deserialize record"},
    {ErrorCode::kDeadlock, "Deadlock", "the request failed due to deadlock"},
    {ErrorCode::kUnrecoverable, "Unrecoverable", ""},
    {ErrorCode::kLockCollision, "LockCollision", "lock already exists"},
    {ErrorCode::kTimeout, "Timeout", ""},
};

const ErrorInfo* Find(ErrorCode code) {
  for (const ErrorInfo& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr ? e->name : "UnknownError";
}

const char* CanonicalMessage(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr ? e->message : "";
}

std::string Status::ToString() const {
  if (ok_) return "OK";
  return std::string(ErrorCodeName(code_)) + ": " + message_;
}

}  // namespace bbs
