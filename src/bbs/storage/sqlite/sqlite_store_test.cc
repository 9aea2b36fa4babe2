#include "bbs/storage/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bbs/storage/sql/sql_store_test_util.h"
#include "bbs/storage/store_test_util.h"

namespace bbs::storage {
namespace {

using models::ActualLRP;
using testing::EqualsProto;
using testing::IsOk;
using ::testing::SizeIs;
using testing::StatusIs;

// A second, raw connection to the same file, to look at and tamper with what the store wrote.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
  }

  // The rows of `sql`, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db_);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string>& row = rows.emplace_back();
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (sqlite3_column_type(stmt, i) == SQLITE_NULL) {
          row.push_back("NULL");
        } else {
          const void* data = sqlite3_column_blob(stmt, i);
          int size = sqlite3_column_bytes(stmt, i);
          row.emplace_back(data != nullptr ? static_cast<const char*>(data) : "",
                           static_cast<size_t>(size));
        }
      }
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Appends `count` processes pg-<i> (a desired LRP with `instances` actual rows 0..) and as many
// tasks task-<i> to *put.
void AddProcessesAndTasks(int count, int instances, std::vector<Mutation>* put) {
  for (int i = 0; i < count; ++i) {
    std::string guid = "pg-" + std::to_string(i);
    put->push_back(PutDesiredLrp{testing::FullDesiredLrp(guid, i)});
    for (int index = 0; index < instances; ++index) {
      put->push_back(PutActualLrp{testing::SmallActualLrp(guid, index)});
    }
    put->push_back(PutTask{testing::SmallTask("task-" + std::to_string(i))});
  }
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open(Logger logger = testing::NullLogger()) {
    return OpenWith(testing::TestEncoder(), std::move(logger));
  }
  std::unique_ptr<SqliteStore> OpenWith(std::shared_ptr<const encryption::Encoder> encoder,
                                        Logger logger = testing::NullLogger()) {
    auto store = SqliteStore::Open(path_, std::move(logger), std::move(encoder));
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  // Opens the file with `encoder` and loads it (an empty snapshot after a failure).
  Snapshot OpenAndLoad(
      std::shared_ptr<const encryption::Encoder> encoder = testing::TestEncoder()) {
    Snapshot snapshot;
    auto store = OpenWith(std::move(encoder));
    EXPECT_NE(store, nullptr);
    if (store != nullptr) {
      EXPECT_THAT(store->Load(&snapshot), IsOk());
    }
    return snapshot;
  }

  testing::TempDir dir_;
  std::string path_ = (dir_.path() / "bbs.db").string();
};

TEST_F(SqliteStoreTest, CreatesUpstreamsTablesAndIndexes) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  RawDb raw(path_);
  std::vector<std::string> names;
  for (const auto& row :
       raw.Query("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")) {
    names.push_back(row[0]);
  }
  EXPECT_THAT(names,
              ::testing::IsSupersetOf(
                  {"configurations", "domains", "desired_lrps", "actual_lrps", "tasks",
                   "domains_expire_time_idx", "desired_lrps_domain_idx", "actual_lrps_domain_idx",
                   "actual_lrps_cell_id_idx", "actual_lrps_since_idx", "actual_lrps_state_idx",
                   "actual_lrps_expire_time_idx", "tasks_domain_idx", "tasks_state_idx",
                   "tasks_cell_id_idx", "tasks_updated_at_idx", "tasks_created_at_idx",
                   "tasks_first_completed_at_idx"}));
}

TEST_F(SqliteStoreTest, KeepsEveryIndexEmptySoWritesNeverUpdateOne) {
  ASSERT_NE(Open(), nullptr);
  // A database written by an earlier bbs: one full index.
  RawDb(path_).Exec(
      "DROP INDEX actual_lrps_cell_id_idx; "
      "CREATE INDEX actual_lrps_cell_id_idx ON actual_lrps (cell_id)");
  ASSERT_NE(Open(), nullptr);
  auto indexes = RawDb(path_).Query(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL");
  EXPECT_THAT(indexes, SizeIs(13));
  for (const auto& index : indexes) {
    EXPECT_THAT(index[1], ::testing::EndsWith(" WHERE 0")) << index[0];
  }
}

TEST_F(SqliteStoreTest, RecordsItsSchemaVersionAndUsesWal) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  RawDb raw(path_);
  auto rows = raw.Query("SELECT value FROM configurations WHERE id = 'version'");
  ASSERT_THAT(rows, SizeIs(1));
  EXPECT_EQ(rows[0][0], "{\"CurrentVersion\":1772581987}");
  EXPECT_THAT(raw.Query("SELECT value FROM configurations WHERE id = 'encryption_key_label'"),
              ::testing::ElementsAre(::testing::ElementsAre("test-key")));
  EXPECT_EQ(raw.Query("PRAGMA journal_mode")[0][0], "wal");
}

