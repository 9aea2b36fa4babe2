// The suite every Store backend must pass. Adding a backend = one entry in kBackends.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/etcd/etcd_testing.h"
#include "bbs/storage/memory_store.h"
#include "bbs/storage/mysql/mysql_store.h"
#include "bbs/storage/mysql/mysql_test_util.h"
#include "bbs/storage/postgres/postgres_store.h"
#include "bbs/storage/postgres/postgres_test_util.h"
#include "bbs/storage/sql/sql_store_test_util.h"
#include "bbs/storage/sqlite/sqlite_store.h"
#include "bbs/storage/store.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage {
namespace {

using models::ActualLRP;
using testing::EqualsProto;
using testing::FindActualLrp;
using testing::FindDomain;
using testing::FindTask;
using testing::FullActualLrp;
using testing::FullDesiredLrp;
using testing::FullTask;
using ::testing::IsNull;
using testing::IsOk;
using ::testing::NotNull;
using testing::NullLogger;
using ::testing::SizeIs;
using testing::TempDir;

struct Backend {
  std::string name;
  // Opens the store kept in `dir` (a fresh temp directory per test).
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> open;
  // True if a store reopened on the same `dir` shows what was committed before.
  bool persistent = false;
  // Makes every later write of the task with guid "poison" fail inside the backend, or null if
  // the backend cannot be made to fail half-way through a commit.
  std::function<void(const std::string& dir)> poison_task_writes;
  // A reason to skip (e.g. no server configured), or "" if the backend can run here.
  std::function<std::string()> unavailable;
};

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// `record` as Load returns it: without its run info (read with ReadRunInfos).
records::DesiredLRPRecord Loaded(records::DesiredLRPRecord record) {
  record.clear_run_info();
  return record;
}

// A run info for the store: arbitrary bytes, binary included (the store does not parse it).
std::string RunInfoOf(const std::string& process_guid, int version) {
  return fmt::format("run-{}-v{}", process_guid, version) + std::string("\0\xff\x01", 3);
}

// The (guid, run info) pairs of `read`, sorted; an undecodable run info reads "<undecodable>".
std::vector<std::pair<std::string, std::string>> Sorted(
    const Result<std::vector<StoredRunInfo>>& read) {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_THAT(read.ok() ? Status::Ok() : read.status(), IsOk());
  if (!read.ok()) return out;
  for (const StoredRunInfo& r : *read) {
    out.emplace_back(r.process_guid, r.run_info.value_or("<undecodable>"));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string SqlitePath(const std::string& dir) { return dir + "/bbs.db"; }

void PoisonSqliteTaskWrites(const std::string& dir) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(SqlitePath(dir).c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db,
                        "CREATE TRIGGER poison BEFORE INSERT ON tasks WHEN NEW.guid = 'poison' "
                        "BEGIN SELECT RAISE(ABORT, 'poisoned'); END;",
                        nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The URL or DSN that `fresh` made for the test directory `dir` (on the first call; the same
// after, so that a reopened store finds its tables): one database or schema per directory, so
// tests running in parallel never share tables.
std::string FreshPerDir(const std::string& server, const std::string& dir,
                        std::string (*fresh)(const std::string& seed)) {
  std::string seed = std::filesystem::path(dir).filename().string();
  return testing::OncePerSeed(server, seed, [&] { return fresh(seed); });
}

std::string PostgresUrl(const std::string& dir) {
  return FreshPerDir("postgres", dir, testing::PostgresUrlWithFreshSchema);
}

void PoisonPostgresTaskWrites(const std::string& dir) {
  testing::PostgresExec(PostgresUrl(dir), R"sql(
CREATE FUNCTION poison() RETURNS trigger AS $$
BEGIN IF NEW.guid = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END
$$ LANGUAGE plpgsql;
CREATE TRIGGER poison BEFORE INSERT ON tasks FOR EACH ROW EXECUTE FUNCTION poison();)sql");
}

std::string MysqlDsn(const std::string& dir) {
  return FreshPerDir("mysql", dir, testing::MysqlDsnWithFreshDatabase);
}

void PoisonMysqlTaskWrites(const std::string& dir) {
  testing::MysqlExec(MysqlDsn(dir),
                     "CREATE TRIGGER poison BEFORE INSERT ON tasks FOR EACH ROW BEGIN IF NEW.guid "
                     "= 'poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned'; END "
                     "IF; END");
}

// Opens the server backend S on `location`, the URL or DSN that its options' `kLocation` holds.
template <typename S, auto kLocation>
Result<std::unique_ptr<Store>> OpenServerStore(const std::string& location) {
  typename S::Options options;
  options.*kLocation = location;
  return testing::AsStore(S::Open(options, NullLogger(), testing::TestEncoder()));
}

const Backend kBackends[] = {
    {"Memory",
     [](const std::string&) -> Result<std::unique_ptr<Store>> {
       return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
     },
     false, nullptr, nullptr},
    {"Sqlite",
     [](const std::string& dir) {
       return testing::AsStore(
           SqliteStore::Open(SqlitePath(dir), NullLogger(), testing::TestEncoder()));
     },
     true, PoisonSqliteTaskWrites, nullptr},
    {"Postgres",
     [](const std::string& dir) {
       return OpenServerStore<PostgresStore, &PostgresStore::Options::url>(PostgresUrl(dir));
     },
     true, PoisonPostgresTaskWrites,
     [] {
       return testing::UnlessServerSet(testing::PostgresTestUrl(), "BBS_TEST_POSTGRES_URL",
                                       "postgres.sh");
     }},
    {"Mysql",
     [](const std::string& dir) {
       return OpenServerStore<MysqlStore, &MysqlStore::Options::dsn>(MysqlDsn(dir));
     },
     true, PoisonMysqlTaskWrites,
     [] {
       return testing::UnlessServerSet(testing::MysqlTestDsn(), "BBS_TEST_MYSQL_URL", "mariadb.sh");
     }},
    // Real etcd from BBS_TEST_ETCD_ENDPOINTS.
    {"Etcd", etcd::testing::OpenConformanceStore, true, nullptr,
     etcd::testing::ConformanceUnavailable},
};

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().unavailable) {
      if (std::string reason = GetParam().unavailable(); !reason.empty()) {
        GTEST_SKIP() << reason;
      }
    }
    Reopen();
  }

  void Reopen() {
    store_.reset();
    auto store = GetParam().open(dir_.path().string());
    if (IsSkipped()) {
      return;  // the backend's server is not configured
    }
    ASSERT_THAT(store.ok() ? Status::Ok() : store.status(), IsOk());
    store_ = std::move(store).value();
  }

  Status Commit(std::vector<Mutation> mutations) { return store_->Commit(mutations); }

  Snapshot Load() {
    Snapshot snapshot;
    EXPECT_THAT(store_->Load(&snapshot), IsOk());
    return snapshot;
  }

  // Commits `mutation` alone and expects `records` of the snapshot loaded then to be exactly
  // `record`.
  template <typename Record>
  void ExpectRoundTrip(Mutation mutation, std::vector<Record> Snapshot::*records,
                       const Record& record) {
    ASSERT_THAT(Commit({std::move(mutation)}), IsOk());
    EXPECT_THAT(Load().*records, ::testing::ElementsAre(EqualsProto(record)));
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, ANewStoreIsEmpty) {
  Snapshot snapshot = Load();
  EXPECT_THAT(snapshot.domains, SizeIs(0));
  EXPECT_THAT(snapshot.desired_lrps, SizeIs(0));
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(0));
  EXPECT_THAT(snapshot.tasks, SizeIs(0));
}

TEST_P(StoreConformanceTest, RoundTripsDomainsWithTheirExpiryTimes) {
  ASSERT_THAT(Commit({PutDomain{"cf-apps", INT64_MAX}, PutDomain{"cf-tasks", 1700000000123456789},
                      PutDomain{"", 0}}),
              IsOk());
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.domains, SizeIs(3));
  ASSERT_THAT(FindDomain(snapshot, "cf-apps"), NotNull());
  EXPECT_EQ(FindDomain(snapshot, "cf-apps")->expire_time, INT64_MAX);
  ASSERT_THAT(FindDomain(snapshot, "cf-tasks"), NotNull());
  EXPECT_EQ(FindDomain(snapshot, "cf-tasks")->expire_time, 1700000000123456789);
  ASSERT_THAT(FindDomain(snapshot, ""), NotNull());
  EXPECT_EQ(FindDomain(snapshot, "")->expire_time, 0);
}

TEST_P(StoreConformanceTest, RoundTripsADesiredLrpWithEveryFieldSet) {
  records::DesiredLRPRecord record = FullDesiredLrp("pg-1", 1);
  ExpectRoundTrip(PutDesiredLrp{record}, &Snapshot::desired_lrps, Loaded(record));
  const std::string guids[] = {"pg-1"};
  EXPECT_THAT(Sorted(store_->ReadRunInfos(guids)),
              ::testing::ElementsAre(::testing::Pair("pg-1", record.run_info())));
}

TEST_P(StoreConformanceTest, RoundTripsAnActualLrpWithEveryFieldSet) {
  ActualLRP lrp = FullActualLrp("pg-1", 3, ActualLRP::EVACUATING, 1);
  ASSERT_TRUE(lrp.has_routable());
  ExpectRoundTrip(PutActualLrp{lrp}, &Snapshot::actual_lrps, lrp);
}

TEST_P(StoreConformanceTest, RoundTripsATaskWithEveryFieldSet) {
  models::Task task = FullTask("tg-1", 1);
  ExpectRoundTrip(PutTask{task}, &Snapshot::tasks, task);
}

TEST_P(StoreConformanceTest, RoundTripsEmptyRecords) {
  records::DesiredLRPRecord record;
  record.mutable_scheduling_info()->mutable_desired_lrp_key()->set_process_guid("pg-empty");
  ActualLRP lrp;
  lrp.mutable_actual_lrp_key()->set_process_guid("pg-empty");
  models::Task task;
  task.set_task_guid("tg-empty");
  ASSERT_THAT(Commit({PutDesiredLrp{record}, PutActualLrp{lrp}, PutTask{task}}), IsOk());
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.desired_lrps, SizeIs(1));
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(1));
  ASSERT_THAT(snapshot.tasks, SizeIs(1));
  // Sub-messages that upstream always writes may come back present but empty.
  google::protobuf::util::MessageDifferencer equivalent;
  equivalent.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  EXPECT_TRUE(equivalent.Compare(snapshot.desired_lrps[0], record));
  EXPECT_THAT(Sorted(store_->ReadAllRunInfos()),
              ::testing::ElementsAre(::testing::Pair("pg-empty", "")));
  EXPECT_TRUE(equivalent.Compare(snapshot.actual_lrps[0], lrp));
  EXPECT_TRUE(equivalent.Compare(snapshot.tasks[0], task));
  // Upstream's routable column is a plain BOOL: an unset value may come back as false.
  EXPECT_FALSE(snapshot.actual_lrps[0].routable());
}

