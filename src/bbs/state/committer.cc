#include "bbs/state/committer.h"

#include <algorithm>
#include <chrono>
#include <iterator>

#include "bbs/state/convergence_index.h"
#include "bbs/state/model.h"

namespace bbs::state {

Committer::Committer(storage::Store* store, Model* model, domain::EventPublisher* publisher,
                     Logger logger, Options options)
    : store_(store),
      model_(model),
      publisher_(publisher),
      logger_(std::move(logger)),
      options_(options) {}

Committer::~Committer() { Stop(); }

void Committer::Start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Committer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  running_ = false;
}

std::future<Status> Committer::Submit(Change change) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  if (change.mutations.empty()) {
    if (!change.events.empty()) publisher_->Publish(change.events);
    done.set_value(Status::Ok());
    return result;
  }
  std::lock_guard lock(mu_);
  if (!running_ || stopping_) {
    done.set_value(UnknownError("bbs is shutting down"));
    return result;
  }
  queue_.push_back(Pending{std::move(change), std::move(done)});
  cv_.notify_one();
  return result;
}

void Committer::SubmitAsync(Change change, Done done) {
  if (change.mutations.empty()) {
    if (!change.events.empty()) publisher_->Publish(change.events);
    done(Status::Ok());
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (running_ && !stopping_) {
      queue_.push_back(Pending{std::move(change), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(UnknownError("bbs is shutting down"));
}

void Committer::Finish(Pending& p, const Status& status) {
  if (auto* promise = std::get_if<std::promise<Status>>(&p.done)) {
    promise->set_value(status);
  } else {
    std::get<Done>(p.done)(status);
  }
}

std::vector<std::future<Status>> Committer::SubmitAll(std::vector<Change> changes) {
  std::vector<std::future<Status>> results;
  results.reserve(changes.size());
  std::vector<std::promise<Status>> promises(changes.size());
  for (auto& p : promises) results.push_back(p.get_future());
  std::vector<size_t> events_only;
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < changes.size(); ++i) {
      if (changes[i].mutations.empty()) {
        events_only.push_back(i);  // published below, outside the lock
      } else if (!running_ || stopping_) {
        promises[i].set_value(UnknownError("bbs is shutting down"));
      } else {
        queue_.push_back(Pending{std::move(changes[i]), std::move(promises[i])});
        queued = true;
      }
    }
  }
  if (queued) cv_.notify_one();
  for (size_t i : events_only) {
    if (!changes[i].events.empty()) publisher_->Publish(changes[i].events);
    promises[i].set_value(Status::Ok());
  }
  return results;
}

Status Committer::TimedCommit(const std::vector<storage::Mutation>& mutations,
                              std::span<const size_t> change_ends) {
  metrics::BbsMetrics* m = options_.metrics;
  if (m == nullptr) return store_->CommitChanges(mutations, change_ends);
  const size_t batch_size = change_ends.size();
  m->StoreQueryStarted();
  auto started = std::chrono::steady_clock::now();
  Status s = store_->CommitChanges(mutations, change_ends);
  auto duration =
      std::chrono::duration_cast<metrics::Nanos>(std::chrono::steady_clock::now() - started);
  m->StoreQueryFinished(s.ok(), duration);
  m->ObserveCommit(batch_size, duration, s.ok());
  return s;
}

void Committer::Loop() {
  std::vector<Pending> batch;
  std::vector<storage::Mutation> all;
  std::vector<size_t> change_ends;  // where each change of the batch ends in `all`
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      size_t n = 0;
      while (!queue_.empty() && (batch.empty() || n + queue_.front().change.mutations.size() <=
                                                      options_.max_batch_mutations)) {
        n += queue_.front().change.mutations.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }

    std::vector<Status> results(batch.size());
    Status s;
    if (batch.size() == 1) {
      const size_t end = batch[0].change.mutations.size();
      s = TimedCommit(batch[0].change.mutations, std::span<const size_t>(&end, 1));
    } else {
      // The batch's mutations moved (not copied: records are large) into one contiguous list
      // for the store, and moved back to their changes after.
      all.clear();
      change_ends.clear();
      for (Pending& p : batch) {
        std::move(p.change.mutations.begin(), p.change.mutations.end(), std::back_inserter(all));
        change_ends.push_back(all.size());
      }
      s = TimedCommit(all, change_ends);
      size_t at = 0;
      for (Pending& p : batch) {
        for (auto& m : p.change.mutations) m = std::move(all[at++]);
      }
    }
    if (!s.ok() && batch.size() > 1) {
      for (size_t i = 0; i < batch.size(); ++i) {
        const size_t end = batch[i].change.mutations.size();
        results[i] = TimedCommit(batch[i].change.mutations, std::span<const size_t>(&end, 1));
      }
    } else {
      std::fill(results.begin(), results.end(), s);
    }

    std::vector<std::vector<storage::Mutation>*> applied;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results[i].ok()) applied.push_back(&batch[i].change.mutations);
    }
    std::vector<std::string> guids;
    if (index_ != nullptr) guids = ConvergenceIndex::ProcessGuidsOf(applied);
    model_->Apply(applied);
    if (index_ != nullptr) index_->MarkDirty(std::move(guids));
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results[i].ok()) {
        if (!batch[i].change.events.empty()) publisher_->Publish(batch[i].change.events);
      } else {
        logger_.Error("commit-failed", results[i].ToString());
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) Finish(batch[i], results[i]);
  }
}

}  // namespace bbs::state