TEST_F(SqliteStoreTest, OpensItsOwnDatabaseAgain) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_NE(Open(), nullptr);
  RawDb raw(path_);
  EXPECT_THAT(raw.Query("SELECT * FROM configurations WHERE id = 'version'"), SizeIs(1));
}

TEST_F(SqliteStoreTest, RefusesADatabaseWithANewerSchemaVersion) {
  ASSERT_NE(Open(), nullptr);
  {
    RawDb raw(path_);
    raw.Exec(
        "UPDATE configurations SET value = '{\"CurrentVersion\":1772581988}' WHERE id = 'version'");
  }
  auto store = SqliteStore::Open(path_, testing::NullLogger(), testing::TestEncoder());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_EQ(store.status().message(),
            "Existing DB version (1772581988) exceeds bbs version (1772581987)");
}

TEST_F(SqliteStoreTest, RefusesAFileThatIsNotADatabase) {
  { std::ofstream(path_) << std::string(4096, 'x'); }
  auto store = SqliteStore::Open(path_, testing::NullLogger(), testing::TestEncoder());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnrecoverable));
}

TEST_F(SqliteStoreTest, FailsToOpenInAMissingDirectory) {
  auto store = SqliteStore::Open((dir_.path() / "missing" / "bbs.db").string(),
                                 testing::NullLogger(), testing::TestEncoder());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnknownError));
}

TEST_F(SqliteStoreTest, KeepsScalarsInColumnsAndNestedDataAsEncryptedEncodedValues) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto encoder = testing::TestEncoder();
  ActualLRP lrp = testing::SmallActualLrp("pg", 2);
  lrp.set_presence(ActualLRP::EVACUATING);
  ActualLRP unroutable = testing::SmallActualLrp("pg", 3);
  unroutable.clear_optional_routable();
  records::DesiredLRPRecord desired = testing::FullDesiredLrp("pg", 1);
  desired.mutable_scheduling_info()->clear_placementtags();
  desired.mutable_scheduling_info()->add_placementtags("tag-a");
  desired.mutable_scheduling_info()->add_placementtags("tag-b");
  models::Task task = testing::SmallTask("tg");
  std::vector<Mutation> put = {PutActualLrp{lrp}, PutActualLrp{unroutable}, PutDesiredLrp{desired},
                               PutTask{task}};
  ASSERT_THAT(store->Commit(put), IsOk());

  RawDb raw(path_);
  auto rows = raw.Query(
      "SELECT process_guid, instance_index, presence, evacuating, domain, state, instance_guid, "
      "cell_id, since, modification_tag_epoch, modification_tag_index, routable, net_info, "
      "internal_routes, metric_tags FROM actual_lrps ORDER BY instance_index");
  ASSERT_THAT(rows, SizeIs(2));
  EXPECT_THAT(rows[0], ::testing::ElementsAre("pg", "2", "1", "1", "cf-apps", "RUNNING", "ig-pg-2",
                                              "cell-1", "1700000000000000000", "epoch-1", "2", "1",
                                              ::testing::_, ::testing::_, ::testing::_));
  EXPECT_EQ(encryption::Encoder::LabelOf(rows[0][12]).value(), "test-key");
  models::ActualLRPNetInfo net_info;
  ASSERT_TRUE(encoder->DecodeModel(rows[0][12], &net_info).ok());
  EXPECT_THAT(net_info, EqualsProto(lrp.actual_lrp_net_info()));
  EXPECT_EQ(encoder->DecodeValue(rows[0][13]).value(), R"([{"hostname":"app.apps.internal"}])");
  EXPECT_EQ(encoder->DecodeValue(rows[0][14]).value(), R"({"source_id":"app-guid"})");
  EXPECT_EQ(rows[1][11], "0");  // upstream's column is a plain BOOL

  rows = raw.Query("SELECT placement_tags, run_info, routes FROM desired_lrps");
  ASSERT_THAT(rows, SizeIs(1));
  EXPECT_EQ(rows[0][0], R"(["tag-a","tag-b"])");
  EXPECT_EQ(encoder->DecodeModelBytes(rows[0][1]).value(), desired.run_info());
  EXPECT_EQ(encoder->DecodeValue(rows[0][2]).value(),
            R"({"cf-router":[{"hostnames":["app-1.example.com"],"port":8080,"weight":1.50}],)"
            R"("tcp-router":[{"external_port":61000,"container_port":5222}]})");

  rows = raw.Query("SELECT guid, domain, state, created_at, task_definition FROM tasks");
  ASSERT_THAT(rows, SizeIs(1));
  EXPECT_EQ(rows[0][0], "tg");
  EXPECT_EQ(rows[0][2], "1");
  EXPECT_EQ(rows[0][3], "1700000000000000000");
  models::TaskDefinition definition;
  ASSERT_TRUE(encoder->DecodeModel(rows[0][4], &definition).ok());
  EXPECT_THAT(definition, EqualsProto(task.task_definition()));
}

