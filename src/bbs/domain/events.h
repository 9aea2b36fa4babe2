#pragma once

#include <string>

#include "bbs/domain/event.h"
#include "models/actual_lrp.pb.h"
#include "models/desired_lrp.pb.h"
#include "models/task.pb.h"

namespace bbs::domain {

// One constructor per event type (api.md §4.5-§4.6, payload shapes of §6.11; the
// always-written sub-messages of §5 are present). Pure: they copy their inputs into the payload.
// Which events an ActualLRP operation causes is computed in lrp_event_calc.h.
Event DesiredLrpCreatedEvent(const models::DesiredLRP& lrp, const std::string& trace_id);
Event DesiredLrpChangedEvent(const models::DesiredLRP& before, const models::DesiredLRP& after,
                             const std::string& trace_id);
Event DesiredLrpRemovedEvent(const models::DesiredLRP& lrp, const std::string& trace_id);
Event ActualLrpInstanceCreatedEvent(const models::ActualLRP& lrp, const std::string& trace_id);
Event ActualLrpInstanceRemovedEvent(const models::ActualLRP& lrp, const std::string& trace_id);

// `family`: the hub the crashed event is for.
Event ActualLrpInstanceChangedEvent(const models::ActualLRP& before, const models::ActualLRP& after,
                                    const std::string& trace_id);
Event ActualLrpCrashedEvent(const models::ActualLRP& before, const models::ActualLRP& after,
                            EventFamily family);
Event ActualLrpGroupCreatedEvent(const models::ActualLRPGroup& group);
Event ActualLrpGroupChangedEvent(const models::ActualLRPGroup& before,
                                 const models::ActualLRPGroup& after);
Event ActualLrpGroupRemovedEvent(const models::ActualLRPGroup& group);

// The group holding only `lrp`: in `evacuating` when it is EVACUATING, else in `instance`.
models::ActualLRPGroup GroupOf(const models::ActualLRP& lrp);

// The mutable part of `lrp` as ActualLRPInstanceChangedEvent carries it.
models::ActualLRPInfo InfoOf(const models::ActualLRP& lrp);

// Task events (api.md §6.11): created/removed carry the task, changed carries both.
Event TaskCreatedEvent(const models::Task& task);
Event TaskChangedEvent(const models::Task& before, const models::Task& after);
Event TaskRemovedEvent(const models::Task& task);

}  // namespace bbs::domain
