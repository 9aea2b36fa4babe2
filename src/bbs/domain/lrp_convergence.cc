#include "bbs/domain/lrp_convergence.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/events.h"
#include "bbs/domain/restart_policy.h"
#include "bbs/models/conversion.h"
#include "bbs/models/routes_json.h"
#include "models/events.pb.h"

namespace bbs::domain {
namespace {

bool CellPresent(const LrpGroupedInput& in, const std::string& cell) {
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
                                   ? wire::InternalRoutesFromRoutes(d.scheduling_info().routes())
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
    auto resolved = wire::ResolveMetricTags(d.metric_tags(), lrp.actual_lrp_key().index(),
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

void CalculateProcessConvergence(const LrpGroupedInput& in, const LrpProcessView& proc,
                                 LrpConvergenceActions* actions,
                                 std::set<std::string>* missing_cells) {
  LrpConvergenceActions& out = *actions;
  auto& m = out.metrics;
  std::unordered_map<std::string, std::vector<std::string>> hostnames_cache;
  {
    const records::DesiredLRPRecord* d = proc.desired;
    int32_t instances = d ? d->scheduling_info().instances() : 0;
    if (d) m.desired_instances += instances;
    bool crashing = false;
    int32_t next_expected = 0;  // for missing indices: slots come in ascending index order
    auto add_missing_until = [&](int32_t limit) {
      if (!d) return;
      for (; next_expected < std::min(limit, instances); ++next_expected) {
        out.create_missing.push_back(
            {d->scheduling_info().desired_lrp_key().process_guid(), next_expected});
      }
    };
    for (size_t s = proc.first_slot; s < proc.first_slot + proc.slot_count; ++s) {
      const LrpSlotView& slot = in.slots[s];
      const int32_t index = slot.index;
      const models::ActualLRP* ordinary = slot.rows[models::ActualLRP::ORDINARY];
      const models::ActualLRP* evacuating = slot.rows[models::ActualLRP::EVACUATING];
      const models::ActualLRP* suspect = slot.rows[models::ActualLRP::SUSPECT];
      const models::ActualLRP* any = ordinary ? ordinary : (suspect ? suspect : evacuating);
      if (any == nullptr) continue;
      LrpKey key{any->actual_lrp_key().process_guid(), index};

      add_missing_until(index);
      if (ordinary != nullptr && index == next_expected && index < instances) ++next_expected;

      if (evacuating != nullptr &&
          (in.present_cells.empty() ||
           !CellPresent(in, evacuating->actual_lrp_instance_key().cell_id()))) {
        out.prune_evacuating.push_back(*evacuating);
      }
      if (suspect != nullptr) {
        if (suspect->state() == kRunning) ++m.suspect_running;
        if (suspect->state() == kClaimed) ++m.suspect_claimed;
      }
      for (const models::ActualLRP* row : slot.rows) {
        if (row == nullptr || !RunningOrClaimed(*row)) continue;
        const std::string& cell = row->actual_lrp_instance_key().cell_id();
        if (!cell.empty() && !CellPresent(in, cell)) missing_cells->insert(cell);
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

      if (d == nullptr) {
        // Orphans: retired only while their domain is fresh.
        const std::string& domain_name = any->actual_lrp_key().domain();
        bool fresh = in.fresh_domains.count(domain_name) > 0;
        if (fresh && ordinary != nullptr) out.retire.push_back(key);
        if (fresh && suspect != nullptr) out.remove_suspect.push_back(key);
        continue;
      }
      if (ordinary != nullptr && index >= instances) {
        if (in.fresh_domains.count(d->scheduling_info().desired_lrp_key().domain()) > 0) {
          out.retire.push_back(key);
        }
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
    add_missing_until(instances);
    if (crashing) ++m.crashing_desired;
  }
  m.missing = static_cast<int32_t>(out.create_missing.size());
  m.extra = static_cast<int32_t>(out.retire.size());
}

LrpConvergenceActions CalculateLrpConvergence(const LrpGroupedInput& in) {
  LrpConvergenceActions out;
  std::set<std::string> missing_cells;
  for (const LrpProcessView& proc : in.processes) {
    CalculateProcessConvergence(in, proc, &out, &missing_cells);
  }
  out.metrics.present_cells = static_cast<int32_t>(in.present_cells.size());
  out.metrics.suspect_cells = static_cast<int32_t>(missing_cells.size());
  return out;
}

LrpConvergenceActions CalculateLrpConvergence(const LrpConvergenceInput& in) {
  // Group by process guid, then index (ascending), then presence.
  std::map<std::string, std::map<int32_t, LrpSlotView>> by_process;
  for (const models::ActualLRP* lrp : in.actuals) {
    int p = static_cast<int>(lrp->presence());
    if (p < 0 || p > 2) continue;
    auto& slot = by_process[lrp->actual_lrp_key().process_guid()][lrp->actual_lrp_key().index()];
    slot.index = lrp->actual_lrp_key().index();
    slot.rows[p] = lrp;
  }
  std::map<std::string, const records::DesiredLRPRecord*> desired;
  for (const auto* d : in.desired)
    desired[d->scheduling_info().desired_lrp_key().process_guid()] = d;
  for (const auto& [guid, d] : desired) by_process[guid];

  LrpGroupedInput grouped;
  grouped.present_cells.insert(in.present_cells.begin(), in.present_cells.end());
  grouped.fresh_domains.insert(in.fresh_domains.begin(), in.fresh_domains.end());
  grouped.now = in.now;
  for (const auto& [guid, slots] : by_process) {
    LrpProcessView view;
    auto it = desired.find(guid);
    view.desired = it == desired.end() ? nullptr : it->second;
    view.first_slot = grouped.slots.size();
    for (const auto& [index, slot] : slots) grouped.slots.push_back(slot);
    view.slot_count = grouped.slots.size() - view.first_slot;
    grouped.processes.push_back(view);
  }
  return CalculateLrpConvergence(grouped);
}

LrpDecision PruneEvacuating(const LrpRows& rows, const models::ActualLRPInstanceKey& seen) {
  LrpDecision d;
  if (rows.evacuating == nullptr ||
      !InstanceKeysEqual(rows.evacuating->actual_lrp_instance_key(), seen)) {
    return d;
  }
  d.deletes.push_back(*rows.evacuating);
  d.event_changes.push_back({*rows.evacuating, std::nullopt});
  return d;
}

std::optional<models::ActualLRP> MissingRow(const LrpRows& rows,
                                            const records::DesiredLRPRecord* desired,
                                            const LrpKey& key, int64_t now,
                                            const std::function<std::string()>& epoch) {
  if (rows.ordinary != nullptr || desired == nullptr ||
      key.index >= desired->scheduling_info().instances()) {
    return std::nullopt;
  }
  return NewUnclaimedActualLrp(key.process_guid, key.index,
                               desired->scheduling_info().desired_lrp_key().domain(), now, epoch());
}

LrpDecision CreateMissing(const LrpRows& rows, const records::DesiredLRPRecord* desired,
                          const LrpKey& key, int64_t now,
                          const std::function<std::string()>& epoch) {
  LrpDecision d;
  std::optional<models::ActualLRP> lrp = MissingRow(rows, desired, key, now, epoch);
  if (!lrp) return d;
  d.puts.push_back(*lrp);
  d.event_changes.push_back({std::nullopt, std::move(*lrp)});
  return d;
}

namespace {

// The payloads of one creation's two events on one arena inside one allocation, freed with the
// last event holding either: no malloc per message.
struct PayloadArena {
  static google::protobuf::ArenaOptions Options(char* block, size_t size) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = size;
    return options;
  }
  PayloadArena() : arena(Options(block, sizeof(block))) {}
  alignas(16) char block[2048];  // declared first: outlives the arena
  google::protobuf::Arena arena;
};

}  // namespace

std::vector<Event> CreatedLrpEvents(const models::ActualLRP& created, const std::string& trace_id) {
  auto holder = std::make_shared<PayloadArena>();
  // The group hub: the group of the created row alone, resolved to that row (GroupOf, then
  // the group event's cell filter sees the resolved row's cell).
  auto* group =
      google::protobuf::Arena::CreateMessage<models::ActualLRPCreatedEvent>(&holder->arena);
  if (created.presence() == models::ActualLRP::EVACUATING) {
    *group->mutable_actual_lrp_group()->mutable_evacuating() = created;
  } else {
    *group->mutable_actual_lrp_group()->mutable_instance() = created;
  }
  // The instance hub: as ActualLrpInstanceCreatedEvent.
  auto* instance =
      google::protobuf::Arena::CreateMessage<models::ActualLRPInstanceCreatedEvent>(&holder->arena);
  *instance->mutable_actual_lrp() = created;
  instance->set_trace_id(trace_id);
  const std::string& cell = created.actual_lrp_instance_key().cell_id();
  std::vector<Event> events;
  events.reserve(2);
  events.push_back(Event{EventFamily::kActualLrpGroup,
                         "actual_lrp_created",
                         std::shared_ptr<const google::protobuf::Message>(holder, group),
                         {cell}});
  events.push_back(Event{EventFamily::kActualLrpInstance,
                         "actual_lrp_instance_created",
                         std::shared_ptr<const google::protobuf::Message>(holder, instance),
                         {cell}});
  return events;
}

LrpDecision ReplaceWithSuspect(const LrpRows& rows, bool desired_exists, int64_t now,
                               const std::function<std::string()>& epoch) {
  LrpDecision d;
  const models::ActualLRP* ordinary = rows.ordinary;
  if (ordinary == nullptr || !desired_exists || rows.suspect != nullptr ||
      (ordinary->state() != kRunning && ordinary->state() != kClaimed)) {
    return d;
  }
  models::ActualLRP suspect = *ordinary;
  suspect.set_presence(models::ActualLRP::SUSPECT);
  const auto& key = ordinary->actual_lrp_key();
  auto replacement =
      NewUnclaimedActualLrp(key.process_guid(), key.index(), key.domain(), now, epoch());
  d.deletes.push_back(*ordinary);
  d.puts.push_back(suspect);
  d.puts.push_back(replacement);
  d.event_changes.push_back({*ordinary, std::move(suspect)});
  d.event_changes.push_back({std::nullopt, std::move(replacement)});
  return d;
}

LrpDecision PromoteSuspect(const LrpRows& rows) {
  LrpDecision d;
  if (rows.suspect == nullptr) return d;
  if (rows.ordinary != nullptr) {
    d.deletes.push_back(*rows.ordinary);
    d.event_changes.push_back({*rows.ordinary, std::nullopt});
  }
  models::ActualLRP promoted = *rows.suspect;
  promoted.set_presence(models::ActualLRP::ORDINARY);
  d.deletes.push_back(*rows.suspect);
  d.puts.push_back(promoted);
  d.event_changes.push_back({*rows.suspect, std::move(promoted)});
  return d;
}

LrpDecision RemoveSuspect(const LrpRows& rows) {
  LrpDecision d;
  if (rows.suspect == nullptr) return d;
  d.deletes.push_back(*rows.suspect);
  d.event_changes.push_back({*rows.suspect, std::nullopt});
  return d;
}

}  // namespace bbs::domain