TEST_F(SqliteStoreTest, DeletesAndLogsRowsThatDoNotDecode) {
  auto sink = std::make_shared<testing::CapturingSink>();
  auto store = Open(Logger(sink, "bbs"));
  ASSERT_NE(store, nullptr);
  std::vector<Mutation> put = {
      PutActualLrp{testing::SmallActualLrp("good", 0)},
      PutActualLrp{testing::SmallActualLrp("bad", 0)},
      PutDesiredLrp{testing::FullDesiredLrp("good", 1)},
      PutDesiredLrp{testing::FullDesiredLrp("bad", 2)},
      PutTask{testing::SmallTask("good")},
      PutTask{testing::SmallTask("bad")},
  };
  ASSERT_THAT(store->Commit(put), IsOk());
  {
    RawDb raw(path_);
    raw.Exec("UPDATE actual_lrps SET net_info = '02notbase64!' WHERE process_guid = 'bad'");
    raw.Exec("UPDATE desired_lrps SET placement_tags = '[1' WHERE process_guid = 'bad'");
    // A blob written with a key this process does not have.
    raw.Exec(fmt::format("UPDATE tasks SET task_definition = '{}' WHERE guid = 'bad'",
                         testing::TestEncoder("other-key")->EncodeModelBytes("")));
  }
  Snapshot snapshot;
  ASSERT_THAT(store->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(1));
  EXPECT_EQ(snapshot.actual_lrps[0].actual_lrp_key().process_guid(), "good");
  ASSERT_THAT(snapshot.desired_lrps, SizeIs(1));
  EXPECT_EQ(snapshot.desired_lrps[0].scheduling_info().desired_lrp_key().process_guid(), "good");
  ASSERT_THAT(snapshot.tasks, SizeIs(1));
  EXPECT_EQ(snapshot.tasks[0].task_guid(), "good");

  int errors = 0;
  for (const std::string& line : sink->lines()) {
    auto json = nlohmann::json::parse(line);
    if (json["log_level"] != 2) {
      continue;
    }
    ++errors;
    EXPECT_THAT(json["message"].get<std::string>(), ::testing::HasSubstr("failed-to-decode"));
    EXPECT_THAT(line, ::testing::HasSubstr("bad"));
  }
  EXPECT_EQ(errors, 3);

  // Upstream deletes such rows when it reads them.
  RawDb raw(path_);
  EXPECT_THAT(raw.Query("SELECT 1 FROM actual_lrps WHERE process_guid = 'bad'"), SizeIs(0));
  EXPECT_THAT(raw.Query("SELECT 1 FROM desired_lrps WHERE process_guid = 'bad'"), SizeIs(0));
  EXPECT_THAT(raw.Query("SELECT 1 FROM tasks WHERE guid = 'bad'"), SizeIs(0));
}