// An unset routable comes back unset, or (upstream's plain BOOL column) as false.
TEST_P(StoreConformanceTest, KeepsRoutableAndReadsAnUnsetOneAsFalse) {
  ActualLRP unset = FullActualLrp("pg", 0, ActualLRP::ORDINARY, 1);
  unset.clear_optional_routable();
  ActualLRP set_false = FullActualLrp("pg", 1, ActualLRP::ORDINARY, 2);
  set_false.set_routable(false);
  ActualLRP set_true = FullActualLrp("pg", 2, ActualLRP::ORDINARY, 3);
  set_true.set_routable(true);
  ASSERT_THAT(Commit({PutActualLrp{unset}, PutActualLrp{set_false}, PutActualLrp{set_true}}),
              IsOk());
  Snapshot snapshot = Load();
  const ActualLRP* got_unset = FindActualLrp(snapshot, "pg", 0, ActualLRP::ORDINARY);
  const ActualLRP* got_false = FindActualLrp(snapshot, "pg", 1, ActualLRP::ORDINARY);
  const ActualLRP* got_true = FindActualLrp(snapshot, "pg", 2, ActualLRP::ORDINARY);
  ASSERT_THAT(got_unset, NotNull());
  ASSERT_THAT(got_false, NotNull());
  ASSERT_THAT(got_true, NotNull());
  EXPECT_FALSE(got_unset->routable());
  EXPECT_TRUE(got_false->has_routable());
  EXPECT_FALSE(got_false->routable());
  EXPECT_TRUE(got_true->has_routable());
  EXPECT_TRUE(got_true->routable());
  ActualLRP got_unset_cleared = *got_unset;
  got_unset_cleared.clear_optional_routable();
  EXPECT_THAT(got_unset_cleared, EqualsProto(unset));
  EXPECT_THAT(*got_false, EqualsProto(set_false));
  EXPECT_THAT(*got_true, EqualsProto(set_true));
}

