// The desired LRP reads and writes now that the model keeps a desired LRP without its run info
// (it stays in the store and is read on demand).
#include "bbs/state/desired_lrps.h"

#include <mutex>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/base/clock.h"
#include "bbs/base/guid.h"
#include "bbs/base/status_matchers.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/state/engine.h"
#include "bbs/state/engine_testing.h"
#include "bbs/storage/memory_store.h"
#include "models/events.pb.h"

namespace bbs::state {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Keeps every published event.
class RecordingPublisher final : public domain::EventPublisher {
 public:
  void Publish(const std::vector<domain::Event>& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.insert(events_.end(), batch.begin(), batch.end());
  }
  std::vector<domain::Event> Events(const std::string& type) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<domain::Event> out;
    for (const auto& e : events_) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<domain::Event> events_;
};

class DesiredLrpsTest : public ::testing::Test {
 protected:
  DesiredLrpsTest()
      : faulty_(&store_),
        engine_(&faulty_, &clock_, &guids_, &publisher_, Logger(LogSink::Null(), "t"),
                Engine::Options{}) {
    EXPECT_THAT(engine_.Load(), IsOk());
    engine_.Start();
  }

  // The run info the store holds for `guid` ("" if none).
  std::string StoredRunInfo(const std::string& guid) {
    const std::string guids[] = {guid};
    auto read = store_.ReadRunInfos(guids);
    EXPECT_TRUE(read.ok());
    return read.ok() && !read->empty() ? read->front().run_info.value_or("") : "";
  }

  // The full LRPs the list gives for `filter`, by process guid.
  std::vector<std::string> Listed(const DesiredLrpFilter& filter = {}) {
    std::vector<std::string> guids;
    EXPECT_THAT(engine_.desired_lrps().ForEachDesiredLrp(
                    filter,
                    [&](const records::DesiredLRPRecord& record, const std::string& run_info) {
                      EXPECT_TRUE(record.run_info().empty());
                      EXPECT_EQ(
                          run_info,
                          StoredRunInfo(record.scheduling_info().desired_lrp_key().process_guid()));
                      guids.push_back(record.scheduling_info().desired_lrp_key().process_guid());
                    }),
                IsOk());
    return guids;
  }

  storage::MemoryStore store_;
  storage::FaultyStore faulty_;
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  RecordingPublisher publisher_;
  Engine engine_;
};

TEST_F(DesiredLrpsTest, TheModelKeepsADesiredLrpWithoutItsRunInfoAndTheStoreKeepsIt) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  ASSERT_NE(engine_.model().DesiredLrp("pg-1"), nullptr);
  EXPECT_TRUE(engine_.model().DesiredLrp("pg-1")->run_info().empty());
  models::DesiredLRPRunInfo run_info;
  ASSERT_TRUE(run_info.ParseFromString(StoredRunInfo("pg-1")));
  EXPECT_EQ(run_info.action().run_action().path(), "/bin/true");
}

TEST_F(DesiredLrpsTest, ASingleReadJoinsTheModelsRecordWithTheStoredRunInfo) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  auto read = engine_.desired_lrps().ReadDesiredLrp("pg-1");
  ASSERT_THAT(read.ok() ? Status::Ok() : read.status(), IsOk());
  EXPECT_EQ((*read)->run_info(), StoredRunInfo("pg-1"));
  auto full = domain::DesiredLrpFromRecord(**read);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->action().run_action().path(), "/bin/true");
  EXPECT_EQ(full->instances(), 1);
  // What the created event carried is what a read gives.
  auto created = publisher_.Events("desired_lrp_created");
  ASSERT_THAT(created, SizeIs(1));
  const auto& event = static_cast<const models::DesiredLRPCreatedEvent&>(*created[0].payload);
  EXPECT_EQ(event.desired_lrp().SerializeAsString(), full->SerializeAsString());
}

TEST_F(DesiredLrpsTest, AReadOfAMissingDesiredLrpIsNotFound) {
  EXPECT_EQ(engine_.desired_lrps().ReadDesiredLrp("nope").status().code(),
            ErrorCode::kResourceNotFound);
}

TEST_F(DesiredLrpsTest, ADesiredLrpWhoseRunInfoLeftTheStoreIsNotFoundAndSkippedInLists) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-2", 1), "t"), IsOk());
  // As if removed between the model read and the store read.
  std::vector<storage::Mutation> remove = {storage::DeleteDesiredLrp{"pg-1"}};
  ASSERT_THAT(store_.Commit(remove), IsOk());
  EXPECT_EQ(engine_.desired_lrps().ReadDesiredLrp("pg-1").status().code(),
            ErrorCode::kResourceNotFound);
  EXPECT_THAT(Listed(), ElementsAre("pg-2"));
}