TEST_F(SqliteStoreTest, LoadsInSmallBatchesEveryRowAndDropsOnlyTheUndecodableOnes) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<Mutation> put;
  AddProcessesAndTasks(11, 2, &put);
  ASSERT_THAT(store->Commit(put), IsOk());
  Snapshot whole;
  ASSERT_THAT(store->Load(&whole), IsOk());
  ASSERT_THAT(whole.desired_lrps, SizeIs(11));
  ASSERT_THAT(whole.actual_lrps, SizeIs(22));
  ASSERT_THAT(whole.tasks, SizeIs(11));
  {
    RawDb raw(path_);
    raw.Exec("UPDATE actual_lrps SET net_info = '02notbase64!' WHERE process_guid = 'pg-5'");
    raw.Exec("UPDATE desired_lrps SET placement_tags = '[1' WHERE process_guid = 'pg-7'");
  }

  store->set_load_batch_rows(3);  // several batches per table, the last one partial
  Snapshot batched;
  ASSERT_THAT(store->Load(&batched), IsOk());
  // Every other row, in the order of the single-batch load.
  auto without = [](auto rows, auto drop) {
    rows.erase(std::remove_if(rows.begin(), rows.end(), drop), rows.end());
    return rows;
  };
  auto desired = without(whole.desired_lrps, [](const records::DesiredLRPRecord& r) {
    return r.scheduling_info().desired_lrp_key().process_guid() == "pg-7";
  });
  auto actual = without(whole.actual_lrps, [](const models::ActualLRP& lrp) {
    return lrp.actual_lrp_key().process_guid() == "pg-5";
  });
  ASSERT_THAT(batched.desired_lrps, SizeIs(10));
  ASSERT_THAT(batched.actual_lrps, SizeIs(20));
  ASSERT_THAT(batched.tasks, SizeIs(11));
  for (size_t i = 0; i < desired.size(); ++i) {
    EXPECT_THAT(batched.desired_lrps[i], EqualsProto(desired[i])) << i;
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_THAT(batched.actual_lrps[i], EqualsProto(actual[i])) << i;
  }
  for (size_t i = 0; i < whole.tasks.size(); ++i) {
    EXPECT_THAT(batched.tasks[i], EqualsProto(whole.tasks[i])) << i;
  }
  RawDb raw(path_);
  EXPECT_THAT(raw.Query("SELECT 1 FROM actual_lrps WHERE process_guid = 'pg-5'"), SizeIs(0));
  EXPECT_THAT(raw.Query("SELECT 1 FROM desired_lrps WHERE process_guid = 'pg-7'"), SizeIs(0));
  EXPECT_THAT(raw.Query("SELECT 1 FROM actual_lrps"), SizeIs(20));
}

