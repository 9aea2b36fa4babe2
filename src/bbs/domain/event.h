#pragma once

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace bbs::domain {

// Which hub (and so which streams) an event belongs to (api.md §4.5). Upstream has one hub per
// family and computes `actual_lrp_crashed` twice, once for the group hub and once for the
// instance hub (behavior.md §1.6.2); a crashed event therefore carries the family of the hub it
// was computed for, and kActualLrpCrashed is for a producer that has one crashed event for both.
enum class EventFamily {
  kDesiredLrp,         // desired_lrp_*: both LRP stream families
  kActualLrpInstance,  // actual_lrp_instance_* (+ its crashed events): lrp_instances streams
  kActualLrpGroup,     // actual_lrp_created/changed/removed (+ its crashed events): /v1/events*
  kActualLrpCrashed,   // actual_lrp_crashed: both LRP stream families
  kTask,               // task_*: task streams
};

// One event as computed by the write path, before framing. Immutable once published.
struct Event {
  EventFamily family;
  std::string type;  // the SSE `event:` name, e.g. "actual_lrp_instance_changed"
  std::shared_ptr<const google::protobuf::Message> payload;
  // Cell ids that let this event through a cell_id filter (api.md §4.7). Empty for desired
  // LRP and task events (never filtered).
  std::vector<std::string> cell_ids;
  // Group events only: the event's group cannot be resolved to one LRP (both slots empty).
  // Upstream's cell filter fails on such an event and ends the cell-filtered stream that meets
  // it (api.md §4.7 quirk); the hub does the same, and unfiltered streams receive it.
  bool unresolved_group = false;
};

// Receives committed events in commit order (the event hub implements it). Implementations
// must not block for long.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  virtual void Publish(const std::vector<Event>& batch) = 0;
};

}  // namespace bbs::domain
