#include "bbs/domain/events.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "bbs/models/conversion.h"
#include "models/events.pb.h"

namespace bbs::domain {
namespace {

Event Make(EventFamily family, const char* type,
           std::shared_ptr<const google::protobuf::Message> payload,
           std::vector<std::string> cells = {}) {
  return Event{family, type, std::move(payload), std::move(cells)};
}

bool InstanceKeyEmpty(const models::ActualLRPInstanceKey& key) {
  return key.instance_guid().empty() && key.cell_id().empty();
}

bool ActualLrpKeyEmpty(const models::ActualLRPKey& key) {
  return key.process_guid().empty() && key.index() == 0 && key.domain().empty();
}

// A group event; the cell filter (§4.7) sees the cells of the groups' resolved LRPs.
Event GroupEvent(const char* type, std::shared_ptr<const google::protobuf::Message> payload,
                 const std::vector<const models::ActualLRPGroup*>& groups) {
  Event event{EventFamily::kActualLrpGroup, type, std::move(payload), {}};
  for (const models::ActualLRPGroup* group : groups) {
    const models::ActualLRP* resolved = wire::ResolveGroup(*group);
    if (resolved == nullptr) {
      event.unresolved_group = true;
      continue;
    }
    const std::string& cell = resolved->actual_lrp_instance_key().cell_id();
    if (std::find(event.cell_ids.begin(), event.cell_ids.end(), cell) == event.cell_ids.end()) {
      event.cell_ids.push_back(cell);
    }
  }
  return event;
}

}  // namespace

Event DesiredLrpCreatedEvent(const models::DesiredLRP& lrp, const std::string& trace_id) {
  auto e = std::make_shared<models::DesiredLRPCreatedEvent>();
  *e->mutable_desired_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(EventFamily::kDesiredLrp, "desired_lrp_created", std::move(e));
}

Event DesiredLrpChangedEvent(const models::DesiredLRP& before, const models::DesiredLRP& after,
                             const std::string& trace_id) {
  auto e = std::make_shared<models::DesiredLRPChangedEvent>();
  *e->mutable_before() = before;
  *e->mutable_after() = after;
  e->set_trace_id(trace_id);
  return Make(EventFamily::kDesiredLrp, "desired_lrp_changed", std::move(e));
}

Event DesiredLrpRemovedEvent(const models::DesiredLRP& lrp, const std::string& trace_id) {
  auto e = std::make_shared<models::DesiredLRPRemovedEvent>();
  *e->mutable_desired_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(EventFamily::kDesiredLrp, "desired_lrp_removed", std::move(e));
}

Event ActualLrpInstanceCreatedEvent(const models::ActualLRP& lrp, const std::string& trace_id) {
  auto e = std::make_shared<models::ActualLRPInstanceCreatedEvent>();
  *e->mutable_actual_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(EventFamily::kActualLrpInstance, "actual_lrp_instance_created", std::move(e),
              {lrp.actual_lrp_instance_key().cell_id()});
}

Event ActualLrpInstanceRemovedEvent(const models::ActualLRP& lrp, const std::string& trace_id) {
  auto e = std::make_shared<models::ActualLRPInstanceRemovedEvent>();
  *e->mutable_actual_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(EventFamily::kActualLrpInstance, "actual_lrp_instance_removed", std::move(e),
              {lrp.actual_lrp_instance_key().cell_id()});
}

Event ActualLrpInstanceChangedEvent(const models::ActualLRP& before, const models::ActualLRP& after,
                                    const std::string& trace_id) {
  auto payload = std::make_shared<models::ActualLRPInstanceChangedEvent>();
  *payload->mutable_actual_lrp_key() =
      ActualLrpKeyEmpty(after.actual_lrp_key()) ? before.actual_lrp_key() : after.actual_lrp_key();
  *payload->mutable_actual_lrp_instance_key() = InstanceKeyEmpty(after.actual_lrp_instance_key())
                                                    ? before.actual_lrp_instance_key()
                                                    : after.actual_lrp_instance_key();
  *payload->mutable_before() = InfoOf(before);
  *payload->mutable_after() = InfoOf(after);
  payload->set_trace_id(trace_id);
  std::string cell = payload->actual_lrp_instance_key().cell_id();
  return Event{EventFamily::kActualLrpInstance,
               "actual_lrp_instance_changed",
               std::move(payload),
               {std::move(cell)}};
}

Event ActualLrpCrashedEvent(const models::ActualLRP& before, const models::ActualLRP& after,
                            EventFamily family) {
  auto payload = std::make_shared<models::ActualLRPCrashedEvent>();
  *payload->mutable_actual_lrp_key() = after.actual_lrp_key();
  *payload->mutable_actual_lrp_instance_key() = before.actual_lrp_instance_key();
  payload->set_crash_count(after.crash_count());
  payload->set_crash_reason(after.crash_reason());
  payload->set_since(after.since());
  return Event{family,
               "actual_lrp_crashed",
               std::move(payload),
               {before.actual_lrp_instance_key().cell_id()}};
}

Event ActualLrpGroupCreatedEvent(const models::ActualLRPGroup& group) {
  auto payload = std::make_shared<models::ActualLRPCreatedEvent>();
  *payload->mutable_actual_lrp_group() = group;
  return GroupEvent("actual_lrp_created", payload, {&payload->actual_lrp_group()});
}

Event ActualLrpGroupChangedEvent(const models::ActualLRPGroup& before,
                                 const models::ActualLRPGroup& after) {
  auto payload = std::make_shared<models::ActualLRPChangedEvent>();
  *payload->mutable_before() = before;
  *payload->mutable_after() = after;
  return GroupEvent("actual_lrp_changed", payload, {&payload->before(), &payload->after()});
}

Event ActualLrpGroupRemovedEvent(const models::ActualLRPGroup& group) {
  auto payload = std::make_shared<models::ActualLRPRemovedEvent>();
  *payload->mutable_actual_lrp_group() = group;
  return GroupEvent("actual_lrp_removed", payload, {&payload->actual_lrp_group()});
}

models::ActualLRPGroup GroupOf(const models::ActualLRP& lrp) {
  models::ActualLRPGroup group;
  if (lrp.presence() == models::ActualLRP::EVACUATING) {
    *group.mutable_evacuating() = lrp;
  } else {
    *group.mutable_instance() = lrp;
  }
  return group;
}

models::ActualLRPInfo InfoOf(const models::ActualLRP& lrp) {
  models::ActualLRPInfo info;
  *info.mutable_actual_lrp_net_info() = lrp.actual_lrp_net_info();
  info.set_crash_count(lrp.crash_count());
  info.set_crash_reason(lrp.crash_reason());
  info.set_state(lrp.state());
  info.set_placement_error(lrp.placement_error());
  info.set_since(lrp.since());
  *info.mutable_modification_tag() = lrp.modification_tag();
  info.set_presence(lrp.presence());
  if (lrp.has_routable()) {
    info.set_routable(lrp.routable());
  }
  info.set_availability_zone(lrp.availability_zone());
  return info;
}

Event TaskCreatedEvent(const models::Task& task) {
  auto e = std::make_shared<models::TaskCreatedEvent>();
  *e->mutable_task() = task;
  return Make(EventFamily::kTask, "task_created", std::move(e));
}

Event TaskChangedEvent(const models::Task& before, const models::Task& after) {
  auto e = std::make_shared<models::TaskChangedEvent>();
  *e->mutable_before() = before;
  *e->mutable_after() = after;
  return Make(EventFamily::kTask, "task_changed", std::move(e));
}

Event TaskRemovedEvent(const models::Task& task) {
  auto e = std::make_shared<models::TaskRemovedEvent>();
  *e->mutable_task() = task;
  return Make(EventFamily::kTask, "task_removed", std::move(e));
}

}  // namespace bbs::domain