TEST_F(SqliteStoreTest, HandsEachDecodedBatchToOnBatchAndKeepsOnlyTheRest) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::vector<Mutation> put = {PutDomain{"cf-apps", 5}};
  AddProcessesAndTasks(7, 1, &put);
  ASSERT_THAT(store->Commit(put), IsOk());
  Snapshot whole;
  ASSERT_THAT(store->Load(&whole), IsOk());

  store->set_load_batch_rows(3);
  Snapshot handed;
  int calls = 0;
  std::mutex handed_mu;  // on_batch is called from the loader's worker threads at once
  Snapshot streamed;
  streamed.on_batch = [&](Snapshot* part) {
    std::lock_guard<std::mutex> lock(handed_mu);
    ++calls;
    for (auto& d : part->domains) handed.domains.push_back(d);
    for (auto& r : part->desired_lrps) handed.desired_lrps.push_back(std::move(r));
    for (auto& a : part->actual_lrps) handed.actual_lrps.push_back(std::move(a));
    for (auto& t : part->tasks) handed.tasks.push_back(std::move(t));
    *part = Snapshot{};
  };
  ASSERT_THAT(store->Load(&streamed), IsOk());
  EXPECT_GE(calls, 7);  // 21 rows in batches of 3 (a batch may span two tables)
  EXPECT_THAT(streamed.desired_lrps, SizeIs(0));
  EXPECT_THAT(streamed.actual_lrps, SizeIs(0));
  EXPECT_THAT(streamed.tasks, SizeIs(0));
  // The few domains are not worth a batch: they stay in the snapshot.
  EXPECT_THAT(handed.domains, SizeIs(0));
  ASSERT_THAT(streamed.domains, SizeIs(1));
  EXPECT_EQ(streamed.domains[0].domain, "cf-apps");
  ASSERT_THAT(handed.desired_lrps, SizeIs(7));
  ASSERT_THAT(handed.actual_lrps, SizeIs(7));
  ASSERT_THAT(handed.tasks, SizeIs(7));
  // Batches are decoded on several threads and handed over in no particular order.
  auto sort = [](auto& records, auto key) {
    std::sort(records.begin(), records.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
  };
  auto desired_key = [](const records::DesiredLRPRecord& r) {
    return r.scheduling_info().desired_lrp_key().process_guid();
  };
  auto actual_key = [](const ActualLRP& lrp) {
    return std::make_tuple(lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(),
                           lrp.presence());
  };
  auto task_key = [](const models::Task& task) { return task.task_guid(); };
  sort(whole.desired_lrps, desired_key);
  sort(handed.desired_lrps, desired_key);
  sort(whole.actual_lrps, actual_key);
  sort(handed.actual_lrps, actual_key);
  sort(whole.tasks, task_key);
  sort(handed.tasks, task_key);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_THAT(handed.desired_lrps[i], EqualsProto(whole.desired_lrps[i])) << i;
    EXPECT_THAT(handed.actual_lrps[i], EqualsProto(whole.actual_lrps[i])) << i;
    EXPECT_THAT(handed.tasks[i], EqualsProto(whole.tasks[i])) << i;
  }
}

TEST_F(SqliteStoreTest, ReencryptsEveryRowWhenTheActiveKeyChanges) {
  auto old_key = encryption::Encoder::Create({{"old", "one"}}, "old").value();
  auto both = encryption::Encoder::Create({{"old", "one"}, {"new", "two"}}, "new").value();
  auto only_new = encryption::Encoder::Create({{"new", "two"}}, "new").value();
  records::DesiredLRPRecord desired = testing::FullDesiredLrp("pg", 1);
  ActualLRP actual = testing::FullActualLrp("pg", 0, ActualLRP::ORDINARY, 1);
  models::Task task = testing::FullTask("tg", 1);
  {
    auto store = OpenWith(old_key);
    ASSERT_NE(store, nullptr);
    std::vector<Mutation> put = {PutDesiredLrp{desired}, PutActualLrp{actual}, PutTask{task}};
    ASSERT_THAT(store->Commit(put), IsOk());
  }
  ASSERT_NE(OpenWith(both), nullptr);
  RawDb raw(path_);
  EXPECT_THAT(raw.Query("SELECT value FROM configurations WHERE id = 'encryption_key_label'"),
              ::testing::ElementsAre(::testing::ElementsAre("new")));
  for (const auto& row : raw.Query("SELECT run_info, volume_placement, routes, metric_tags "
                                   "FROM desired_lrps UNION ALL SELECT net_info, internal_routes, "
                                   "metric_tags, net_info FROM actual_lrps UNION ALL SELECT "
                                   "task_definition, task_definition, task_definition, "
                                   "task_definition FROM tasks")) {
    for (const std::string& column : row) {
      EXPECT_EQ(encryption::Encoder::LabelOf(column).value(), "new");
    }
  }
  // The old key can now be dropped; the run info (read on demand) is readable with the new one.
  auto store = OpenWith(only_new);
  ASSERT_NE(store, nullptr);
  Snapshot snapshot;
  ASSERT_THAT(store->Load(&snapshot), IsOk());
  const std::string guids[] = {"pg"};
  auto run_infos = store->ReadRunInfos(guids);
  ASSERT_TRUE(run_infos.ok());
  ASSERT_THAT(*run_infos, SizeIs(1));
  EXPECT_EQ((*run_infos)[0].run_info, desired.run_info());
  desired.clear_run_info();
  EXPECT_THAT(snapshot.desired_lrps, ::testing::ElementsAre(EqualsProto(desired)));
  EXPECT_THAT(snapshot.actual_lrps, ::testing::ElementsAre(EqualsProto(actual)));
  EXPECT_THAT(snapshot.tasks, ::testing::ElementsAre(EqualsProto(task)));
}