TEST_P(StoreConformanceTest, PutsOverwriteTheRecordWithTheSameKey) {
  ASSERT_THAT(Commit({PutDomain{"d", 1}, PutDesiredLrp{FullDesiredLrp("pg", 1)},
                      PutActualLrp{FullActualLrp("pg", 0, ActualLRP::ORDINARY, 1)},
                      PutTask{FullTask("tg", 1)}}),
              IsOk());
  records::DesiredLRPRecord desired = FullDesiredLrp("pg", 2);
  ActualLRP actual = FullActualLrp("pg", 0, ActualLRP::ORDINARY, 2);
  actual.set_routable(false);
  models::Task task = FullTask("tg", 2);
  ASSERT_THAT(
      Commit({PutDomain{"d", 2}, PutDesiredLrp{desired}, PutActualLrp{actual}, PutTask{task}}),
      IsOk());
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].expire_time, 2);
  EXPECT_THAT(snapshot.desired_lrps, ::testing::ElementsAre(EqualsProto(Loaded(desired))));
  EXPECT_THAT(snapshot.actual_lrps, ::testing::ElementsAre(EqualsProto(actual)));
  EXPECT_THAT(snapshot.tasks, ::testing::ElementsAre(EqualsProto(task)));
  EXPECT_THAT(Sorted(store_->ReadAllRunInfos()),
              ::testing::ElementsAre(::testing::Pair("pg", desired.run_info())));
}

