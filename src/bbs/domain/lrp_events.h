#pragma once

#include <string>

#include "bbs/events/event.h"
#include "models/actual_lrp.pb.h"
#include "models/desired_lrp.pb.h"

namespace bbs::domain {

// Event constructors (api.md §4.5-§4.6). Pure: they copy their inputs into the payload.
events::Event DesiredLrpCreatedEvent(const models::DesiredLRP& lrp, const std::string& trace_id);
events::Event DesiredLrpChangedEvent(const models::DesiredLRP& before,
                                     const models::DesiredLRP& after, const std::string& trace_id);
events::Event DesiredLrpRemovedEvent(const models::DesiredLRP& lrp, const std::string& trace_id);
events::Event ActualLrpInstanceCreatedEvent(const models::ActualLRP& lrp,
                                            const std::string& trace_id);
events::Event ActualLrpInstanceRemovedEvent(const models::ActualLRP& lrp,
                                            const std::string& trace_id);

}  // namespace bbs::domain
