#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/state/model.h"
#include "models/cells.pb.h"
#include "models/desired_lrp.pb.h"

namespace bbs::cells {
class CellDirectory;
}
namespace bbs::clients {
class Auctioneer;
class Reps;
struct LrpStartRequest;
struct LrpInstanceUpdate;
}  // namespace bbs::clients

namespace bbs::state {

// The outbound calls of the write path (outbound.md): auction requests, rep calls. Without a
// peer its calls are skipped. Never called with a key lock held, except where noted.
//
// Thread-safe once the peers are set.
class Outbound {
 public:
  explicit Outbound(Logger logger) : logger_(std::move(logger)) {}

  // REQUIRES: called before the write path starts; the objects outlive this one.
  void SetPeers(clients::Auctioneer* auctioneer, clients::Reps* reps, cells::CellDirectory* cells);

  // Asks the auctioneer to place `indices` of `desired`.
  void RequestLrpAuction(const DesiredLrpPtr& desired, std::vector<int32_t> indices,
                         const std::string& trace_id);
  void RequestLrpAuctions(std::vector<clients::LrpStartRequest> requests);
  void RequestTaskAuctions(const std::vector<const models::Task*>& tasks);
  // Asks the reps of `lrps` to stop them, asynchronously (scale down, removal).
  void StopInstancesAsync(const std::vector<models::ActualLRP>& lrps, const std::string& trace_id);
  // Tells the reps of the CLAIMED/RUNNING instances about changed internal routes or metric
  // tags (behavior.md §4.3 step 4), asynchronously.
  void UpdateInstancesAsync(const records::DesiredLRPRecord& before,
                            const models::DesiredLRPUpdate& update,
                            const std::vector<ActualLrpPtr>& actuals, const std::string& trace_id);
  // Sends convergence's instance updates (behavior.md §7).
  void SendInstanceUpdates(
      const std::vector<domain::LrpConvergenceActions::InstanceUpdate>& updates);
  // The presence of `cell_id`; NotFound when the cell is gone or no directory is configured.
  Result<models::CellPresence> LookupCell(const std::string& cell_id);
  bool has_reps() const { return reps_ != nullptr; }
  // Stops one instance through the rep at `rep_url`, synchronously. UnknownError without a rep
  // client.
  Status StopInstance(const std::string& rep_url, const std::string& process_guid,
                      const std::string& instance_guid, const std::string& trace_id);
  // Asks the rep of `cell_id` to cancel a task; only a failure to reach the rep client is
  // returned (outbound.md §4.6), a missing cell is not an error.
  Status CancelTask(const std::string& cell_id, const std::string& task_guid,
                    const std::string& trace_id);

 private:
  clients::Auctioneer* auctioneer_ = nullptr;
  clients::Reps* reps_ = nullptr;
  cells::CellDirectory* cells_ = nullptr;
  Logger logger_;
};

}  // namespace bbs::state