TEST_P(StoreConformanceTest, DeletesRemoveOnlyTheNamedRecords) {
  ASSERT_THAT(
      Commit({PutDomain{"d1", 0}, PutDomain{"d2", 0}, PutDesiredLrp{FullDesiredLrp("pg1", 1)},
              PutDesiredLrp{FullDesiredLrp("pg2", 2)},
              PutActualLrp{FullActualLrp("pg1", 0, ActualLRP::ORDINARY, 1)},
              PutActualLrp{FullActualLrp("pg1", 1, ActualLRP::ORDINARY, 2)},
              PutTask{FullTask("tg1", 1)}, PutTask{FullTask("tg2", 2)}}),
      IsOk());
  ASSERT_THAT(Commit({DeleteDomain{"d1"}, DeleteDesiredLrp{"pg1"},
                      DeleteActualLrp{"pg1", 0, ActualLRP::ORDINARY}, DeleteTask{"tg1"}}),
              IsOk());
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].domain, "d2");
  EXPECT_THAT(snapshot.desired_lrps,
              ::testing::ElementsAre(EqualsProto(Loaded(FullDesiredLrp("pg2", 2)))));
  EXPECT_THAT(Sorted(store_->ReadAllRunInfos()),
              ::testing::ElementsAre(::testing::Pair("pg2", FullDesiredLrp("pg2", 2).run_info())));
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(1));
  EXPECT_THAT(snapshot.actual_lrps[0],
              EqualsProto(FullActualLrp("pg1", 1, ActualLRP::ORDINARY, 2)));
  EXPECT_THAT(snapshot.tasks, ::testing::ElementsAre(EqualsProto(FullTask("tg2", 2))));
}

TEST_P(StoreConformanceTest, DeletingAMissingKeyIsNotAnError) {
  ASSERT_THAT(Commit({PutTask{FullTask("tg", 1)}}), IsOk());
  EXPECT_THAT(Commit({DeleteDomain{"nope"}, DeleteDesiredLrp{"nope"},
                      DeleteActualLrp{"nope", 0, ActualLRP::ORDINARY},
                      DeleteActualLrp{"nope", 0, ActualLRP::SUSPECT}, DeleteTask{"nope"}}),
              IsOk());
  EXPECT_THAT(Load().tasks, SizeIs(1));
}

