#include "bbs/domain/lrp_events.h"

#include <memory>

#include "models/events.pb.h"

namespace bbs::domain {
namespace {

events::Event Make(events::Family family, const char* type,
                   std::shared_ptr<const google::protobuf::Message> payload,
                   std::vector<std::string> cells = {}) {
  return events::Event{family, type, std::move(payload), std::move(cells)};
}

}  // namespace

events::Event DesiredLrpCreatedEvent(const models::DesiredLRP& lrp, const std::string& trace_id) {
  auto e = std::make_shared<models::DesiredLRPCreatedEvent>();
  *e->mutable_desired_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(events::Family::kDesiredLrp, "desired_lrp_created", std::move(e));
}

events::Event DesiredLrpChangedEvent(const models::DesiredLRP& before,
                                     const models::DesiredLRP& after, const std::string& trace_id) {
  auto e = std::make_shared<models::DesiredLRPChangedEvent>();
  *e->mutable_before() = before;
  *e->mutable_after() = after;
  e->set_trace_id(trace_id);
  return Make(events::Family::kDesiredLrp, "desired_lrp_changed", std::move(e));
}

events::Event DesiredLrpRemovedEvent(const models::DesiredLRP& lrp, const std::string& trace_id) {
  auto e = std::make_shared<models::DesiredLRPRemovedEvent>();
  *e->mutable_desired_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(events::Family::kDesiredLrp, "desired_lrp_removed", std::move(e));
}

events::Event ActualLrpInstanceCreatedEvent(const models::ActualLRP& lrp,
                                            const std::string& trace_id) {
  auto e = std::make_shared<models::ActualLRPInstanceCreatedEvent>();
  *e->mutable_actual_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(events::Family::kActualLrpInstance, "actual_lrp_instance_created", std::move(e),
              {lrp.actual_lrp_instance_key().cell_id()});
}

events::Event ActualLrpInstanceRemovedEvent(const models::ActualLRP& lrp,
                                            const std::string& trace_id) {
  auto e = std::make_shared<models::ActualLRPInstanceRemovedEvent>();
  *e->mutable_actual_lrp() = lrp;
  e->set_trace_id(trace_id);
  return Make(events::Family::kActualLrpInstance, "actual_lrp_instance_removed", std::move(e),
              {lrp.actual_lrp_instance_key().cell_id()});
}

}  // namespace bbs::domain
