#include "bbs/domain/desired_lrp_ops.h"

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/models/conversion.h"
#include "bbs/models/routes_json.h"

namespace bbs::domain {

Result<records::DesiredLRPRecord> NewDesiredLrpRecord(const models::DesiredLRP& lrp, int64_t now,
                                                      const std::string& epoch) {
  models::DesiredLRP copy = lrp;
  auto routes = wire::NormalizeRoutes(copy.routes());
  if (!routes.ok()) return routes.status();
  *copy.mutable_routes() = std::move(*routes);
  auto* tag = copy.mutable_modification_tag();
  tag->set_epoch(epoch);
  tag->set_index(0);

  auto split = wire::SplitDesiredLrp(copy, now);
  records::DesiredLRPRecord record;
  *record.mutable_scheduling_info() = std::move(split.scheduling_info);
  if (!split.run_info.SerializeToString(record.mutable_run_info())) {
    return Status(ErrorCode::kInvalidRecord, "cannot serialize run info");
  }
  *record.mutable_metric_tags() = copy.metric_tags();
  record.set_update_strategy(copy.update_strategy());
  return record;
}

Result<models::DesiredLRP> DesiredLrpFromRecord(const records::DesiredLRPRecord& record) {
  models::DesiredLRPRunInfo run_info;
  if (!run_info.ParseFromString(record.run_info())) {
    return Status::Error(ErrorCode::kDeserialize);
  }
  return wire::JoinDesiredLrp(record.scheduling_info(), run_info, record.metric_tags(),
                              record.update_strategy());
}

Result<records::DesiredLRPRecord> ApplyDesiredLrpUpdate(const records::DesiredLRPRecord& before,
                                                        const models::DesiredLRPUpdate& update) {
  records::DesiredLRPRecord after = before;
  auto* info = after.mutable_scheduling_info();
  if (update.has_instances()) info->set_instances(update.instances());
  if (update.has_routes()) {
    auto routes = wire::NormalizeRoutes(update.routes());
    if (!routes.ok()) return routes.status();
    *info->mutable_routes() = std::move(*routes);
  }
  if (update.has_annotation()) info->set_annotation(update.annotation());
  if (!update.metric_tags().empty()) *after.mutable_metric_tags() = update.metric_tags();
  if (update.has_image_username() || update.has_image_password()) {
    models::DesiredLRPRunInfo run_info;
    if (!run_info.ParseFromString(before.run_info())) {
      return Status::Error(ErrorCode::kDeserialize);
    }
    if (update.has_image_username()) run_info.set_image_username(update.image_username());
    if (update.has_image_password()) run_info.set_image_password(update.image_password());
    after.clear_run_info();
    if (!run_info.SerializeToString(after.mutable_run_info())) {
      return Status(ErrorCode::kInvalidRecord, "cannot serialize run info");
    }
  }
  auto* tag = info->mutable_modification_tag();
  tag->set_index(tag->index() + 1);
  return after;
}

StopPlan PlanStopInstances(const std::vector<const models::ActualLRP*>& actuals,
                           int32_t from_index) {
  StopPlan plan;
  for (const models::ActualLRP* lrp : actuals) {
    if (lrp->presence() == models::ActualLRP::EVACUATING) continue;
    if (lrp->actual_lrp_key().index() < from_index) continue;
    const std::string& state = lrp->state();
    if (state == kUnclaimed || state == kCrashed) {
      plan.to_delete.push_back(*lrp);
    } else if (state == kClaimed || state == kRunning) {
      plan.to_stop.push_back(*lrp);
    }
  }
  return plan;
}

std::vector<models::ActualLRP> NewInstances(const records::DesiredLRPRecord& desired,
                                            int32_t from_index,
                                            const std::set<int32_t>& existing_ordinary, int64_t now,
                                            const std::function<std::string()>& epoch) {
  std::vector<models::ActualLRP> out;
  const auto& key = desired.scheduling_info().desired_lrp_key();
  for (int32_t i = from_index; i < desired.scheduling_info().instances(); ++i) {
    if (existing_ordinary.count(i)) continue;
    out.push_back(NewUnclaimedActualLrp(key.process_guid(), i, key.domain(), now, epoch()));
  }
  return out;
}

}  // namespace bbs::domain