TEST_P(StoreConformanceTest, PresenceIsPartOfTheActualLrpKey) {
  ActualLRP ordinary = FullActualLrp("pg", 4, ActualLRP::ORDINARY, 1);
  ActualLRP evacuating = FullActualLrp("pg", 4, ActualLRP::EVACUATING, 2);
  ActualLRP suspect = FullActualLrp("pg", 4, ActualLRP::SUSPECT, 3);
  ASSERT_THAT(Commit({PutActualLrp{ordinary}, PutActualLrp{evacuating}, PutActualLrp{suspect}}),
              IsOk());
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(3));
  ASSERT_THAT(FindActualLrp(snapshot, "pg", 4, ActualLRP::ORDINARY), NotNull());
  EXPECT_THAT(*FindActualLrp(snapshot, "pg", 4, ActualLRP::ORDINARY), EqualsProto(ordinary));
  ASSERT_THAT(FindActualLrp(snapshot, "pg", 4, ActualLRP::EVACUATING), NotNull());
  EXPECT_THAT(*FindActualLrp(snapshot, "pg", 4, ActualLRP::EVACUATING), EqualsProto(evacuating));
  ASSERT_THAT(FindActualLrp(snapshot, "pg", 4, ActualLRP::SUSPECT), NotNull());
  EXPECT_THAT(*FindActualLrp(snapshot, "pg", 4, ActualLRP::SUSPECT), EqualsProto(suspect));

  ASSERT_THAT(Commit({DeleteActualLrp{"pg", 4, ActualLRP::EVACUATING}}), IsOk());
  snapshot = Load();
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(2));
  EXPECT_THAT(FindActualLrp(snapshot, "pg", 4, ActualLRP::EVACUATING), IsNull());
  EXPECT_THAT(FindActualLrp(snapshot, "pg", 4, ActualLRP::ORDINARY), NotNull());
  EXPECT_THAT(FindActualLrp(snapshot, "pg", 4, ActualLRP::SUSPECT), NotNull());
}

TEST_P(StoreConformanceTest, AppliesTheMutationsOfACommitInOrder) {
  models::Task first = FullTask("overwritten", 1);
  models::Task second = FullTask("overwritten", 2);
  ASSERT_THAT(Commit({
                  PutTask{FullTask("put-then-deleted", 1)},
                  DeleteTask{"put-then-deleted"},
                  DeleteTask{"deleted-then-put"},
                  PutTask{FullTask("deleted-then-put", 1)},
                  PutTask{first},
                  PutTask{second},
                  PutActualLrp{FullActualLrp("pg", 0, ActualLRP::ORDINARY, 1)},
                  DeleteActualLrp{"pg", 0, ActualLRP::ORDINARY},
                  PutDesiredLrp{FullDesiredLrp("pg", 1)},
                  DeleteDesiredLrp{"pg"},
                  PutDomain{"d", 1},
                  DeleteDomain{"d"},
              }),
              IsOk());
  Snapshot snapshot = Load();
  EXPECT_THAT(FindTask(snapshot, "put-then-deleted"), IsNull());
  EXPECT_THAT(FindTask(snapshot, "deleted-then-put"), NotNull());
  ASSERT_THAT(FindTask(snapshot, "overwritten"), NotNull());
  EXPECT_THAT(*FindTask(snapshot, "overwritten"), EqualsProto(second));
  EXPECT_THAT(snapshot.tasks, SizeIs(2));
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(0));
  EXPECT_THAT(snapshot.desired_lrps, SizeIs(0));
  EXPECT_THAT(snapshot.domains, SizeIs(0));
}

TEST_P(StoreConformanceTest, AnEmptyCommitSucceedsAndChangesNothing) {
  ASSERT_THAT(Commit({PutDomain{"d", 0}}), IsOk());
  EXPECT_THAT(store_->Commit({}), IsOk());
  EXPECT_THAT(Load().domains, SizeIs(1));
}

