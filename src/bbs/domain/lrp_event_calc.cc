#include "bbs/domain/lrp_event_calc.h"

#include <algorithm>
#include <memory>
#include <utility>

#include <google/protobuf/util/message_differencer.h>

#include "bbs/domain/events.h"
#include "bbs/models/conversion.h"
#include "models/events.pb.h"

namespace bbs::domain {
namespace {

using domain::Event;
using domain::EventFamily;

bool InstanceKeyEmpty(const models::ActualLRPInstanceKey& key) {
  return key.instance_guid().empty() && key.cell_id().empty();
}

bool IsState(const models::ActualLRP* lrp, const char* state) {
  return lrp != nullptr && lrp->state() == state;
}

// Upstream's EventScore: crashed events first, then events whose resulting LRP is RUNNING
// (continuous routability), then removals and changes to other states.
constexpr int kCrashedScore = 2;
int ResultScore(const models::ActualLRP* result) {
  return IsState(result, wire::kStateRunning) ? 1 : 0;
}

struct Scored {
  int score;
  Event event;
};

class EventList {
 public:
  void Add(int score, Event event) { events_.push_back({score, std::move(event)}); }

  // Stably sorted by descending score.
  std::vector<Event> Sorted() && {
    std::stable_sort(events_.begin(), events_.end(),
                     [](const Scored& a, const Scored& b) { return a.score > b.score; });
    std::vector<Event> out;
    out.reserve(events_.size());
    for (Scored& s : events_) {
      out.push_back(std::move(s.event));
    }
    return out;
  }

