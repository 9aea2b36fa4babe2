#include "bbs/state/outbound.h"

#include <optional>

#include "bbs/cells/cell_directory.h"
#include "bbs/clients/auctioneer.h"
#include "bbs/clients/reps.h"
#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/models/conversion.h"
#include "bbs/models/routes_json.h"
#include "bbs/state/start_requests.h"

namespace bbs::state {

void Outbound::SetPeers(clients::Auctioneer* auctioneer, clients::Reps* reps,
                        cells::CellDirectory* cells) {
  auctioneer_ = auctioneer;
  reps_ = reps;
  cells_ = cells;
}

void Outbound::RequestLrpAuction(const DesiredLrpPtr& desired, std::vector<int32_t> indices,
                                 const std::string& trace_id) {
  if (auctioneer_ == nullptr || desired == nullptr || indices.empty()) return;
  auto req = LrpStartRequestOf(*desired, std::move(indices));
  auctioneer_->RequestLrpAuctions({std::move(req)}, trace_id);
}

void Outbound::RequestLrpAuctions(std::vector<clients::LrpStartRequest> requests) {
  if (auctioneer_ == nullptr || requests.empty()) return;
  auctioneer_->RequestLrpAuctions(std::move(requests), "");
}

void Outbound::RequestTaskAuctions(const std::vector<const models::Task*>& tasks) {
  if (auctioneer_ == nullptr || tasks.empty()) return;
  std::vector<clients::TaskStartRequest> requests;
  requests.reserve(tasks.size());
  for (const models::Task* t : tasks) requests.push_back(TaskStartRequestOf(*t));
  auctioneer_->RequestTaskAuctions(std::move(requests));
}

void Outbound::StopInstancesAsync(const std::vector<models::ActualLRP>& lrps,
                                  const std::string& trace_id) {
  if (reps_ == nullptr || cells_ == nullptr) return;
  for (const auto& lrp : lrps) {
    auto presence = cells_->Lookup(lrp.actual_lrp_instance_key().cell_id());
    if (!presence.ok()) {
      logger_.Error("stop-instance-cell-lookup-failed", presence.status().ToString(),
                    {{"cell_id", lrp.actual_lrp_instance_key().cell_id()}});
      continue;
    }
    reps_->StopLrpInstanceAsync(presence->rep_url(), lrp.actual_lrp_key().process_guid(),
                                lrp.actual_lrp_instance_key().instance_guid(), trace_id);
  }
}

void Outbound::UpdateInstancesAsync(const records::DesiredLRPRecord& before,
                                    const models::DesiredLRPUpdate& update,
                                    const std::vector<ActualLrpPtr>& actuals,
                                    const std::string& trace_id) {
  if (reps_ == nullptr || cells_ == nullptr) return;
  // behavior.md §4.3 step 4 / outbound.md §4.7: any update carrying routes counts as an
  // internal-route change unless both sides carry identical internal-router entries.
  static constexpr char kInternalRouter[] = "internal-router";
  bool routes_changed = false;
  if (update.has_routes()) {
    const auto& old_routes = before.scheduling_info().routes().routes();
    const auto& new_routes = update.routes().routes();
    auto o = old_routes.find(kInternalRouter);
    auto n = new_routes.find(kInternalRouter);
    routes_changed = !(o != old_routes.end() && n != new_routes.end() && o->second == n->second);
  }
  bool tags_changed = false;
  if (!update.metric_tags().empty()) {
    const auto& old_tags = before.metric_tags();
    tags_changed = old_tags.size() != update.metric_tags().size();
    for (const auto& [k, v] : update.metric_tags()) {
      auto it = old_tags.find(k);
      if (it == old_tags.end() || it->second.static_() != v.static_() ||
          it->second.dynamic() != v.dynamic()) {
        tags_changed = true;
      }
    }
  }
  if (!routes_changed && !tags_changed) return;
  std::optional<std::vector<std::string>> hostnames;
  if (routes_changed && update.routes().routes().count(kInternalRouter)) {
    hostnames = wire::InternalRoutesFromRoutes(update.routes());
  }
  for (const auto& lrp : actuals) {
    if (lrp->presence() == models::ActualLRP::EVACUATING) continue;
    if (lrp->state() != domain::kClaimed && lrp->state() != domain::kRunning) continue;
    clients::LrpInstanceUpdate u;
    u.process_guid = lrp->actual_lrp_key().process_guid();
    u.instance_guid = lrp->actual_lrp_instance_key().instance_guid();
    u.domain = lrp->actual_lrp_key().domain();
    u.index = lrp->actual_lrp_key().index();
    if (routes_changed) u.internal_routes = hostnames;
    if (tags_changed) {
      auto resolved = wire::ResolveMetricTags(update.metric_tags(), u.index, u.instance_guid);
      if (!resolved.ok()) continue;
      u.metric_tags = std::move(*resolved);
    }
    auto presence = cells_->Lookup(lrp->actual_lrp_instance_key().cell_id());
    if (!presence.ok()) continue;
    reps_->UpdateLrpInstanceAsync(presence->rep_url(), std::move(u), trace_id);
  }
}

void Outbound::SendInstanceUpdates(
    const std::vector<domain::LrpConvergenceActions::InstanceUpdate>& updates) {
  if (reps_ == nullptr || cells_ == nullptr) return;
  for (const auto& u : updates) {
    auto presence = cells_->Lookup(u.lrp.actual_lrp_instance_key().cell_id());
    if (!presence.ok()) continue;
    clients::LrpInstanceUpdate update;
    update.process_guid = u.lrp.actual_lrp_key().process_guid();
    update.instance_guid = u.lrp.actual_lrp_instance_key().instance_guid();
    update.domain = u.lrp.actual_lrp_key().domain();
    update.index = u.lrp.actual_lrp_key().index();
    update.internal_routes = u.internal_routes;
    update.metric_tags = u.metric_tags;
    reps_->UpdateLrpInstanceAsync(presence->rep_url(), std::move(update), "");
  }
}

Result<models::CellPresence> Outbound::LookupCell(const std::string& cell_id) {
  if (cells_ == nullptr) return NotFound();
  return cells_->Lookup(cell_id);
}

Status Outbound::StopInstance(const std::string& rep_url, const std::string& process_guid,
                              const std::string& instance_guid, const std::string& trace_id) {
  if (reps_ == nullptr) return UnknownError("no rep client configured");
  return reps_->StopLrpInstance(rep_url, process_guid, instance_guid, trace_id);
}

Status Outbound::CancelTask(const std::string& cell_id, const std::string& task_guid,
                            const std::string& trace_id) {
  if (cells_ == nullptr || reps_ == nullptr) return Status::Ok();
  auto presence = cells_->Lookup(cell_id);
  if (!presence.ok()) return Status::Ok();
  return reps_->CancelTask(presence->rep_url(), task_guid, trace_id);
}

}  // namespace bbs::state