TEST_F(DesiredLrpsTest, ListsJoinEveryDesiredLrpWithItsRunInfoInTheModelsOrder) {
  std::vector<std::string> want;
  for (int i = 0; i < 2100; ++i) {  // more than one chunk of store reads
    std::string guid = "pg-" + std::to_string(i);
    ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp(guid, 0), "t"), IsOk());
  }
  for (const auto& record : engine_.model().DesiredLrps({})) {
    want.push_back(record->scheduling_info().desired_lrp_key().process_guid());
  }
  EXPECT_EQ(Listed(), want);
  DesiredLrpFilter some;
  some.process_guids = {"pg-7", "pg-2000", "missing"};
  EXPECT_THAT(Listed(some), ::testing::UnorderedElementsAre("pg-7", "pg-2000"));
}

TEST_F(DesiredLrpsTest, AStoreThatCannotBeReadFailsReadsUpdatesAndRemovalsWithUnknownError) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  faulty_.FailNextRunInfoReads(1);
  EXPECT_EQ(engine_.desired_lrps().ReadDesiredLrp("pg-1").status().code(),
            ErrorCode::kUnknownError);
  faulty_.FailNextRunInfoReads(1);
  EXPECT_EQ(engine_.desired_lrps().ForEachDesiredLrp({}, [](const auto&, const auto&) {}).code(),
            ErrorCode::kUnknownError);
  models::DesiredLRPUpdate update;
  update.set_instances(3);
  faulty_.FailNextRunInfoReads(1);
  EXPECT_EQ(engine_.desired_lrps().UpdateDesiredLrp("pg-1", update, "t").code(),
            ErrorCode::kUnknownError);
  faulty_.FailNextRunInfoReads(1);
  EXPECT_EQ(engine_.desired_lrps().RemoveDesiredLrp("pg-1", "t").code(), ErrorCode::kUnknownError);
  // Nothing changed.
  EXPECT_EQ(engine_.model().DesiredLrp("pg-1")->scheduling_info().instances(), 1);
  EXPECT_THAT(publisher_.Events("desired_lrp_changed"), IsEmpty());
  EXPECT_THAT(publisher_.Events("desired_lrp_removed"), IsEmpty());
}

TEST_F(DesiredLrpsTest, AnUpdateKeepsTheStoredRunInfoAndItsEventCarriesTheFullLrps) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  std::string before = StoredRunInfo("pg-1");
  models::DesiredLRPUpdate update;
  update.set_instances(2);
  ASSERT_THAT(engine_.desired_lrps().UpdateDesiredLrp("pg-1", update, "t"), IsOk());
  EXPECT_EQ(StoredRunInfo("pg-1"), before);
  auto changed = publisher_.Events("desired_lrp_changed");
  ASSERT_THAT(changed, SizeIs(1));
  const auto& event = static_cast<const models::DesiredLRPChangedEvent&>(*changed[0].payload);
  EXPECT_EQ(event.before().action().run_action().path(), "/bin/true");
  EXPECT_EQ(event.after().action().run_action().path(), "/bin/true");
  EXPECT_EQ(event.before().instances(), 1);
  EXPECT_EQ(event.after().instances(), 2);
}

TEST_F(DesiredLrpsTest, AnUpdateOfTheImageCredentialsRewritesTheStoredRunInfo) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  models::DesiredLRPUpdate update;
  update.set_image_username("user");
  update.set_image_password("secret");
  ASSERT_THAT(engine_.desired_lrps().UpdateDesiredLrp("pg-1", update, "t"), IsOk());
  models::DesiredLRPRunInfo run_info;
  ASSERT_TRUE(run_info.ParseFromString(StoredRunInfo("pg-1")));
  EXPECT_EQ(run_info.image_username(), "user");
  EXPECT_EQ(run_info.image_password(), "secret");
  EXPECT_EQ(run_info.action().run_action().path(), "/bin/true");
  auto changed = publisher_.Events("desired_lrp_changed");
  ASSERT_THAT(changed, SizeIs(1));
  const auto& event = static_cast<const models::DesiredLRPChangedEvent&>(*changed[0].payload);
  EXPECT_EQ(event.before().image_username(), "");
  EXPECT_EQ(event.after().image_username(), "user");
}

TEST_F(DesiredLrpsTest, ARemovalEventCarriesTheFullLrpReadFromTheStore) {
  ASSERT_THAT(engine_.desired_lrps().DesireLrp(testing::NewLrp("pg-1", 1), "t"), IsOk());
  ASSERT_THAT(engine_.desired_lrps().RemoveDesiredLrp("pg-1", "t"), IsOk());
  auto removed = publisher_.Events("desired_lrp_removed");
  ASSERT_THAT(removed, SizeIs(1));
  const auto& event = static_cast<const models::DesiredLRPRemovedEvent&>(*removed[0].payload);
  EXPECT_EQ(event.desired_lrp().process_guid(), "pg-1");
  EXPECT_EQ(event.desired_lrp().action().run_action().path(), "/bin/true");
  EXPECT_EQ(StoredRunInfo("pg-1"), "");
}

}  // namespace
}  // namespace bbs::state
