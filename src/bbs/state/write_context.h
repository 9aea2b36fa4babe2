#pragma once

#include <optional>
#include <string>

#include "bbs/base/clock.h"
#include "bbs/base/guid.h"
#include "bbs/base/logger.h"
#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/lrp_event_calc.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/state/committer.h"
#include "bbs/state/key_locks.h"
#include "bbs/state/model.h"
#include "bbs/state/outbound.h"

namespace bbs::state {

// What every operation file of the write path works with (owned by Engine). Each operation:
// takes the key lock, reads the model, asks domain/ to decide, submits the change to the
// committer and waits, releases the lock, then does the outbound work.
struct WriteContext {
  Model* model;
  Committer* committer;
  KeyLocks* locks;
  Outbound* outbound;
  const Clock* clock;
  GuidGenerator* guids;
  Logger logger;
  metrics::BbsMetrics* metrics = nullptr;  // null: nothing is recorded
};

// The change that carries out an ActualLRP decision on the rows of `snap`: deletes, then puts,
// and the events computed with `mode` (default: kCrash for crash decisions, else kStandard).
Change LrpChangeOf(const LrpSnapshot& snap, const domain::LrpDecision& decision,
                   const std::string& trace_id,
                   std::optional<domain::LrpEventMode> mode = std::nullopt);
// The same, moving the rows to put out of `decision`.
Change LrpChangeOf(const LrpSnapshot& snap, domain::LrpDecision&& decision,
                   const std::string& trace_id,
                   std::optional<domain::LrpEventMode> mode = std::nullopt);

// Deletes `rows` (one change's worth), with their removal events (kStandard).
void AppendLrpDeletions(const std::vector<models::ActualLRP>& rows, const std::string& trace_id,
                        Change* change);

}  // namespace bbs::state
