#include "bbs/state/committer.h"

#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/state/model.h"
#include "bbs/storage/memory_store.h"

namespace bbs::state {
namespace {

// A store whose first Commit waits until Open(); counts the transactions it saw.
class GatedStore final : public storage::Store {
 public:
  Status Load(storage::Snapshot* out) override { return target_.Load(out); }
  Status Commit(std::span<const storage::Mutation> mutations) override {
    std::unique_lock lock(mu_);
    ++commits_;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return target_.Commit(mutations);
  }
  Status CommitChanges(std::span<const storage::Mutation> mutations,
                       std::span<const size_t> change_ends) override {
    {
      std::lock_guard lock(mu_);
      last_change_ends_.assign(change_ends.begin(), change_ends.end());
    }
    return Commit(mutations);
  }
  std::vector<size_t> last_change_ends() {
    std::lock_guard lock(mu_);
    return last_change_ends_;
  }
  void WaitUntilEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int commits() {
    std::lock_guard lock(mu_);
    return commits_;
  }

 private:
  storage::MemoryStore target_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
  int commits_ = 0;
  std::vector<size_t> last_change_ends_;
};

class CountingPublisher final : public domain::EventPublisher {
 public:
  void Publish(const std::vector<domain::Event>& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& e : batch) types.push_back(e.type);
  }
  std::mutex mu_;
  std::vector<std::string> types;
};

Change PutDomain(const std::string& name, const std::string& event_type = "") {
  Change change;
  change.mutations.push_back(storage::PutDomain{name, 1});
  if (!event_type.empty())
    change.events.push_back(domain::Event{domain::EventFamily::kTask, event_type, nullptr, {}});
  return change;
}

// A committer on a GatedStore whose first change ("a", event "e-a") is inside the gated commit:
// whatever is submitted next queues behind it until store.Open().
struct CommitInFlight {
  CommitInFlight() {
    committer.Start();
    first = committer.Submit(PutDomain("a", "e-a"));
    store.WaitUntilEntered();
  }
  GatedStore store;
  Model model;
  CountingPublisher publisher;
  Committer committer{&store, &model, &publisher, Logger(LogSink::Null(), "test"), {}};
  std::future<Status> first;
};

// A started committer on a MemoryStore behind a FaultyStore whose next commit fails.
struct CommitterWhoseNextCommitFails {
  CommitterWhoseNextCommitFails() {
    committer.Start();
    store.FailNextCommits(1);
  }
  storage::MemoryStore memory;
  storage::FaultyStore store{&memory};
  Model model;
  CountingPublisher publisher;
  Committer committer{&store, &model, &publisher, Logger(LogSink::Null(), "test"), {}};
};

TEST(CommitterTest, ChangesSubmittedWhileACommitRunsShareTheNextTransaction) {
  CommitInFlight t;
  auto& [store, model, publisher, committer, first] = t;
  std::vector<std::future<Status>> rest;
  for (const char* name : {"b", "c", "d"}) {
    rest.push_back(committer.Submit(PutDomain(name, std::string("e-") + name)));
  }
  store.Open();
  EXPECT_THAT(first.get(), IsOk());
  for (auto& f : rest) EXPECT_THAT(f.get(), IsOk());

  EXPECT_EQ(store.commits(), 2);
  // The store learns where each change of the group ends (etcd splits only there).
  EXPECT_EQ(store.last_change_ends(), (std::vector<size_t>{1, 2, 3}));
  EXPECT_EQ(model.DomainCount(), 4u);
  EXPECT_EQ(publisher.types, (std::vector<std::string>{"e-a", "e-b", "e-c", "e-d"}));
}

TEST(CommitterTest, AFailedChangeLeavesMemoryAndEventsUntouched) {
  CommitterWhoseNextCommitFails f;
  auto& [memory, store, model, publisher, committer] = f;
  EXPECT_THAT(committer.Commit(PutDomain("a", "e-a")), ::testing::Not(IsOk()));
  EXPECT_EQ(model.DomainCount(), 0u);
  EXPECT_TRUE(publisher.types.empty());
  EXPECT_THAT(committer.Commit(PutDomain("a", "e-a")), IsOk());
  EXPECT_EQ(model.DomainCount(), 1u);
}

TEST(CommitterTest, AChangeWithoutMutationsOnlyPublishes) {
  GatedStore store;  // never opened: a commit would block
  Model model;
  CountingPublisher publisher;
  Committer committer(&store, &model, &publisher, Logger(LogSink::Null(), "test"), {});
  committer.Start();
  Change change;
  change.events.push_back(domain::Event{domain::EventFamily::kTask, "only-event", nullptr, {}});
  EXPECT_THAT(committer.Submit(std::move(change)).get(), IsOk());
  EXPECT_EQ(store.commits(), 0);
  EXPECT_EQ(publisher.types, std::vector<std::string>{"only-event"});
}

TEST(CommitterTest, EachTransactionIsRecordedAsACommitAndAStoreQuery) {
  storage::MemoryStore memory;
  storage::FaultyStore store(&memory);
  Model model;
  CountingPublisher publisher;
  metrics::BbsMetrics metrics;
  Committer committer(&store, &model, &publisher, Logger(LogSink::Null(), "test"),
                      {.metrics = &metrics});
  committer.Start();
  store.FailNextCommits(1);
  EXPECT_THAT(committer.Commit(PutDomain("a")), ::testing::Not(IsOk()));
  EXPECT_THAT(committer.Commit(PutDomain("a")), IsOk());

  metrics::StoreReport report = metrics.TakeStoreReport();
  EXPECT_EQ(report.queries_total, 2u);
  EXPECT_EQ(report.queries_succeeded, 1u);
  EXPECT_EQ(report.queries_failed, 1u);
  std::string text = metrics.PrometheusText();
  EXPECT_THAT(text, ::testing::HasSubstr("bbs_commits_total{result=\"success\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("bbs_commits_total{result=\"failure\"} 1\n"));
}

TEST(CommitterTest, SubmitAllQueuesTheChangesTogetherAndAnswersEachInOrder) {
  CommitInFlight t;
  auto& [store, model, publisher, committer, first] = t;
  std::vector<Change> changes;
  changes.push_back(PutDomain("b", "e-b"));
  Change events_only;
  events_only.events.push_back(domain::Event{domain::EventFamily::kTask, "e-only", nullptr, {}});
  changes.push_back(std::move(events_only));
  changes.push_back(PutDomain("c", "e-c"));
  std::vector<std::future<Status>> done = committer.SubmitAll(std::move(changes));
  ASSERT_EQ(done.size(), 3u);
  EXPECT_THAT(done[1].get(), IsOk());  // no mutations: answered at once
  store.Open();
  EXPECT_THAT(first.get(), IsOk());
  EXPECT_THAT(done[0].get(), IsOk());
  EXPECT_THAT(done[2].get(), IsOk());
  EXPECT_EQ(store.commits(), 2);  // b and c shared one transaction
  EXPECT_EQ(model.DomainCount(), 3u);
  EXPECT_EQ(publisher.types, (std::vector<std::string>{"e-only", "e-a", "e-b", "e-c"}));
}

TEST(CommitterTest, RefusesChangesOnceStopped) {
  storage::MemoryStore store;
  Model model;
  CountingPublisher publisher;
  Committer committer(&store, &model, &publisher, Logger(LogSink::Null(), "test"), {});
  committer.Start();
  committer.Stop();
  EXPECT_THAT(committer.Commit(PutDomain("a")), StatusIs(ErrorCode::kUnknownError));
  EXPECT_EQ(model.DomainCount(), 0u);
}

TEST(CommitterTest, SubmitAsyncAnswersOnTheCommitterThreadOnceMemoryShowsTheChange) {
  CommitInFlight t;
  auto& [store, model, publisher, committer, first] = t;
  std::promise<std::pair<Status, size_t>> answered;
  std::promise<std::thread::id> answered_on;
  committer.SubmitAsync(PutDomain("b", "e-b"), [&](Status s) {
    answered_on.set_value(std::this_thread::get_id());
    answered.set_value({std::move(s), t.model.DomainCount()});
  });
  store.Open();
  EXPECT_THAT(first.get(), IsOk());
  auto [status, domains_seen] = answered.get_future().get();
  EXPECT_THAT(status, IsOk());
  EXPECT_EQ(domains_seen, 2u);  // applied before the answer
  EXPECT_NE(answered_on.get_future().get(), std::this_thread::get_id());
  EXPECT_EQ(publisher.types, (std::vector<std::string>{"e-a", "e-b"}));
}

TEST(CommitterTest, SubmitAsyncOfAFailedChangeAnswersTheStoreError) {
  CommitterWhoseNextCommitFails f;
  auto& [memory, store, model, publisher, committer] = f;
  std::promise<Status> answered;
  committer.SubmitAsync(PutDomain("a", "e-a"), [&](Status s) { answered.set_value(s); });
  EXPECT_THAT(answered.get_future().get(), ::testing::Not(IsOk()));
  EXPECT_EQ(model.DomainCount(), 0u);
  EXPECT_TRUE(publisher.types.empty());
}

TEST(CommitterTest, SubmitAsyncAnswersAtOnceWithoutMutationsOrOnceStopped) {
  GatedStore store;  // never opened: a commit would block
  Model model;
  CountingPublisher publisher;
  Committer committer(&store, &model, &publisher, Logger(LogSink::Null(), "test"), {});
  committer.Start();
  Change events_only;
  events_only.events.push_back(domain::Event{domain::EventFamily::kTask, "e-only", nullptr, {}});
  std::optional<Status> answered;
  committer.SubmitAsync(std::move(events_only), [&](Status s) { answered = std::move(s); });
  ASSERT_TRUE(answered.has_value());
  EXPECT_THAT(*answered, IsOk());
  EXPECT_EQ(publisher.types, std::vector<std::string>{"e-only"});

  committer.Stop();
  answered.reset();
  committer.SubmitAsync(PutDomain("a"), [&](Status s) { answered = std::move(s); });
  ASSERT_TRUE(answered.has_value());
  EXPECT_THAT(*answered, StatusIs(ErrorCode::kUnknownError));
  EXPECT_EQ(store.commits(), 0);
}

TEST(CommitterTest, SyncAndAsyncSubmissionsShareOneTransactionInOrder) {
  CommitInFlight t;
  auto& [store, model, publisher, committer, first] = t;
  std::future<Status> b = committer.Submit(PutDomain("b", "e-b"));
  std::promise<Status> c;
  committer.SubmitAsync(PutDomain("c", "e-c"), [&](Status s) { c.set_value(s); });
  std::future<Status> d = committer.Submit(PutDomain("d", "e-d"));
  store.Open();
  EXPECT_THAT(first.get(), IsOk());
  EXPECT_THAT(b.get(), IsOk());
  EXPECT_THAT(c.get_future().get(), IsOk());
  EXPECT_THAT(d.get(), IsOk());
  EXPECT_EQ(store.commits(), 2);
  EXPECT_EQ(publisher.types, (std::vector<std::string>{"e-a", "e-b", "e-c", "e-d"}));
}

}  // namespace
}  // namespace bbs::state
