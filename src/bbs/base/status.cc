#include "bbs/base/status.h"

namespace bbs {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknownError:
      return "UnknownError";
    case ErrorCode::kInvalidRecord:
      return "InvalidRecord";
    case ErrorCode::kInvalidRequest:
      return "InvalidRequest";
    case ErrorCode::kInvalidResponse:
      return "InvalidResponse";
    case ErrorCode::kInvalidProtobufMessage:
      return "InvalidProtobufMessage";
    case ErrorCode::kInvalidJson:
      return "InvalidJSON";
    case ErrorCode::kFailedToOpenEnvelope:
      return "FailedToOpenEnvelope";
    case ErrorCode::kInvalidStateTransition:
      return "InvalidStateTransition";
    case ErrorCode::kResourceConflict:
      return "ResourceConflict";
    case ErrorCode::kResourceExists:
      return "ResourceExists";
    case ErrorCode::kResourceNotFound:
      return "ResourceNotFound";
    case ErrorCode::kRouterError:
      return "RouterError";
    case ErrorCode::kActualLrpCannotBeClaimed:
      return "ActualLRPCannotBeClaimed";
    case ErrorCode::kActualLrpCannotBeStarted:
      return "ActualLRPCannotBeStarted";
    case ErrorCode::kActualLrpCannotBeCrashed:
      return "ActualLRPCannotBeCrashed";
    case ErrorCode::kActualLrpCannotBeFailed:
      return "ActualLRPCannotBeFailed";
    case ErrorCode::kActualLrpCannotBeRemoved:
      return "ActualLRPCannotBeRemoved";
    case ErrorCode::kActualLrpCannotBeUnclaimed:
      return "ActualLRPCannotBeUnclaimed";
    case ErrorCode::kRunningOnDifferentCell:
      return "RunningOnDifferentCell";
    case ErrorCode::kGuidGeneration:
      return "GUIDGeneration";
    case ErrorCode::kDeserialize:
      return "Deserialize";
    case ErrorCode::kDeadlock:
      return "Deadlock";
    case ErrorCode::kUnrecoverable:
      return "Unrecoverable";
    case ErrorCode::kLockCollision:
      return "LockCollision";
    case ErrorCode::kTimeout:
      return "Timeout";
  }
  return "UnknownError";
}

const char* CanonicalMessage(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknownError:
      return "the request failed for an unknown reason";
    case ErrorCode::kInvalidRequest:
      return "the request received is invalid";
    case ErrorCode::kFailedToOpenEnvelope:
      return "could not open envelope";
    case ErrorCode::kResourceConflict:
      return "the requested resource is in a conflicting state";
    case ErrorCode::kResourceExists:
      return "the requested resource already exists";
    case ErrorCode::kResourceNotFound:
      return "the requested resource could not be found";
    case ErrorCode::kActualLrpCannotBeClaimed:
      return "cannot claim actual LRP";
    case ErrorCode::kActualLrpCannotBeStarted:
      return "cannot start actual LRP";
    case ErrorCode::kActualLrpCannotBeCrashed:
      return "cannot crash actual LRP";
    case ErrorCode::kActualLrpCannotBeFailed:
      return "cannot fail actual LRP";
    case ErrorCode::kActualLrpCannotBeRemoved:
      return "cannot remove actual LRP";
    case ErrorCode::kActualLrpCannotBeUnclaimed:
      return "cannot unclaim actual LRP";
    case ErrorCode::kGuidGeneration:
      return "cannot generate random guid";
    case ErrorCode::kDeserialize:
      return "could not deserialize record";
    case ErrorCode::kDeadlock:
      return "the request failed due to deadlock";
    case ErrorCode::kLockCollision:
      return "lock already exists";
    default:
      return "";
  }
}

std::string Status::ToString() const {
  if (ok_) return "OK";
  return std::string(ErrorCodeName(code_)) + ": " + message_;
}

}  // namespace bbs