TEST_F(SqliteStoreTest, RefusesToStartWhenTheStoredKeyLabelIsUnknown) {
  ASSERT_NE(OpenWith(testing::TestEncoder("old")), nullptr);
  auto store = SqliteStore::Open(path_, testing::NullLogger(), testing::TestEncoder("new"));
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status(), StatusIs(ErrorCode::kUnrecoverable));
  EXPECT_EQ(store.status().message(),
            "Existing encryption key version (old) is not among the known keys");
}

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c == '\'' ? std::string("''") : std::string(1, c);
  }
  return out + "'";
}

std::string Hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    out += fmt::format("{:02X}", c);
  }
  return out;
}

// A file as bbs wrote it before the upstream row format: unencrypted protobuf blobs, version 1.
TEST_F(SqliteStoreTest, MigratesAFileWrittenBeforeTheUpstreamRowFormatWithoutLosingARecord) {
  records::DesiredLRPRecord desired = testing::FullDesiredLrp("pg", 1);
  ActualLRP actual = testing::FullActualLrp("pg", 0, ActualLRP::EVACUATING, 1);
  ActualLRP unroutable = testing::SmallActualLrp("pg", 1);
  unroutable.clear_optional_routable();
  models::Task task = testing::FullTask("tg", 1);
  {
    // Create the tables, then rewrite them as the old code did.
    ASSERT_NE(Open(), nullptr);
    RawDb raw(path_);
    raw.Exec("DELETE FROM configurations");
    raw.Exec(R"(INSERT INTO configurations VALUES ('version', '{"CurrentVersion":1}'))");
    const auto& info = desired.scheduling_info();
    records::MetricTags desired_tags;
    *desired_tags.mutable_tags() = desired.metric_tags();
    std::string tags_json = "[";
    for (int i = 0; i < info.placementtags_size(); ++i) {
      tags_json += (i > 0 ? "," : "") + nlohmann::json(info.placementtags(i)).dump();
    }
    tags_json += "]";
    raw.Exec(fmt::format(
        "INSERT INTO desired_lrps VALUES ('pg', {}, {}, {}, {}, {}, {}, {}, {}, X'{}', X'{}', {}, "
        "{}, X'{}', {}, X'{}', {})",
        Quote(info.desired_lrp_key().domain()), Quote(info.desired_lrp_key().log_guid()),
        Quote(info.annotation()), info.instances(), info.desired_lrp_resource().memory_mb(),
        info.desired_lrp_resource().disk_mb(), info.desired_lrp_resource().max_pids(),
        Quote(info.desired_lrp_resource().root_fs()), Hex(info.routes().SerializeAsString()),
        Hex(info.volume_placement().SerializeAsString()), Quote(info.modification_tag().epoch()),
        info.modification_tag().index(), Hex(desired.run_info()), Quote(tags_json),
        Hex(desired_tags.SerializeAsString()), static_cast<int>(desired.update_strategy())));
    for (const ActualLRP* lrp : {&actual, &unroutable}) {
      records::InternalRoutes routes;
      *routes.mutable_routes() = lrp->actual_lrp_internal_routes();
      records::StringMap tags;
      *tags.mutable_entries() = lrp->metric_tags();
      raw.Exec(fmt::format(
          "INSERT INTO actual_lrps VALUES ('pg', {}, {}, {}, {}, {}, {}, {}, {}, {}, X'{}', {}, "
          "{}, "
          "{}, {}, 0, X'{}', X'{}', {}, {})",
          lrp->actual_lrp_key().index(), static_cast<int>(lrp->presence()),
          lrp->presence() == ActualLRP::EVACUATING ? 1 : 0, Quote(lrp->actual_lrp_key().domain()),
          Quote(lrp->state()), Quote(lrp->actual_lrp_instance_key().instance_guid()),
          Quote(lrp->actual_lrp_instance_key().cell_id()), Quote(lrp->placement_error()),
          lrp->since(), Hex(lrp->actual_lrp_net_info().SerializeAsString()),
          Quote(lrp->modification_tag().epoch()), lrp->modification_tag().index(),
          lrp->crash_count(), Quote(lrp->crash_reason()), Hex(routes.SerializeAsString()),
          Hex(tags.SerializeAsString()),
          lrp->has_routable() ? (lrp->routable() ? "1" : "0") : "NULL",
          Quote(lrp->availability_zone())));
    }
    raw.Exec(fmt::format(
        "INSERT INTO tasks VALUES ('tg', {}, {}, {}, {}, {}, {}, {}, {}, {}, X'{}', {}, {})",
        Quote(task.domain()), task.updated_at(), task.created_at(), task.first_completed_at(),
        static_cast<int>(task.state()), Quote(task.cell_id()), Quote(task.result()),
        task.failed() ? 1 : 0, Quote(task.failure_reason()),
        Hex(task.task_definition().SerializeAsString()), task.rejection_count(),
        Quote(task.rejection_reason())));
  }
  auto store = OpenWith(testing::TestEncoder());
  ASSERT_NE(store, nullptr);
  Snapshot snapshot;
  ASSERT_THAT(store->Load(&snapshot), IsOk());
  auto run_infos = store->ReadAllRunInfos();
  ASSERT_TRUE(run_infos.ok());
  ASSERT_THAT(*run_infos, SizeIs(1));
  EXPECT_EQ((*run_infos)[0].run_info, desired.run_info());
  desired.clear_run_info();  // read on demand, above
  EXPECT_THAT(snapshot.desired_lrps, ::testing::ElementsAre(EqualsProto(desired)));
  ASSERT_THAT(snapshot.actual_lrps, SizeIs(2));
  EXPECT_THAT(*testing::FindActualLrp(snapshot, "pg", 0, ActualLRP::EVACUATING),
              EqualsProto(actual));
  unroutable.set_routable(false);
  EXPECT_THAT(*testing::FindActualLrp(snapshot, "pg", 1, ActualLRP::ORDINARY),
              EqualsProto(unroutable));
  EXPECT_THAT(snapshot.tasks, ::testing::ElementsAre(EqualsProto(task)));

  RawDb raw(path_);
  EXPECT_EQ(raw.Query("SELECT value FROM configurations WHERE id = 'version'")[0][0],
            "{\"CurrentVersion\":1772581987}");
  EXPECT_EQ(
      encryption::Encoder::LabelOf(raw.Query("SELECT net_info FROM actual_lrps")[0][0]).value(),
      "test-key");
}

