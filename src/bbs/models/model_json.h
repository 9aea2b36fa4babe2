#pragma once

#include <string>
#include <string_view>

#include "bbs/base/status.h"

namespace google::protobuf {
class Message;
}

namespace bbs::wire {

// The JSON face of the BBS models as cfdot prints them: Go's encoding/json applied to the Go
// models (gogo-protobuf structs), whose json tags are upstream's field names. The rules, from
// upstream's model definitions:
// - a field's key is its proto name, except where upstream renamed it ("rootfs", "env",
//   "run", ...); fields upstream tags without `omitempty` are always written, the others only
//   when not empty;
// - embedded parts are flattened into their parent (ActualLRP's key, instance key and net info;
//   a scheduling info's key and resource; a task's definition);
// - enums are written by name ("RUNNING", "Pending", "ORDINARY"); Locket's type code as a number;
// - a single-field oneof is Go's interface field: `"OptionalRoutable":{"Routable":true}` or
//   `null`;
// - routes are a map of raw JSON documents; maps are written with their keys sorted; an empty
//   always-written list is `null`; strings are escaped as Go escapes them.
// Stateless; thread-safe.

// Appends `message` in that form (no trailing newline).
void AppendModelJson(std::string& out, const google::protobuf::Message& message);
std::string ModelJson(const google::protobuf::Message& message);

// Fills `message` from `json` (a spec given to create-desired-lrp, create-task, ...) by the
// same rules, as Go's json.Unmarshal would: keys match case-insensitively, unknown keys are
// ignored, `null` leaves a field unset, embedded parts may be given flat. DesiredLRPUpdate takes
// upstream's update shape {"instances","routes","annotation","metric_tags"}. Fails with
// InvalidJSON and a message naming the problem. `reject_unknown`: an unknown key fails instead
// (the server's JSON API); a DesiredLRPUpdate nested in a request takes the update shape too.
Status ParseModelJson(std::string_view json, google::protobuf::Message* message,
                      bool reject_unknown = false);

}  // namespace bbs::wire
