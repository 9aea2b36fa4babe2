#include "bbs/state/write_context.h"

namespace bbs::state {

namespace {

// LrpChangeOf with the rows to put taken from `puts`.
Change ChangeOf(const LrpSnapshot& snap, const domain::LrpDecision& d,
                std::vector<models::ActualLRP> puts, const std::string& trace_id,
                std::optional<domain::LrpEventMode> mode) {
  Change change;
  change.mutations.reserve(d.deletes.size() + puts.size());
  for (const auto& del : d.deletes) {
    change.mutations.push_back(storage::DeleteActualLrp{
        del.actual_lrp_key().process_guid(), del.actual_lrp_key().index(), del.presence()});
  }
  for (auto& put : puts) change.mutations.push_back(storage::PutActualLrp{std::move(put)});
  if (!mode) mode = d.crash_events ? domain::LrpEventMode::kCrash : domain::LrpEventMode::kStandard;
  change.events =
      domain::ComputeActualLrpEvents(snap.RowValues(), d.event_changes, *mode, trace_id);
  return change;
}

}  // namespace

Change LrpChangeOf(const LrpSnapshot& snap, const domain::LrpDecision& d,
                   const std::string& trace_id, std::optional<domain::LrpEventMode> mode) {
  return ChangeOf(snap, d, d.puts, trace_id, mode);
}

Change LrpChangeOf(const LrpSnapshot& snap, domain::LrpDecision&& d, const std::string& trace_id,
                   std::optional<domain::LrpEventMode> mode) {
  std::vector<models::ActualLRP> puts = std::move(d.puts);
  return ChangeOf(snap, d, std::move(puts), trace_id, mode);
}

void AppendLrpDeletions(const std::vector<models::ActualLRP>& rows, const std::string& trace_id,
                        Change* change) {
  for (const auto& lrp : rows) {
    change->mutations.push_back(storage::DeleteActualLrp{
        lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(), lrp.presence()});
    auto events = domain::ComputeActualLrpEvents({lrp}, {{lrp, std::nullopt}},
                                                 domain::LrpEventMode::kStandard, trace_id);
    change->events.insert(change->events.end(), events.begin(), events.end());
  }
}

}  // namespace bbs::state
