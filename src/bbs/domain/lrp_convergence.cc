#include "bbs/domain/lrp_convergence.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/restart_policy.h"
#include "bbs/models/conversion.h"
#include "bbs/models/routes_json.h"

namespace bbs::domain {
namespace {

struct Slot {
  const models::ActualLRP* by_presence[3] = {nullptr, nullptr, nullptr};
};

bool CellPresent(const LrpConvergenceInput& in, const std::string& cell) {
  return in.present_cells.count(cell) > 0;
}

bool RunningOrClaimed(const models::ActualLRP& lrp) {
  return lrp.state() == kRunning || lrp.state() == kClaimed;
}

// behavior.md §7.1 #14 and #15: the rep update a RUNNING ordinary instance needs, if any.
std::optional<LrpConvergenceActions::InstanceUpdate> DriftOf(
    const models::ActualLRP& lrp, const records::DesiredLRPRecord& d,
    std::unordered_map<std::string, std::vector<std::string>>* hostnames_cache) {
  LrpConvergenceActions::InstanceUpdate update;
  bool drift = false;
  const auto& routes = d.scheduling_info().routes().routes();
  bool has_internal = routes.count("internal-router") > 0;
  if (has_internal || lrp.actual_lrp_internal_routes_size() > 0) {
    const std::string& guid = d.scheduling_info().desired_lrp_key().process_guid();
    auto it = hostnames_cache->find(guid);
    if (it == hostnames_cache->end()) {
      it = hostnames_cache
               ->emplace(guid, has_internal
                                   ? model::InternalRoutesFromRoutes(d.scheduling_info().routes())
                                   : std::vector<std::string>())
               .first;
    }
    const auto& desired = it->second;
    bool same = static_cast<int>(desired.size()) == lrp.actual_lrp_internal_routes_size();
    for (const auto& host : desired) {
      if (!same) break;
      same = std::any_of(lrp.actual_lrp_internal_routes().begin(),
                         lrp.actual_lrp_internal_routes().end(),
                         [&](const auto& r) { return r.hostname() == host; });
    }
    if (!same) {
      drift = true;
      if (!desired.empty()) update.internal_routes = desired;
    }
  }
  if (lrp.metric_tags_size() > 0) {
    auto resolved = model::ResolveMetricTags(d.metric_tags(), lrp.actual_lrp_key().index(),
                                             lrp.actual_lrp_instance_key().instance_guid());
    if (resolved.ok()) {
      bool same = static_cast<int>(resolved->size()) == lrp.metric_tags_size();
      for (const auto& [k, v] : *resolved) {
        if (!same) break;
        auto it = lrp.metric_tags().find(k);
        same = it != lrp.metric_tags().end() && it->second == v;
      }
      if (!same) {
        drift = true;
        update.metric_tags = std::move(*resolved);
      }
    }
  }
  if (!drift) return std::nullopt;
  update.lrp = lrp;
  return update;
}

}  // namespace

LrpConvergenceActions CalculateLrpConvergence(const LrpConvergenceInput& in) {
  LrpConvergenceActions out;
  auto& m = out.metrics;
  m.present_cells = static_cast<int32_t>(in.present_cells.size());

  // Group the rows by process guid and index.
  std::unordered_map<std::string, std::map<int32_t, Slot>> by_process;
  by_process.reserve(in.desired.size());
  for (const models::ActualLRP* lrp : in.actuals) {
    int p = static_cast<int>(lrp->presence());
    if (p < 0 || p > 2) continue;
    by_process[lrp->actual_lrp_key().process_guid()][lrp->actual_lrp_key().index()].by_presence[p] =
        lrp;
  }
  std::unordered_map<std::string, const records::DesiredLRPRecord*> desired;
  desired.reserve(in.desired.size());
  for (const auto* d : in.desired) {
    desired[d->scheduling_info().desired_lrp_key().process_guid()] = d;
    m.desired_instances += d->scheduling_info().instances();
  }

  std::set<std::string> missing_cells;
  std::unordered_map<std::string, std::vector<std::string>> hostnames_cache;
  for (auto& [guid, slots] : by_process) {
    auto dit = desired.find(guid);
    const records::DesiredLRPRecord* d = dit == desired.end() ? nullptr : dit->second;
    bool crashing = false;
    for (auto& [index, slot] : slots) {
      LrpKey key{guid, index};
      const models::ActualLRP* ordinary = slot.by_presence[models::ActualLRP::ORDINARY];
      const models::ActualLRP* evacuating = slot.by_presence[models::ActualLRP::EVACUATING];
      const models::ActualLRP* suspect = slot.by_presence[models::ActualLRP::SUSPECT];

      if (evacuating != nullptr &&
          (in.present_cells.empty() ||
           !CellPresent(in, evacuating->actual_lrp_instance_key().cell_id()))) {
        out.prune_evacuating.push_back(*evacuating);
      }
      if (suspect != nullptr) {
        if (suspect->state() == kRunning) ++m.suspect_running;
        if (suspect->state() == kClaimed) ++m.suspect_claimed;
      }
      // Rows on cells that vanished (any presence), for the SuspectCells metric.
      for (const models::ActualLRP* row : slot.by_presence) {
        if (row == nullptr || !RunningOrClaimed(*row)) continue;
        const std::string& cell = row->actual_lrp_instance_key().cell_id();
        if (!cell.empty() && !CellPresent(in, cell)) missing_cells.insert(cell);
      }

      if (ordinary != nullptr) {
        const std::string& state = ordinary->state();
        if (state == kUnclaimed) ++m.unclaimed;
        if (state == kClaimed) ++m.claimed;
        if (state == kRunning) ++m.running;
        if (state == kCrashed) {
          ++m.crashed;
          crashing = true;
        }
      }

      const std::string& domain_name =
          ordinary ? ordinary->actual_lrp_key().domain()
                   : (suspect ? suspect->actual_lrp_key().domain() : std::string());
      bool fresh = in.fresh_domains.count(domain_name) > 0;

      if (d == nullptr) {
        // Orphans: retired only while their domain is fresh.
        if (fresh && ordinary != nullptr) out.retire.push_back(key);
        if (fresh && suspect != nullptr) out.remove_suspect.push_back(key);
        continue;
      }
      int32_t instances = d->scheduling_info().instances();
      bool desired_fresh =
          in.fresh_domains.count(d->scheduling_info().desired_lrp_key().domain()) > 0;
      if (ordinary != nullptr && index >= instances) {
        if (desired_fresh) out.retire.push_back(key);
        continue;
      }
      if (ordinary != nullptr) {
        const std::string& state = ordinary->state();
        const std::string& cell = ordinary->actual_lrp_instance_key().cell_id();
        if (state == kUnclaimed && ordinary->since() < in.now - kStaleUnclaimedNanos) {
          out.unclaim_stale.push_back(key);
        } else if (state == kCrashed &&
                   ShouldRestart(in.now, ordinary->since(), ordinary->crash_count())) {
          out.unclaim_stale.push_back(key);
        } else if (RunningOrClaimed(*ordinary) && !cell.empty() &&
                   (in.present_cells.empty() || !CellPresent(in, cell))) {
          if (suspect != nullptr && RunningOrClaimed(*suspect)) {
            out.missing_cell_unclaim.push_back(key);
          } else {
            out.missing_cell_replace.push_back(key);
          }
        } else if (state == kRunning) {
          if (auto update = DriftOf(*ordinary, *d, &hostnames_cache)) {
            out.instance_updates.push_back(std::move(*update));
          }
        }
      }
      if (suspect != nullptr) {
        bool both_running =
            ordinary != nullptr && ordinary->state() == kRunning && suspect->state() == kRunning;
        if (both_running) {
          out.remove_suspect.push_back(key);
        } else if (!in.present_cells.empty() &&
                   CellPresent(in, suspect->actual_lrp_instance_key().cell_id())) {
          out.promote_suspect.push_back(key);
        }
      }
    }
    if (crashing) ++m.crashing_desired;
  }

  // Missing indices: every index in [0, instances) without an ORDINARY row.
  for (const auto* d : in.desired) {
    const std::string& guid = d->scheduling_info().desired_lrp_key().process_guid();
    auto pit = by_process.find(guid);
    for (int32_t i = 0; i < d->scheduling_info().instances(); ++i) {
      bool has_ordinary = false;
      if (pit != by_process.end()) {
        auto sit = pit->second.find(i);
        has_ordinary = sit != pit->second.end() &&
                       sit->second.by_presence[models::ActualLRP::ORDINARY] != nullptr;
      }
      if (!has_ordinary) out.create_missing.push_back({guid, i});
    }
  }
  m.missing = static_cast<int32_t>(out.create_missing.size());
  m.extra = static_cast<int32_t>(out.retire.size());
  m.suspect_cells = static_cast<int32_t>(missing_cells.size());
  return out;
}

}  // namespace bbs::domain