TEST_P(StoreConformanceTest, CommitsTenThousandMutationsAtOnce) {
  std::vector<Mutation> mutations;
  mutations.reserve(10000);
  for (int i = 0; i < 4000; ++i) {
    mutations.push_back(
        PutActualLrp{testing::SmallActualLrp(fmt::format("pg-{}", i / 10), i % 10)});
  }
  for (int i = 0; i < 4000; ++i) {
    mutations.push_back(PutTask{testing::SmallTask(fmt::format("tg-{}", i))});
  }
  for (int i = 0; i < 2000; ++i) {
    mutations.push_back(DeleteTask{fmt::format("tg-{}", i * 2)});
  }
  ASSERT_THAT(store_->Commit(mutations), IsOk());
  Snapshot snapshot = Load();
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(4000));
  EXPECT_THAT(snapshot.tasks, SizeIs(2000));
  EXPECT_THAT(FindTask(snapshot, "tg-0"), IsNull());
  ASSERT_THAT(FindTask(snapshot, "tg-3999"), NotNull());
  EXPECT_THAT(*FindTask(snapshot, "tg-3999"), EqualsProto(testing::SmallTask("tg-3999")));
  ASSERT_THAT(FindActualLrp(snapshot, "pg-399", 9, ActualLRP::ORDINARY), NotNull());
  EXPECT_THAT(*FindActualLrp(snapshot, "pg-399", 9, ActualLRP::ORDINARY),
              EqualsProto(testing::SmallActualLrp("pg-399", 9)));
}

TEST_P(StoreConformanceTest, LoadReplacesWhatTheSnapshotHeld) {
  Snapshot snapshot;
  snapshot.domains.push_back(PutDomain{"stale", 0});
  snapshot.tasks.push_back(FullTask("stale", 1));
  ASSERT_THAT(store_->Load(&snapshot), IsOk());
  EXPECT_THAT(snapshot.domains, SizeIs(0));
  EXPECT_THAT(snapshot.tasks, SizeIs(0));
}

TEST_P(StoreConformanceTest, AReopenedStoreShowsEverythingCommitted) {
  if (!GetParam().persistent) {
    GTEST_SKIP() << "backend keeps nothing across reopen";
  }
  records::DesiredLRPRecord desired = FullDesiredLrp("pg", 1);
  ActualLRP actual = FullActualLrp("pg", 0, ActualLRP::ORDINARY, 1);
  models::Task task = FullTask("tg", 1);
  ASSERT_THAT(Commit({PutDomain{"d", INT64_MAX}, PutDesiredLrp{desired}, PutActualLrp{actual},
                      PutTask{task}, PutTask{FullTask("gone", 2)}}),
              IsOk());
  ASSERT_THAT(Commit({DeleteTask{"gone"}}), IsOk());
  Reopen();
  Snapshot snapshot = Load();
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].domain, "d");
  EXPECT_EQ(snapshot.domains[0].expire_time, INT64_MAX);
  EXPECT_THAT(snapshot.desired_lrps, ::testing::ElementsAre(EqualsProto(Loaded(desired))));
  const std::string guids[] = {"pg"};
  EXPECT_THAT(Sorted(store_->ReadRunInfos(guids)),
              ::testing::ElementsAre(::testing::Pair("pg", desired.run_info())));
  EXPECT_THAT(snapshot.actual_lrps, ::testing::ElementsAre(EqualsProto(actual)));
  EXPECT_THAT(snapshot.tasks, ::testing::ElementsAre(EqualsProto(task)));
}

