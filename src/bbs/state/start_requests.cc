#include "bbs/state/start_requests.h"

namespace bbs::state {

clients::LrpStartRequest LrpStartRequestOf(const records::DesiredLRPRecord& desired,
                                           std::vector<int32_t> indices) {
  const auto& info = desired.scheduling_info();
  clients::LrpStartRequest req;
  req.process_guid = info.desired_lrp_key().process_guid();
  req.domain = info.desired_lrp_key().domain();
  req.indices = std::move(indices);
  req.placement_tags.assign(info.placementtags().begin(), info.placementtags().end());
  req.volume_drivers.assign(info.volume_placement().driver_names().begin(),
                            info.volume_placement().driver_names().end());
  req.root_fs = info.desired_lrp_resource().root_fs();
  req.memory_mb = info.desired_lrp_resource().memory_mb();
  req.disk_mb = info.desired_lrp_resource().disk_mb();
  req.max_pids = info.desired_lrp_resource().max_pids();
  return req;
}

clients::TaskStartRequest TaskStartRequestOf(const models::Task& task) {
  const auto& def = task.task_definition();
  clients::TaskStartRequest req;
  req.task_guid = task.task_guid();
  req.domain = task.domain();
  req.placement_tags.assign(def.placement_tags().begin(), def.placement_tags().end());
  for (const auto& m : def.volume_mounts()) req.volume_drivers.push_back(m.driver());
  req.root_fs = def.root_fs();
  req.memory_mb = def.memory_mb();
  req.disk_mb = def.disk_mb();
  req.max_pids = def.max_pids();
  return req;
}

}  // namespace bbs::state