 private:
  std::vector<Scored> events_;
};

bool SameSlot(const models::ActualLRP* a, const models::ActualLRP* b) {
  if (a == nullptr || b == nullptr) {
    return a == b;
  }
  return SameActualLrp(*a, *b);
}

// The group events of one slot (behavior.md §1.6.2, group hub table).
void AddGroupSlotEvents(const models::ActualLRP* old_lrp, const models::ActualLRP* new_lrp,
                        EventList* out) {
  if (SameSlot(old_lrp, new_lrp)) {
    return;
  }
  if (new_lrp == nullptr) {
    out->Add(0, ActualLrpGroupRemovedEvent(GroupOf(*old_lrp)));
    return;
  }
  if (old_lrp == nullptr) {
    out->Add(ResultScore(new_lrp), ActualLrpGroupCreatedEvent(GroupOf(*new_lrp)));
    return;
  }
  const std::string& state = new_lrp->state();
  if (state == wire::kStateUnclaimed) {
    out->Add(ResultScore(new_lrp),
             ActualLrpGroupChangedEvent(GroupOf(*old_lrp), GroupOf(*new_lrp)));
  } else if (state == wire::kStateClaimed || state == wire::kStateRunning) {
    const auto& old_key = old_lrp->actual_lrp_instance_key();
    if (!InstanceKeyEmpty(old_key) &&
        !InstanceKeysEqual(new_lrp->actual_lrp_instance_key(), old_key)) {
      // Another instance took the slot (e.g. an ordinary LRP replaced a suspect one).
      out->Add(ResultScore(new_lrp), ActualLrpGroupCreatedEvent(GroupOf(*new_lrp)));
      out->Add(0, ActualLrpGroupRemovedEvent(GroupOf(*old_lrp)));
    } else {
      out->Add(ResultScore(new_lrp),
               ActualLrpGroupChangedEvent(GroupOf(*old_lrp), GroupOf(*new_lrp)));
    }
  } else if (state == wire::kStateCrashed) {
    out->Add(kCrashedScore,
             ActualLrpCrashedEvent(*old_lrp, *new_lrp, EventFamily::kActualLrpGroup));
    out->Add(ResultScore(new_lrp),
             ActualLrpGroupChangedEvent(GroupOf(*old_lrp), GroupOf(*new_lrp)));
  }
}

// The group events of one slot for CrashActualLRP (§1.6.3): the changed event carries the
// whole groups.
void AddCrashGroupSlotEvents(const models::ActualLRP* old_lrp, const models::ActualLRP* new_lrp,
                             const models::ActualLRPGroup& before_group,
                             const models::ActualLRPGroup& after_group, EventList* out) {
  if (SameSlot(old_lrp, new_lrp)) {
    return;
  }
  if (new_lrp == nullptr) {
    out->Add(0, ActualLrpGroupRemovedEvent(GroupOf(*old_lrp)));
  } else if (old_lrp == nullptr) {
    out->Add(ResultScore(new_lrp), ActualLrpGroupCreatedEvent(GroupOf(*new_lrp)));
  } else {
    out->Add(kCrashedScore,
             ActualLrpCrashedEvent(*old_lrp, *new_lrp, EventFamily::kActualLrpGroup));
    out->Add(ResultScore(wire::ResolveGroup(after_group)),
             ActualLrpGroupChangedEvent(before_group, after_group));
  }
}

// The instance events both tables share: nothing for an unchanged slot, removed for a deleted
// row, created for a new one. True when one of these applied.
bool AddedOrRemoved(const models::ActualLRP* before, const models::ActualLRP* after,
                    const std::string& trace_id, EventList* out) {
  if (SameSlot(before, after)) return true;
  if (after == nullptr) {
    out->Add(0, ActualLrpInstanceRemovedEvent(*before, trace_id));
    return true;
  }
  if (before == nullptr) {
    out->Add(ResultScore(after), ActualLrpInstanceCreatedEvent(*after, trace_id));
    return true;
  }
  return false;
}

// The instance events of one aligned pair (§1.6.2, instance hub table).
void AddInstanceEvents(const models::ActualLRP* before, const models::ActualLRP* after,
                       const std::string& trace_id, EventList* out) {
  if (AddedOrRemoved(before, after, trace_id, out)) return;
  const std::string& state = after->state();
  if (state == wire::kStateUnclaimed) {
    if (before->state() == wire::kStateUnclaimed) {
      // e.g. the auctioneer's FailActualLRP
      out->Add(0, ActualLrpInstanceChangedEvent(*before, *after, trace_id));
    } else {
      // The instance identity ended: a new UNCLAIMED instance and the old one gone.
      out->Add(0, ActualLrpInstanceCreatedEvent(*after, trace_id));
      out->Add(0, ActualLrpInstanceRemovedEvent(*before, trace_id));
    }
  } else if (state == wire::kStateClaimed || state == wire::kStateRunning) {
    out->Add(ResultScore(after), ActualLrpInstanceChangedEvent(*before, *after, trace_id));
  } else if (state == wire::kStateCrashed) {
    out->Add(kCrashedScore,
             ActualLrpCrashedEvent(*before, *after, EventFamily::kActualLrpInstance));
    out->Add(0, ActualLrpInstanceChangedEvent(*before, *after, trace_id));
  }
}

// The instance events of one aligned pair for CrashActualLRP (§1.6.3).
void AddCrashInstanceEvents(const models::ActualLRP* before, const models::ActualLRP* after,
                            const std::string& trace_id, EventList* out) {
  if (AddedOrRemoved(before, after, trace_id, out)) return;
  if (after->state() == wire::kStateCrashed) {
    out->Add(kCrashedScore,
             ActualLrpCrashedEvent(*before, *after, EventFamily::kActualLrpInstance));
    out->Add(0, ActualLrpInstanceChangedEvent(*before, *after, trace_id));
  } else {
    out->Add(kCrashedScore,
             ActualLrpCrashedEvent(*before, *after, EventFamily::kActualLrpInstance));
    out->Add(ResultScore(after), ActualLrpInstanceCreatedEvent(*after, trace_id));
    out->Add(0, ActualLrpInstanceRemovedEvent(*before, trace_id));
  }
}

models::ActualLRPGroup GroupOfRows(const std::vector<const models::ActualLRP*>& rows) {
  std::vector<models::ActualLRPGroup> groups = wire::GroupActualLrps(rows);
  return groups.empty() ? models::ActualLRPGroup() : std::move(groups.front());
}

const models::ActualLRP* Instance(const models::ActualLRPGroup& group) {
  return group.has_instance() ? &group.instance() : nullptr;
}

const models::ActualLRP* Evacuating(const models::ActualLRPGroup& group) {
  return group.has_evacuating() ? &group.evacuating() : nullptr;
}

}  // namespace

std::vector<std::optional<models::ActualLRP>> ApplyRowChanges(
    const std::vector<models::ActualLRP>& before_rows, const std::vector<RowChange>& changes) {
  std::vector<std::optional<models::ActualLRP>> rows(before_rows.begin(), before_rows.end());
  for (const RowChange& change : changes) {
    bool found = false;
    if (change.before) {
      for (auto& row : rows) {
        if (row && InstanceKeysEqual(row->actual_lrp_instance_key(),
                                     change.before->actual_lrp_instance_key())) {
          row = change.after;
          found = true;
        }
      }
    }
    if (!found) {
      rows.push_back(change.after);
    }
  }
  return rows;
}

std::vector<Event> ComputeActualLrpEvents(const std::vector<models::ActualLRP>& before_rows,
                                          const std::vector<RowChange>& changes, LrpEventMode mode,
                                          const std::string& trace_id) {
  EventList group;
  EventList instance;
  if (mode == LrpEventMode::kPerChange) {
    for (const RowChange& change : changes) {
      const models::ActualLRP* before = change.before ? &*change.before : nullptr;
      const models::ActualLRP* after = change.after ? &*change.after : nullptr;
      AddGroupSlotEvents(before, after, &group);
      AddInstanceEvents(before, after, trace_id, &instance);
    }
  } else {
    const std::vector<std::optional<models::ActualLRP>> after_rows =
        ApplyRowChanges(before_rows, changes);
    if (mode != LrpEventMode::kInstanceOnly) {
      std::vector<const models::ActualLRP*> before_ptrs;
      before_ptrs.reserve(before_rows.size());
      for (const auto& row : before_rows) {
        before_ptrs.push_back(&row);
      }
      std::vector<const models::ActualLRP*> after_ptrs;
      for (const auto& row : after_rows) {
        if (row) {
          after_ptrs.push_back(&*row);
        }
      }
      const models::ActualLRPGroup before_group = GroupOfRows(before_ptrs);
      const models::ActualLRPGroup after_group = GroupOfRows(after_ptrs);
      if (mode == LrpEventMode::kCrash) {
        AddCrashGroupSlotEvents(Instance(before_group), Instance(after_group), before_group,
                                after_group, &group);
        AddCrashGroupSlotEvents(Evacuating(before_group), Evacuating(after_group), before_group,
                                after_group, &group);
      } else {
        AddGroupSlotEvents(Instance(before_group), Instance(after_group), &group);
        AddGroupSlotEvents(Evacuating(before_group), Evacuating(after_group), &group);
      }
    }
    for (size_t i = 0; i < after_rows.size(); ++i) {
      const models::ActualLRP* before = i < before_rows.size() ? &before_rows[i] : nullptr;
      const models::ActualLRP* after = after_rows[i] ? &*after_rows[i] : nullptr;
      if (mode == LrpEventMode::kCrash) {
        AddCrashInstanceEvents(before, after, trace_id, &instance);
      } else {
        AddInstanceEvents(before, after, trace_id, &instance);
      }
    }
  }
  std::vector<Event> out = std::move(group).Sorted();
  std::vector<Event> instance_events = std::move(instance).Sorted();
  out.insert(out.end(), std::make_move_iterator(instance_events.begin()),
             std::make_move_iterator(instance_events.end()));
  return out;
}

bool SameActualLrp(const models::ActualLRP& a, const models::ActualLRP& b) {
  // Every write changes one of these (an absent message reads as its empty default): answer
  // those without the two copies and the reflection below.
  if (a.state() != b.state() || a.since() != b.since() ||
      a.modification_tag().index() != b.modification_tag().index() ||
      a.modification_tag().epoch() != b.modification_tag().epoch()) {
    return false;
  }
  auto normalized = [](const models::ActualLRP& lrp) {
    models::ActualLRP copy = lrp;
    copy.mutable_actual_lrp_key();
    copy.mutable_actual_lrp_instance_key();
    copy.mutable_actual_lrp_net_info();
    copy.mutable_modification_tag();
    return copy;
  };
  return google::protobuf::util::MessageDifferencer::Equals(normalized(a), normalized(b));
}

}  // namespace bbs::domain
