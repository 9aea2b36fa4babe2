#pragma once

#include "bbs/state/actual_lrps.h"
#include "bbs/state/committer.h"
#include "bbs/state/convergence.h"
#include "bbs/state/convergence_index.h"
#include "bbs/state/desired_lrps.h"
#include "bbs/state/domains.h"
#include "bbs/state/tasks.h"

namespace bbs::state {

// The state layer assembled (design.md §3, docs/architecture.md "State"): the model (memory),
// the committer (the single writer), the key locks, the outbound peers, and one operation object
// per aggregate. Reads go to model(); writes to the aggregate's operations, which lock, ask
// domain/ to decide, commit through the committer, then do their outbound work.
//
// Thread-safe once started.
class Engine {
 public:
  using Options = Committer::Options;

  Engine(storage::Store* store, const Clock* clock, GuidGenerator* guids,
         domain::EventPublisher* publisher, Logger logger, Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads every record from the store into memory. REQUIRES: called once, before Start().
  Status Load();
  // Starts the committer.
  void Start();
  // Finishes the pending commits, then refuses further writes.
  void Stop();

  // The outbound peers; without them auctions and rep calls are skipped (and logged).
  // REQUIRES: called before Start(); the objects outlive the engine.
  void SetPeers(clients::Auctioneer* auctioneer, clients::Reps* reps, cells::CellDirectory* cells);

  const Model& model() const { return model_; }
  Domains& domains() { return domains_; }
  DesiredLrps& desired_lrps() { return desired_lrps_; }
  ActualLrps& actual_lrps() { return actual_lrps_; }
  Tasks& tasks() { return tasks_; }
  Convergence& convergence() { return convergence_; }

 private:
  WriteContext Context();

  storage::Store* store_;
  const Clock* clock_;
  GuidGenerator* guids_;
  Logger logger_;
  metrics::BbsMetrics* metrics_;
  Model model_;
  ConvergenceIndex convergence_index_;
  Committer committer_;
  KeyLocks locks_;
  Outbound outbound_;
  Domains domains_;
  DesiredLrps desired_lrps_;
  ActualLrps actual_lrps_;
  Tasks tasks_;
  Convergence convergence_;
};

}  // namespace bbs::state