TEST_P(StoreConformanceTest, ACommitThatFailsHalfWayAppliesNothing) {
  if (!GetParam().poison_task_writes) {
    GTEST_SKIP() << "backend cannot fail half-way";
  }
  ASSERT_THAT(Commit({PutTask{FullTask("kept", 1)}}), IsOk());
  GetParam().poison_task_writes(dir_.path().string());

  Status status =
      Commit({PutDomain{"d", 0}, PutActualLrp{FullActualLrp("pg", 0, ActualLRP::ORDINARY, 1)},
              DeleteTask{"kept"}, PutTask{FullTask("poison", 1)}, PutTask{FullTask("after", 1)}});
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(status.code() == ErrorCode::kUnknownError ||
              status.code() == ErrorCode::kUnrecoverable)
      << status.ToString();
  Snapshot snapshot = Load();
  EXPECT_THAT(snapshot.domains, SizeIs(0));
  EXPECT_THAT(snapshot.actual_lrps, SizeIs(0));
  EXPECT_THAT(snapshot.tasks, ::testing::ElementsAre(EqualsProto(FullTask("kept", 1))));

  // The store stays usable after a failed commit, and so does the data after a reopen.
  ASSERT_THAT(Commit({PutDomain{"later", 0}}), IsOk());
  if (GetParam().persistent) {
    Reopen();
  }
  snapshot = Load();
  EXPECT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_THAT(snapshot.tasks, SizeIs(1));
}

// --- The run-info reads ---

records::DesiredLRPRecord WithRunInfo(const std::string& process_guid, int version) {
  records::DesiredLRPRecord record = FullDesiredLrp(process_guid, version);
  record.set_run_info(RunInfoOf(process_guid, version));
  return record;
}

TEST_P(StoreConformanceTest, ReadsTheRunInfoOfEachNamedDesiredLrpThatExists) {
  ASSERT_THAT(Commit({PutDesiredLrp{WithRunInfo("pg-1", 1)}, PutDesiredLrp{WithRunInfo("pg-2", 2)},
                      PutDesiredLrp{WithRunInfo("pg-3", 3)}}),
              IsOk());
  const std::string guids[] = {"pg-3", "missing", "pg-1"};
  EXPECT_THAT(Sorted(store_->ReadRunInfos(guids)),
              ::testing::ElementsAre(::testing::Pair("pg-1", RunInfoOf("pg-1", 1)),
                                     ::testing::Pair("pg-3", RunInfoOf("pg-3", 3))));
  EXPECT_THAT(Sorted(store_->ReadRunInfos({})), ::testing::IsEmpty());
  EXPECT_THAT(Sorted(store_->ReadAllRunInfos()),
              ::testing::ElementsAre(::testing::Pair("pg-1", RunInfoOf("pg-1", 1)),
                                     ::testing::Pair("pg-2", RunInfoOf("pg-2", 2)),
                                     ::testing::Pair("pg-3", RunInfoOf("pg-3", 3))));
}

TEST_P(StoreConformanceTest, ReadsTheLatestRunInfoAndNoneOfADeletedDesiredLrp) {
  ASSERT_THAT(
      Commit({PutDesiredLrp{WithRunInfo("pg-1", 1)}, PutDesiredLrp{WithRunInfo("pg-2", 1)}}),
      IsOk());
  ASSERT_THAT(Commit({PutDesiredLrp{WithRunInfo("pg-1", 2)}, DeleteDesiredLrp{"pg-2"}}), IsOk());
  const std::string guids[] = {"pg-1", "pg-2"};
  EXPECT_THAT(Sorted(store_->ReadRunInfos(guids)),
              ::testing::ElementsAre(::testing::Pair("pg-1", RunInfoOf("pg-1", 2))));
  EXPECT_THAT(Sorted(store_->ReadAllRunInfos()),
              ::testing::ElementsAre(::testing::Pair("pg-1", RunInfoOf("pg-1", 2))));
  ASSERT_THAT(Commit({DeleteDesiredLrp{"pg-1"}}), IsOk());
  EXPECT_THAT(Sorted(store_->ReadRunInfos(guids)), ::testing::IsEmpty());
  EXPECT_THAT(Sorted(store_->ReadAllRunInfos()), ::testing::IsEmpty());
}

