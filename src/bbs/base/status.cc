#include "bbs/base/status.h"

namespace bbs {

namespace {

// Every error type: upstream's name and its fixed message ("" where it is always specific).
struct ErrorInfo {
  ErrorCode code;
  const char* name;
  const char* message;
};

using enum ErrorCode;

constexpr ErrorInfo kErrors[] = {
    {kUnknownError, "UnknownError", "the request failed for an unknown reason"},
    {kInvalidRecord, "InvalidRecord", ""},
    {kInvalidRequest, "InvalidRequest", "the request received is invalid"},
    {kInvalidResponse, "InvalidResponse", ""},
    {kInvalidProtobufMessage, "InvalidProtobufMessage", ""},
    {kInvalidJson, "InvalidJSON", ""},
    {kFailedToOpenEnvelope, "FailedToOpenEnvelope", "could not open envelope"},
    {kInvalidStateTransition, "InvalidStateTransition", ""},
    {kResourceConflict, "ResourceConflict", "the requested resource is in a conflicting state"},
    {kResourceExists, "ResourceExists", "the requested resource already exists"},
    {kResourceNotFound, "ResourceNotFound", "the requested resource could not be found"},
    {kRouterError, "RouterError", ""},
    {kActualLrpCannotBeClaimed, "ActualLRPCannotBeClaimed", "cannot claim actual LRP"},
    {kActualLrpCannotBeStarted, "ActualLRPCannotBeStarted", "cannot start actual LRP"},
    {kActualLrpCannotBeCrashed, "ActualLRPCannotBeCrashed", "cannot crash actual LRP"},
    {kActualLrpCannotBeFailed, "ActualLRPCannotBeFailed", "cannot fail actual LRP"},
    {kActualLrpCannotBeRemoved, "ActualLRPCannotBeRemoved", "cannot remove actual LRP"},
    {kActualLrpCannotBeUnclaimed, "ActualLRPCannotBeUnclaimed", "cannot unclaim actual LRP"},
    {kRunningOnDifferentCell, "RunningOnDifferentCell", ""},
    {kGuidGeneration, "GUIDGeneration", "cannot generate random guid"},
    {kDeserialize, "Deserialize", "could not deserialize record"},
    {kDeadlock, "Deadlock", "the request failed due to deadlock"},
    {kUnrecoverable, "Unrecoverable", ""},
    {kLockCollision, "LockCollision", "lock already exists"},
    {kTimeout, "Timeout", ""},
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