TEST_F(SqliteStoreTest, ARejectedCommitLeavesTheStoreUsable) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(path_);
    raw.Exec(
        "CREATE TRIGGER no_bad BEFORE INSERT ON domains WHEN NEW.domain = 'bad' "
        "BEGIN SELECT RAISE(ABORT, 'no bad domains'); END;");
  }
  std::vector<Mutation> bad = {PutDomain{"good", 0}, PutDomain{"bad", 0}};
  Status status = store->Commit(bad);
  EXPECT_THAT(status, StatusIs(ErrorCode::kUnknownError));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("no bad domains"));
  std::vector<Mutation> good = {PutDomain{"good", 0}};
  ASSERT_THAT(store->Commit(good), IsOk());
  Snapshot snapshot;
  ASSERT_THAT(store->Load(&snapshot), IsOk());
  ASSERT_THAT(snapshot.domains, SizeIs(1));
  EXPECT_EQ(snapshot.domains[0].domain, "good");
}

TEST_F(SqliteStoreTest, ABrokenSchemaIsUnrecoverable) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  {
    RawDb raw(path_);
    raw.Exec("DROP TABLE tasks");
  }
  std::vector<Mutation> put = {PutTask{testing::SmallTask("tg")}};
  EXPECT_THAT(store->Commit(put), StatusIs(ErrorCode::kUnrecoverable));
  Snapshot snapshot;
  EXPECT_THAT(store->Load(&snapshot), StatusIs(ErrorCode::kUnrecoverable));
}

// Timing check for release builds: --gtest_also_run_disabled_tests.
TEST_F(SqliteStoreTest, DISABLED_Loads250kEncryptedActualLrpsInUnderThreeSeconds) {
  double elapsed = testing::CommitAndTimeTheLoadOfActualLrps(
      [this]() -> std::unique_ptr<Store> { return Open(); }, 250000);
  EXPECT_LT(elapsed, 3.0);
}

}  // namespace
}  // namespace bbs::storage
