#pragma once

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace bbs::events {

// Which hub (and so which streams) an event belongs to (api.md §4.5).
enum class Family {
  kDesiredLrp,         // desired_lrp_*: both LRP stream families
  kActualLrpInstance,  // actual_lrp_instance_*: lrp_instances streams
  kActualLrpGroup,     // actual_lrp_created/changed/removed: deprecated /v1/events streams
  kActualLrpCrashed,   // actual_lrp_crashed: both LRP stream families
  kTask,               // task_*: task streams
};

// One event as computed by the write path, before framing. Immutable once published.
struct Event {
  Family family;
  std::string type;  // the SSE `event:` name, e.g. "actual_lrp_instance_changed"
  std::shared_ptr<const google::protobuf::Message> payload;
  // Cell ids that let this event through a cell_id filter (api.md §4.7). Empty for desired
  // LRP and task events (never filtered).
  std::vector<std::string> cell_ids;
};

// Receives committed events in commit order. Implementations must not block for long.
class Publisher {
 public:
  virtual ~Publisher() = default;
  virtual void Publish(const std::vector<Event>& batch) = 0;
};

// Drops everything (until the event hub exists, and in tests that do not look at events).
class NullPublisher final : public Publisher {
 public:
  void Publish(const std::vector<Event>&) override {}
};

}  // namespace bbs::events