TEST_P(StoreConformanceTest, ReadsTheRunInfosOfThousandsOfDesiredLrpsAtOnce) {
  constexpr int kCount = 2500;  // more than one statement's or transaction's worth
  std::vector<Mutation> mutations;
  std::vector<std::string> guids;
  std::vector<std::pair<std::string, std::string>> want;
  for (int i = 0; i < kCount; ++i) {
    std::string guid = fmt::format("pg-{:05}", i);
    records::DesiredLRPRecord record;
    record.mutable_scheduling_info()->mutable_desired_lrp_key()->set_process_guid(guid);
    record.set_run_info(RunInfoOf(guid, i));
    mutations.push_back(PutDesiredLrp{std::move(record)});
    guids.push_back(guid);
    guids.push_back(guid + "-missing");
    want.emplace_back(guid, RunInfoOf(guid, i));
  }
  ASSERT_THAT(store_->Commit(mutations), IsOk());
  EXPECT_EQ(Sorted(store_->ReadRunInfos(guids)), want);
  EXPECT_EQ(Sorted(store_->ReadAllRunInfos()), want);
}

// A read sees every commit that returned before it began, and reads run while commits do.
TEST_P(StoreConformanceTest, ReadsRunInfosWhileCommitsRun) {
  constexpr int kVersions = 60;
  const std::string guids[] = {"pg-a", "pg-b"};
  ASSERT_THAT(
      Commit({PutDesiredLrp{WithRunInfo("pg-a", 0)}, PutDesiredLrp{WithRunInfo("pg-b", 0)}}),
      IsOk());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::string> problems;
  std::thread reader([&] {
    int last = 0;
    do {
      auto read = store_->ReadRunInfos(guids);
      if (!read.ok() || read->size() != 2) {
        problems.push_back(read.ok() ? "a desired LRP went missing" : read.status().ToString());
        return;
      }
      // Both are written by each commit: a read sees both at one version, never older ones.
      std::vector<int> versions;
      for (const StoredRunInfo& r : *read) {
        int v = -1;
        for (int i = last; i <= kVersions; ++i) {
          if (r.run_info == RunInfoOf(r.process_guid, i)) v = i;
        }
        versions.push_back(v);
      }
      if (versions[0] < 0 || versions[0] != versions[1]) {
        problems.push_back("a read saw two versions or an older one");
        return;
      }
      last = versions[0];
      reads.fetch_add(1);
    } while (!done.load());
  });
  for (int v = 1; v <= kVersions; ++v) {
    ASSERT_THAT(
        Commit({PutDesiredLrp{WithRunInfo("pg-a", v)}, PutDesiredLrp{WithRunInfo("pg-b", v)}}),
        IsOk());
    EXPECT_THAT(Sorted(store_->ReadRunInfos(guids)),
                ::testing::ElementsAre(::testing::Pair("pg-a", RunInfoOf("pg-a", v)),
                                       ::testing::Pair("pg-b", RunInfoOf("pg-b", v))));
  }
  done.store(true);
  reader.join();
  EXPECT_THAT(problems, ::testing::IsEmpty());
  EXPECT_GT(reads.load(), 0);
}

// Guards the helper the round-trip tests rely on: "every field set" must stay true as the
// .proto files grow.
void CollectUnsetFields(const google::protobuf::Message& message, const std::string& path,
                        int depth, std::vector<std::string>* unset) {
  const auto* descriptor = message.GetDescriptor();
  const auto* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* field = descriptor->field(i);
    const auto* oneof = field->real_containing_oneof();
    if (oneof != nullptr && oneof->field(0) != field) {
      continue;
    }
    std::string name = path + "." + field->name();
    bool set = field->is_repeated() ? reflection->FieldSize(message, field) > 0
                                    : reflection->HasField(message, field);
    if (!set) {
      unset->push_back(name);
      continue;
    }
    if (depth < 2 && !field->is_repeated() &&
        field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      CollectUnsetFields(reflection->GetMessage(message, field), name, depth + 1, unset);
    }
  }
}

TEST(StoreTestUtilTest, FullRecordsHaveEveryFieldSet) {
  std::vector<std::string> unset;
  CollectUnsetFields(FullDesiredLrp("pg", 1), "desired", 0, &unset);
  CollectUnsetFields(FullActualLrp("pg", 1, ActualLRP::SUSPECT, 1), "actual", 0, &unset);
  CollectUnsetFields(FullTask("tg", 1), "task", 0, &unset);
  EXPECT_THAT(unset, ::testing::IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace bbs::storage
