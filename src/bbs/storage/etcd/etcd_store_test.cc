// EtcdStore against a real etcd (BBS_TEST_ETCD_ENDPOINTS), beyond the conformance suite: the
// seed's key layout, encryption and key rotation, transaction splitting, leases, fencing,
// reading what the seed wrote.
#include "bbs/storage/etcd/etcd_store.h"

#include <chrono>
#include <climits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/etcd/etcd_testing.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage::etcd {
namespace {

using models::ActualLRP;
using storage::testing::EqualsProto;
using storage::testing::FindDomain;
using storage::testing::FindTask;
using storage::testing::IsOk;
using storage::testing::NullLogger;
using storage::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsNull;
using ::testing::NotNull;
using ::testing::SizeIs;

TEST(SplitEndpointsTest, SplitsTheClusterFlagOnCommasAndTrimsSlashes) {
  EXPECT_THAT(SplitEndpoints("https://a:2379, https://b:2379/,"),
              ::testing::ElementsAre("https://a:2379", "https://b:2379"));
  EXPECT_THAT(SplitEndpoints(""), ::testing::IsEmpty());
}

TEST(KeyLayoutTest, KeysFollowTheSeedLayout) {
  KeyLayout seed{""};
  EXPECT_EQ(seed.Version(), "/version");
  EXPECT_EQ(seed.EncryptionKey(), "/encryption-key");
  EXPECT_EQ(seed.Domain("cf-apps"), "/v1/domain/cf-apps");
  EXPECT_EQ(seed.DesiredSchedule("pg"), "/v1/desired_lrp/schedule/pg");
  EXPECT_EQ(seed.DesiredRun("pg"), "/v1/desired_lrp/run/pg");
  EXPECT_EQ(seed.Actual("pg", 3, ActualLRP::ORDINARY), "/v1/actual/pg/3/instance");
  EXPECT_EQ(seed.Actual("pg", 3, ActualLRP::EVACUATING), "/v1/actual/pg/3/evacuating");
  EXPECT_EQ(seed.Actual("pg", 3, ActualLRP::SUSPECT), "/v1/actual/pg/3/suspect");
  EXPECT_EQ(seed.Task("tg"), "/v1/task/tg");
  EXPECT_EQ(KeyLayout{"/cf"}.Task("tg"), "/cf/v1/task/tg");
}

TEST(EtcdStoreOpenTest, FailsClearlyWhenNoMemberAnswers) {
  auto options = testing::TestOptions({"http://127.0.0.1:1"}, "/unused");
  options.connect_timeout = std::chrono::milliseconds(500);
  auto start = std::chrono::steady_clock::now();
  auto store = EtcdStore::Open(options, NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(store.status().message(), HasSubstr("cannot reach etcd at http://127.0.0.1:1"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(EtcdStoreOpenTest, RejectsAnEndpointWithAnUnknownScheme) {
  auto options = testing::TestOptions({"unix:///tmp/etcd.sock"}, "/unused");
  EXPECT_THAT(EtcdStore::Open(options, NullLogger()).status(),
              StatusIs(ErrorCode::kInvalidRequest));
}

class EtcdStoreTest : public testing::SharedEtcdTest {
 protected:
  EtcdStoreTest() : SharedEtcdTest("store") {}

  void SetUpOnEtcd() override {
    options_ = testing::TestOptions(endpoints_, root_);
    options_.now = [this] { return now_; };
    Open();
  }

  void Open() {
    store_.reset();
    auto store = EtcdStore::Open(options_, NullLogger());
    ASSERT_THAT(store.ok() ? Status::Ok() : store.status(), IsOk());
    store_ = std::move(store).value();
  }

  Snapshot Load() {
    Snapshot snapshot;
    EXPECT_THAT(store_->Load(&snapshot), IsOk());
    return snapshot;
  }

  // Every key (with its value and lease) under the store's root.
  std::vector<mvccpb::KeyValue> RawKeys() {
    etcdserverpb::RangeRequest request;
    request.set_key(root_ + "/");
    request.set_range_end(root_ + "0");
    etcdserverpb::RangeResponse response;
    EXPECT_THAT(store_->client().Range(request, &response), IsOk());
    return {response.kvs().begin(), response.kvs().end()};
  }

  const mvccpb::KeyValue* RawKey(const std::vector<mvccpb::KeyValue>& kvs, const std::string& key) {
    for (const auto& kv : kvs) {
      if (kv.key() == key) {
        return &kv;
      }
    }
    return nullptr;
  }

  // How many etcd transactions wrote the record keys: each transaction is one revision, shared
  // by every key it wrote (other tests may write to the same etcd meanwhile).
  size_t TransactionsThatWroteRecords() {
    std::set<int64_t> revisions;
    for (const auto& kv : RawKeys()) {
      if (kv.key().starts_with(root_ + "/v1/")) {
        revisions.insert(kv.mod_revision());
      }
    }
    return revisions.size();
  }

  void RawPut(const std::string& key, const std::string& value) {
    etcdserverpb::TxnRequest txn;
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    etcdserverpb::TxnResponse response;
    ASSERT_THAT(store_->client().Txn(txn, &response), IsOk());
  }

  int64_t now_ = 1'800'000'000'000'000'000;
  EtcdStore::Options options_;
  std::unique_ptr<EtcdStore> store_;
};

TEST_F(EtcdStoreTest, WritesTheSeedKeyLayoutWithEncodedValues) {
  records::DesiredLRPRecord desired = storage::testing::FullDesiredLrp("pg", 1);
  ASSERT_THAT(store_->Commit(std::vector<Mutation>{
                  PutDomain{"cf-apps", INT64_MAX}, PutDesiredLrp{desired},
                  PutActualLrp{storage::testing::SmallActualLrp("pg", 0)},
                  PutActualLrp{storage::testing::FullActualLrp("pg", 0, ActualLRP::EVACUATING, 2)},
                  PutTask{storage::testing::SmallTask("tg")}}),
              IsOk());
  auto kvs = RawKeys();
  std::vector<std::string> keys;
  for (const auto& kv : kvs) {
    keys.push_back(kv.key().substr(root_.size()));
  }
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre(
                        "/version", "/encryption-key", "/v1/domain/cf-apps",
                        "/v1/desired_lrp/schedule/pg", "/v1/desired_lrp/run/pg",
                        "/v1/actual/pg/0/instance", "/v1/actual/pg/0/evacuating", "/v1/task/tg"));
  EXPECT_EQ(RawKey(kvs, root_ + "/version")->value(), R"({"CurrentVersion":1})");
  EXPECT_EQ(RawKey(kvs, root_ + "/encryption-key")->value(), "etcd-test");
  // Every model value is encrypted with the active key (spec/behavior.md §10.2).
  for (const auto& kv : kvs) {
    if (kv.key().starts_with(root_ + "/v1/") && !kv.key().starts_with(root_ + "/v1/domain/")) {
      EXPECT_TRUE(kv.value().starts_with("02")) << kv.key();
      auto label = encryption::Encoder::LabelOf(kv.value());
      ASSERT_TRUE(label.ok()) << kv.key();
      EXPECT_EQ(*label, "etcd-test");
    }
  }
  // The schedule node is a DesiredLRPSchedulingInfo to a reader that knows nothing else.
  auto codec = testing::TestEncoder();
  auto schedule =
      codec->DecodeModelBytes(RawKey(kvs, root_ + "/v1/desired_lrp/schedule/pg")->value());
  ASSERT_TRUE(schedule.ok());
  models::DesiredLRPSchedulingInfo info;
  ASSERT_TRUE(info.ParseFromString(*schedule));
  info.GetReflection()->MutableUnknownFields(&info)->Clear();
  EXPECT_THAT(info, EqualsProto(desired.scheduling_info()));
  auto run = codec->DecodeModelBytes(RawKey(kvs, root_ + "/v1/desired_lrp/run/pg")->value());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(*run, desired.run_info());
  auto task = codec->DecodeModelBytes(RawKey(kvs, root_ + "/v1/task/tg")->value());
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(*task, storage::testing::SmallTask("tg").SerializeAsString());
}

TEST_F(EtcdStoreTest, ReopeningKeepsTheVersionKey) {
  Open();
  auto kvs = RawKeys();
  ASSERT_THAT(RawKey(kvs, root_ + "/version"), NotNull());
  EXPECT_EQ(RawKey(kvs, root_ + "/version")->version(), 1);
}

TEST_F(EtcdStoreTest, SplitsACommitIntoTransactionsOfAtMostTheOpsLimit) {
  std::vector<Mutation> mutations;
  for (int i = 0; i < 1000; ++i) {
    mutations.push_back(PutTask{storage::testing::SmallTask(fmt::format("tg-{}", i))});
  }
  ASSERT_THAT(store_->Commit(mutations), IsOk());
  // ceil(1000 / 128) transactions.
  EXPECT_EQ(TransactionsThatWroteRecords(), 8u);
  EXPECT_THAT(Load().tasks, SizeIs(1000));
}

TEST_F(EtcdStoreTest, SplitsACommitIntoTransactionsWithinTheRequestSizeLimit) {
  std::vector<Mutation> mutations;
  for (int i = 0; i < 10; ++i) {
    models::Task task = storage::testing::SmallTask(fmt::format("big-{}", i));
    task.mutable_task_definition()->set_annotation(std::string(300 * 1024, 'a'));
    mutations.push_back(PutTask{task});
  }
  ASSERT_THAT(store_->Commit(mutations), IsOk());
  // Base64 makes each 300 KiB model a value of about 400 KiB; 1.5 MiB minus framing holds three
  // of them: 10 values need 4 transactions.
  EXPECT_EQ(TransactionsThatWroteRecords(), 4u);
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.tasks, SizeIs(10));
  EXPECT_EQ(FindTask(snapshot, "big-9")->task_definition().annotation().size(), 300u * 1024);
}

TEST_F(EtcdStoreTest, AGroupCommitIsSplitOnlyBetweenChanges) {
  options_.max_ops_per_txn = 10;
  Open();
  // Five changes of four tasks: two changes fit in a transaction, a third would not.
  std::vector<Mutation> mutations;
  std::vector<size_t> ends;
  for (int c = 0; c < 5; ++c) {
    for (int i = 0; i < 4; ++i) {
      mutations.push_back(PutTask{storage::testing::SmallTask(fmt::format("c{}-{}", c, i))});
    }
    ends.push_back(mutations.size());
  }
  ASSERT_THAT(store_->CommitChanges(mutations, ends), IsOk());
  EXPECT_EQ(TransactionsThatWroteRecords(), 3u);
  auto kvs = RawKeys();
  for (int c = 0; c < 5; ++c) {
    std::set<int64_t> revisions;
    for (int i = 0; i < 4; ++i) {
      const auto* kv = RawKey(kvs, fmt::format("{}/v1/task/c{}-{}", root_, c, i));
      ASSERT_THAT(kv, NotNull());
      revisions.insert(kv->mod_revision());
    }
    EXPECT_THAT(revisions, SizeIs(1)) << "change " << c << " was split";
  }
}

TEST_F(EtcdStoreTest, AChangeOverTheLimitsIsWrittenInOrderWithTheDesiredLrpFirstAndWhole) {
  options_.max_ops_per_txn = 10;
  Open();
  // A desire of 30 instances: the desired LRP's two keys and 30 actual LRPs, 32 operations. A
  // task first puts the desired LRP's pair at a transaction boundary (ops 9 and 10).
  std::vector<Mutation> mutations;
  for (int i = 0; i < 8; ++i) {
    mutations.push_back(PutTask{storage::testing::SmallTask(fmt::format("t{}", i))});
  }
  mutations.push_back(PutDesiredLrp{storage::testing::FullDesiredLrp("big", 1)});
  for (int i = 0; i < 30; ++i) {
    mutations.push_back(PutActualLrp{storage::testing::SmallActualLrp("big", i)});
  }
  ASSERT_THAT(store_->Commit(mutations), IsOk());
  auto kvs = RawKeys();
  const auto* schedule = RawKey(kvs, root_ + "/v1/desired_lrp/schedule/big");
  const auto* run = RawKey(kvs, root_ + "/v1/desired_lrp/run/big");
  ASSERT_THAT(schedule, NotNull());
  ASSERT_THAT(run, NotNull());
  EXPECT_EQ(schedule->mod_revision(), run->mod_revision());
  std::set<int64_t> revisions;
  for (int i = 0; i < 30; ++i) {
    const auto* actual = RawKey(kvs, fmt::format("{}/v1/actual/big/{}/instance", root_, i));
    ASSERT_THAT(actual, NotNull());
    EXPECT_GE(actual->mod_revision(), schedule->mod_revision());
    revisions.insert(actual->mod_revision());
  }
  EXPECT_GE(revisions.size(), 3u);
  Snapshot snapshot = Load();
  EXPECT_THAT(snapshot.desired_lrps, SizeIs(1));
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(30));
  EXPECT_THAT(snapshot.tasks, SizeIs(8));
}

TEST_F(EtcdStoreTest, ATransactionFailingAfterEarlierOnesOfTheSameChangeIsUnrecoverable) {
  // Limits above the server's (1.5 MiB) let the second transaction be refused by etcd itself.
  options_.max_ops_per_txn = 1;
  options_.max_request_bytes = 8 * 1024 * 1024;
  Open();
  models::Task large = storage::testing::SmallTask("large");
  large.mutable_task_definition()->set_annotation(std::string(1300 * 1024, 'a'));
  Status status = store_->Commit(
      std::vector<Mutation>{PutTask{storage::testing::SmallTask("small")}, PutTask{large}});
  EXPECT_THAT(status, StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_THAT(status.message(), HasSubstr("partially applied (1 of 2 transactions)"));
}

TEST_F(EtcdStoreTest, AValueOverTheRequestLimitFailsTheCommitBeforeWritingAnything) {
  models::Task huge = storage::testing::SmallTask("huge");
  huge.mutable_task_definition()->set_annotation(std::string(2 * 1024 * 1024, 'a'));
  Status status = store_->Commit(
      std::vector<Mutation>{PutTask{storage::testing::SmallTask("small")}, PutTask{huge}});
  EXPECT_THAT(status, StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(status.message(), HasSubstr("request size limit"));
  EXPECT_THAT(Load().tasks, SizeIs(0));
}

TEST_F(EtcdStoreTest, RepeatedKeysInOneCommitBecomeOneOperation) {
  // etcd rejects a transaction that names a key twice; the store keeps the last mutation.
  ASSERT_THAT(
      store_->Commit(std::vector<Mutation>{
          PutTask{storage::testing::SmallTask("t")}, DeleteTask{"t"},
          PutTask{storage::testing::FullTask("t", 3)}, PutDomain{"d", 1}, DeleteDomain{"d"}}),
      IsOk());
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.tasks, SizeIs(1));
  EXPECT_THAT(snapshot.tasks[0], EqualsProto(storage::testing::FullTask("t", 3)));
  EXPECT_THAT(snapshot.domains, SizeIs(0));
}

TEST_F(EtcdStoreTest, DomainsThatExpireLaterGetALeaseWithTheRemainingTtl) {
  ASSERT_THAT(store_->Commit(std::vector<Mutation>{PutDomain{"later", now_ + 90'500'000'000},
                                                   PutDomain{"never", INT64_MAX},
                                                   PutDomain{"past", now_ - 1}}),
              IsOk());
  auto kvs = RawKeys();
  const auto* later = RawKey(kvs, root_ + "/v1/domain/later");
  ASSERT_THAT(later, NotNull());
  EXPECT_NE(later->lease(), 0);
  EXPECT_EQ(later->value(), std::to_string(now_ + 90'500'000'000));
  EXPECT_EQ(RawKey(kvs, root_ + "/v1/domain/never")->lease(), 0);
  EXPECT_EQ(RawKey(kvs, root_ + "/v1/domain/past")->lease(), 0);
  // etcd removes the domain when its lease runs out, as it did in the seed.
  ASSERT_THAT(store_->Commit(std::vector<Mutation>{PutDomain{"brief", now_ + 1}}), IsOk());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (FindDomain(Load(), "brief") != nullptr && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Snapshot snapshot = Load();
  EXPECT_THAT(FindDomain(snapshot, "brief"), IsNull());
  EXPECT_THAT(FindDomain(snapshot, "later"), NotNull());
}

TEST_F(EtcdStoreTest, ReadsWhatTheSeedWroteAndSkipsWhatItCannotDecode) {
  auto codec = testing::TestEncoder();
  RawPut(root_ + "/v1/domain/seeded", "");  // the seed's domains had empty values
  RawPut(root_ + "/v1/task/good",
         codec->EncodeModelBytes(storage::testing::SmallTask("good").SerializeAsString()));
  RawPut(root_ + "/v1/task/corrupt", "02not-base64");
  RawPut(root_ + "/v1/desired_lrp/schedule/half", codec->EncodeModelBytes(""));
  RawPut(root_ + "/v1/desired/legacy", "{}");  // pre-Sept-2015 layout: ignored
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].domain, "seeded");
  EXPECT_EQ(snapshot.domains[0].expire_time, INT64_MAX);
  ASSERT_THAT(snapshot.tasks, SizeIs(1));
  EXPECT_EQ(snapshot.tasks[0].task_guid(), "good");
  EXPECT_THAT(snapshot.desired_lrps, SizeIs(0));
}

std::shared_ptr<const encryption::Encoder> TwoKeys(const std::string& active) {
  auto encoder = encryption::Encoder::Create(
      {{"etcd-test", "etcd test passphrase of etcd-test"}, {"new", "etcd test passphrase of new"}},
      active);
  EXPECT_TRUE(encoder.ok());
  return encoder.value();
}

TEST_F(EtcdStoreTest, RefusesToStartOnAStoredKeyLabelItDoesNotKnow) {
  RawPut(root_ + "/encryption-key", "retired");
  store_.reset();
  auto store = EtcdStore::Open(options_, NullLogger());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_EQ(store.status().message(),
            "Existing encryption key version (retired) is not among the known keys");
}

TEST_F(EtcdStoreTest, ReencryptsEveryRecordWhenTheActiveKeyChanges) {
  records::DesiredLRPRecord desired = storage::testing::FullDesiredLrp("pg", 1);
  ASSERT_THAT(
      store_->Commit(std::vector<Mutation>{PutDomain{"cf-apps", INT64_MAX}, PutDesiredLrp{desired},
                                           PutActualLrp{storage::testing::SmallActualLrp("pg", 0)},
                                           PutTask{storage::testing::SmallTask("tg")}}),
      IsOk());
  RawPut(root_ + "/v1/task/corrupt", "02not-base64");
  options_.encoder = TwoKeys("new");
  options_.page_size = 2;
  Open();
  auto kvs = RawKeys();
  EXPECT_EQ(RawKey(kvs, root_ + "/encryption-key")->value(), "new");
  for (const auto& kv : kvs) {
    if (kv.key().starts_with(root_ + "/v1/") && !kv.key().starts_with(root_ + "/v1/domain/") &&
        kv.key() != root_ + "/v1/task/corrupt") {
      auto label = encryption::Encoder::LabelOf(kv.value());
      ASSERT_TRUE(label.ok()) << kv.key();
      EXPECT_EQ(*label, "new") << kv.key();
    }
  }
  // What cannot be decoded is left as it was.
  EXPECT_EQ(RawKey(kvs, root_ + "/v1/task/corrupt")->value(), "02not-base64");
  // The old key is no longer needed to read the records.
  options_.encoder = testing::TestEncoder("new");
  auto only_new = EtcdStore::Open(options_, NullLogger());
  ASSERT_TRUE(only_new.ok()) << only_new.status().ToString();
  Snapshot snapshot;
  ASSERT_THAT((*only_new)->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.desired_lrps, SizeIs(1));
  auto run_infos = (*only_new)->ReadAllRunInfos();
  ASSERT_TRUE(run_infos.ok()) << run_infos.status().ToString();
  ASSERT_THAT(*run_infos, SizeIs(1));
  EXPECT_EQ((*run_infos)[0].run_info, desired.run_info());
  desired.clear_run_info();  // Load leaves it in etcd (read above)
  EXPECT_THAT(snapshot.desired_lrps[0], EqualsProto(desired));
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(1));
  EXPECT_THAT(snapshot.tasks, SizeIs(1));
}

TEST_F(EtcdStoreTest, LoadPagesThroughMoreKeysThanOneRangeRead) {
  options_.page_size = 7;
  Open();
  std::vector<Mutation> mutations;
  for (int i = 0; i < 50; ++i) {
    mutations.push_back(
        PutDesiredLrp{storage::testing::FullDesiredLrp(fmt::format("pg-{}", i), i)});
    mutations.push_back(PutActualLrp{storage::testing::SmallActualLrp(fmt::format("pg-{}", i), 0)});
  }
  ASSERT_THAT(store_->Commit(mutations), IsOk());
  Snapshot snapshot = Load();
  EXPECT_THAT(snapshot.desired_lrps, SizeIs(50));
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(50));
  records::DesiredLRPRecord pg17 = storage::testing::FullDesiredLrp("pg-17", 17);
  pg17.clear_run_info();  // read on demand
  EXPECT_THAT(*storage::testing::FindDesiredLrp(snapshot, "pg-17"), EqualsProto(pg17));
  // The run-info read of everything pages the same way.
  auto run_infos = store_->ReadAllRunInfos();
  ASSERT_TRUE(run_infos.ok()) << run_infos.status().ToString();
  EXPECT_THAT(*run_infos, SizeIs(50));
}

TEST_F(EtcdStoreTest, ACommitAfterTheLockKeyChangedIsRefusedAndWritesNothing) {
  const std::string lock = root_ + "/lock";
  RawPut(lock, "me");
  etcdserverpb::RangeRequest get;
  get.set_key(lock);
  etcdserverpb::RangeResponse got;
  ASSERT_THAT(store_->client().Range(get, &got), IsOk());
  ASSERT_THAT(got.kvs(), SizeIs(1));
  store_->SetFence(lock, got.kvs(0).create_revision());

  ASSERT_THAT(store_->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("a")}}),
              IsOk());
  // Another process takes the lock: the key is deleted and created again.
  etcdserverpb::TxnRequest retake;
  retake.add_success()->mutable_request_delete_range()->set_key(lock);
  etcdserverpb::TxnResponse ignored;
  ASSERT_THAT(store_->client().Txn(retake, &ignored), IsOk());
  RawPut(lock, "someone else");

  Status status = store_->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("b")},
                                                       DeleteTask{"a"}, PutDomain{"d", 0}});
  EXPECT_THAT(status, StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_THAT(status.message(), HasSubstr("lost its lock"));
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.tasks, SizeIs(1));
  EXPECT_EQ(snapshot.tasks[0].task_guid(), "a");
  EXPECT_THAT(snapshot.domains, SizeIs(0));

  store_->ClearFence();
  EXPECT_THAT(store_->Commit(std::vector<Mutation>{PutTask{storage::testing::SmallTask("b")}}),
              IsOk());
}

}  // namespace
}  // namespace bbs::storage::etcd
