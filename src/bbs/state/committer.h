#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <span>
#include <thread>
#include <variant>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/domain/event.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/storage/store.h"

namespace bbs::state {

class ConvergenceIndex;
class Model;

// One operation's worth of writes: the mutations to commit atomically and the events they cause.
struct Change {
  std::vector<storage::Mutation> mutations;
  std::vector<domain::Event> events;
};

// The write path's single writer (design.md §3). Submitted changes queue up; one thread takes
// every change queued meanwhile (up to max_batch_mutations), writes them in one store
// transaction (group commit), then applies them to the model and publishes their events, in
// submission order. When the batch's transaction fails, each change is retried alone so that one
// bad change cannot fail its neighbours. Memory never changes before the store accepted the
// change; a failed change leaves memory untouched.
//
// Thread-safe.
class Committer {
 public:
  struct Options {
    // Upper bound of mutations in one group commit.
    size_t max_batch_mutations = 20000;
    // Where each store transaction is recorded (ObserveCommit, StoreQuery*); null = nowhere.
    metrics::BbsMetrics* metrics = nullptr;
  };

  Committer(storage::Store* store, Model* model, domain::EventPublisher* publisher, Logger logger,
            Options options);
  ~Committer();
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Tells `index` the process guids of every applied batch, once memory shows them.
  // REQUIRES: called before Start(); `index` outlives the committer.
  void SetConvergenceIndex(ConvergenceIndex* index) { index_ = index; }

  // Starts the committer thread.
  void Start();
  // Finishes the queued changes, then refuses further ones.
  void Stop();

  // Queues `change`. The future becomes ready once the change is committed, applied and its
  // events published (OK), or refused (the store's error, or UnknownError when stopped). A
  // change without mutations only publishes its events, at once. Callers that submit many
  // changes before waiting get them group-committed together.
  // REQUIRES: until the future is ready the caller holds the key locks of every record the
  // change touches (the model is read under those locks to compute changes).
  std::future<Status> Submit(Change change);

  // Submit for each of `changes`, queued together (one wake-up of the committer thread).
  std::vector<std::future<Status>> SubmitAll(std::vector<Change> changes);

  // Submit(change).get().
  Status Commit(Change change) { return Submit(std::move(change)).get(); }

  // What SubmitAsync calls with the outcome.
  using Done = std::function<void(Status)>;

  // Submit without a future: `done` is called with the same outcome, on the committer thread
  // once the change is applied and its events published (or refused), or at once on the calling
  // thread for a change without mutations or when the committer is stopped. `done` must not
  // block (it delays every later change): hand work that may block to another thread.
  // REQUIRES: as Submit; the key locks may be released by `done` (KeyLocks' locks belong to no
  // thread), which is how a write completes without a thread waiting for it.
  void SubmitAsync(Change change, Done done);

 private:
  struct Pending {
    Change change;
    std::variant<std::promise<Status>, Done> done;
  };
  // Delivers `status` to whoever waits for `p`.
  static void Finish(Pending& p, const Status& status);

  void Loop();
  // store_->CommitChanges(mutations, change_ends), recorded on options_.metrics as one commit
  // of `change_ends.size()` changes and one store transaction.
  Status TimedCommit(const std::vector<storage::Mutation>& mutations,
                     std::span<const size_t> change_ends);

  storage::Store* store_;
  Model* model_;
  domain::EventPublisher* publisher_;
  ConvergenceIndex* index_ = nullptr;
  Logger logger_;
  Options options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool running_ = false;
  std::thread thread_;
};

}  // namespace bbs::state
