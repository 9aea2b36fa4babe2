#pragma once

#include <cstdint>
#include <string>

#include "bbs/domain/actual_lrp_factory.h"
#include "models/actual_lrp.pb.h"

namespace bbs::domain::testing {

// An actual LRP row as the convergence tests write them: `presence` and `state` in `domain`,
// placed on `cell` (instance guid "ig-<cell>") unless `cell` is empty.
inline models::ActualLRP ConvergenceRow(const std::string& guid, int32_t index,
                                        const std::string& domain,
                                        models::ActualLRP::Presence presence,
                                        const std::string& state, const std::string& cell,
                                        int64_t since, int32_t crash_count = 0) {
  auto lrp = NewUnclaimedActualLrp(guid, index, domain, since, "e-" + guid);
  lrp.set_presence(presence);
  lrp.set_state(state);
  lrp.set_crash_count(crash_count);
  if (!cell.empty()) {
    lrp.mutable_actual_lrp_instance_key()->set_cell_id(cell);
    lrp.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + cell);
  }
  return lrp;
}

}  // namespace bbs::domain::testing
