#include "bbs/state/model.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "models/desired_lrp.pb.h"

namespace bbs::state {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;
constexpr int kActualField = models::ActualLRPsResponse::kActualLrpsFieldNumber;
constexpr int kInfoField =
    models::DesiredLRPSchedulingInfosResponse::kDesiredLrpSchedulingInfosFieldNumber;

models::ActualLRP Running(const std::string& guid, int32_t index, const std::string& cell,
                          const std::string& domain = "cf-apps") {
  auto lrp = domain::NewUnclaimedActualLrp(guid, index, domain, kNow, "epoch-" + guid);
  lrp.set_state("RUNNING");
  lrp.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + guid);
  lrp.mutable_actual_lrp_instance_key()->set_cell_id(cell);
  auto* port = lrp.mutable_actual_lrp_net_info()->add_ports();
  port->set_container_port(8080);
  port->set_host_port(61000 + index);
  lrp.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  (*lrp.mutable_metric_tags())["source_id"] = "app-" + guid;
  return lrp;
}

records::DesiredLRPRecord Desired(const std::string& guid, int32_t instances,
                                  const std::string& domain = "cf-apps") {
  records::DesiredLRPRecord r;
  auto* info = r.mutable_scheduling_info();
  info->mutable_desired_lrp_key()->set_process_guid(guid);
  info->mutable_desired_lrp_key()->set_domain(domain);
  info->mutable_desired_lrp_key()->set_log_guid("log-" + guid);
  info->set_instances(instances);
  info->mutable_desired_lrp_resource()->set_memory_mb(1024);
  info->mutable_modification_tag()->set_epoch("e-" + guid);
  r.set_run_info("run-info-of-" + guid);
  return r;
}

// What the list routes sent before the model kept encodings: each record serialised on its own
// as one element of the response's repeated field.
std::string PerRecord(const std::vector<ActualLrpPtr>& lrps) {
  models::ActualLRPsResponse resp;
  for (const auto& p : lrps) *resp.add_actual_lrps() = *p;
  return resp.SerializeAsString();
}

std::string PerRecord(const std::vector<DesiredLrpPtr>& records) {
  models::DesiredLRPSchedulingInfosResponse resp;
  for (const auto& r : records) *resp.add_desired_lrp_scheduling_infos() = r->scheduling_info();
  return resp.SerializeAsString();
}

void Apply(Model* model, std::vector<storage::Mutation> batch) { model->Apply({&batch}); }

// Every filter shape of the list routes, checked against the per-record serialisation.
void ExpectListsMatchPerRecord(const Model& model) {
  std::vector<ActualLrpFilter> filters = {
      {},
      {"cf-apps", "", "", std::nullopt},
      {"other", "", "", std::nullopt},
      {"", "cell-1", "", std::nullopt},
      {"", "cell-2", "", std::nullopt},
      {"", "", "pg-1", std::nullopt},
      {"", "", "pg-1", 1},
      {"", "cell-1", "pg-2", std::nullopt},
  };
  for (const auto& f : filters) {
    SCOPED_TRACE("filter domain=" + f.domain + " cell=" + f.cell_id + " guid=" + f.process_guid);
    EXPECT_EQ(model.EncodedActualLrps(f, kActualField), PerRecord(model.ActualLrps(f)));
  }
  std::vector<std::string> guids = {"pg-2", "pg-1", "pg-2", "missing"};
  EXPECT_EQ(model.EncodedActualLrpsByProcessGuids(guids, kActualField),
            PerRecord(model.ActualLrpsByProcessGuids(guids)));
  std::vector<DesiredLrpFilter> dfilters = {
      {}, {"cf-apps", {}, {}}, {"", {"pg-1", "pg-3"}, {}}, {"", {}, {"pg-"}}};
  for (const auto& f : dfilters) {
    EXPECT_EQ(model.EncodedSchedulingInfos(f, kInfoField), PerRecord(model.DesiredLrps(f)));
  }
}

class ModelEncodedListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::Snapshot snap;
    snap.domains.push_back({"cf-apps", INT64_MAX});
    for (int i = 1; i <= 3; ++i) snap.desired_lrps.push_back(Desired("pg-" + std::to_string(i), 2));
    snap.actual_lrps.push_back(Running("pg-1", 0, "cell-1"));
    snap.actual_lrps.push_back(Running("pg-1", 1, "cell-2"));
    snap.actual_lrps.push_back(Running("pg-2", 0, "cell-1", "other"));
    model_.Load(std::move(snap));
  }
  Model model_;
};

TEST_F(ModelEncodedListTest, ListsOfALoadedModelAreByteIdenticalToPerRecordSerialisation) {
  ExpectListsMatchPerRecord(model_);
  models::ActualLRPsResponse all;
  ASSERT_TRUE(all.ParseFromString(model_.EncodedActualLrps({}, kActualField)));
  EXPECT_EQ(all.actual_lrps_size(), 3);
}

TEST_F(ModelEncodedListTest, AnUpdatedActualLrpIsListedWithItsNewEncoding) {
  auto moved = Running("pg-1", 0, "cell-3");
  moved.set_crash_count(4);
  Apply(&model_, {storage::PutActualLrp{moved}});
  ExpectListsMatchPerRecord(model_);
  models::ActualLRPsResponse on_cell3;
  ASSERT_TRUE(on_cell3.ParseFromString(
      model_.EncodedActualLrps({"", "cell-3", "", std::nullopt}, kActualField)));
  ASSERT_EQ(on_cell3.actual_lrps_size(), 1);
  EXPECT_EQ(on_cell3.actual_lrps(0).crash_count(), 4);
  EXPECT_EQ(model_.EncodedActualLrps({"", "cell-1", "pg-1", std::nullopt}, kActualField), "");
}

TEST_F(ModelEncodedListTest, ANewActualLrpAndANewPresenceAreListed) {
  auto evacuating = Running("pg-1", 0, "cell-9");
  evacuating.set_presence(models::ActualLRP::EVACUATING);
  Apply(&model_,
        {storage::PutActualLrp{Running("pg-3", 0, "cell-2")}, storage::PutActualLrp{evacuating}});
  ExpectListsMatchPerRecord(model_);
  models::ActualLRPsResponse all;
  ASSERT_TRUE(all.ParseFromString(model_.EncodedActualLrps({}, kActualField)));
  EXPECT_EQ(all.actual_lrps_size(), 5);
}

TEST_F(ModelEncodedListTest, ADeletedActualLrpLeavesEveryList) {
  Apply(&model_, {storage::DeleteActualLrp{"pg-1", 1, models::ActualLRP::ORDINARY}});
  ExpectListsMatchPerRecord(model_);
  EXPECT_EQ(model_.EncodedActualLrps({"", "cell-2", "", std::nullopt}, kActualField), "");
  EXPECT_EQ(model_.EncodedActualLrps({"", "", "pg-1", 1}, kActualField), "");
}

TEST_F(ModelEncodedListTest, AnUpdatedDesiredLrpIsListedWithItsNewSchedulingInfo) {
  auto scaled = Desired("pg-2", 7);
  Apply(&model_, {storage::PutDesiredLrp{scaled}});
  ExpectListsMatchPerRecord(model_);
  models::DesiredLRPSchedulingInfosResponse one;
  ASSERT_TRUE(one.ParseFromString(model_.EncodedSchedulingInfos({"", {"pg-2"}, {}}, kInfoField)));
  ASSERT_EQ(one.desired_lrp_scheduling_infos_size(), 1);
  EXPECT_EQ(one.desired_lrp_scheduling_infos(0).instances(), 7);
  EXPECT_EQ(model_.DesiredLrp("pg-2")->scheduling_info().instances(), 7);
}

TEST_F(ModelEncodedListTest, ADeletedDesiredLrpLeavesTheSchedulingInfoList) {
  Apply(&model_, {storage::DeleteDesiredLrp{"pg-3"}, storage::PutDesiredLrp{Desired("pg-4", 1)}});
  ExpectListsMatchPerRecord(model_);
  models::DesiredLRPSchedulingInfosResponse all;
  ASSERT_TRUE(all.ParseFromString(model_.EncodedSchedulingInfos({}, kInfoField)));
  ASSERT_EQ(all.desired_lrp_scheduling_infos_size(), 3);
  for (const auto& info : all.desired_lrp_scheduling_infos()) {
    EXPECT_NE(info.desired_lrp_key().process_guid(), "pg-3");
  }
}

TEST_F(ModelEncodedListTest, DomainAndTaskWritesLeaveTheListsAsTheyWere) {
  std::string before = model_.EncodedActualLrps({}, kActualField);
  models::Task task;
  task.set_task_guid("t-1");
  Apply(&model_, {storage::PutDomain{"d2", 5}, storage::DeleteDomain{"cf-apps"},
                  storage::PutTask{task}, storage::DeleteTask{"t-1"}});
  EXPECT_EQ(model_.EncodedActualLrps({}, kActualField), before);
  ExpectListsMatchPerRecord(model_);
}

TEST_F(ModelEncodedListTest, ARecordReadBeforeAWriteKeepsItsValue) {
  auto before = model_.SnapshotLrp("pg-1", 0);
  ASSERT_NE(before.ordinary, nullptr);
  Apply(&model_, {storage::PutActualLrp{Running("pg-1", 0, "cell-7")}});
  EXPECT_EQ(before.ordinary->actual_lrp_instance_key().cell_id(), "cell-1");
  EXPECT_EQ(model_.SnapshotLrp("pg-1", 0).ordinary->actual_lrp_instance_key().cell_id(), "cell-7");
  EXPECT_EQ(before.desired->scheduling_info().desired_lrp_key().process_guid(), "pg-1");
}

TEST_F(ModelEncodedListTest, AProcessRemovedEntirelyAndPutAgainIsListedByItsCell) {
  Apply(&model_, {storage::DeleteActualLrp{"pg-1", 0, models::ActualLRP::ORDINARY},
                  storage::DeleteActualLrp{"pg-1", 1, models::ActualLRP::ORDINARY},
                  storage::DeleteDesiredLrp{"pg-1"}});
  EXPECT_EQ(model_.DesiredLrp("pg-1"), nullptr);
  ExpectListsMatchPerRecord(model_);
  Apply(&model_, {storage::PutActualLrp{Running("pg-1", 0, "cell-1")}});
  ExpectListsMatchPerRecord(model_);
  models::ActualLRPsResponse on_cell1;
  ASSERT_TRUE(on_cell1.ParseFromString(
      model_.EncodedActualLrps({"", "cell-1", "", std::nullopt}, kActualField)));
  ASSERT_EQ(on_cell1.actual_lrps_size(), 2);
  EXPECT_EQ(on_cell1.actual_lrps(0).actual_lrp_key().process_guid(), "pg-1");
  EXPECT_EQ(on_cell1.actual_lrps(1).actual_lrp_key().process_guid(), "pg-2");
}

// Reads `list` in reads of `chunk` bytes (the way the HTTP server pulls a streamed body).
std::string ReadInChunks(EncodedList list, size_t chunk) {
  std::string out;
  std::string buffer(chunk, '\0');
  const size_t size = list.size();
  for (;;) {
    size_t n = list.Read(buffer.data(), chunk);
    if (n == 0) break;
    EXPECT_LE(n, chunk);
    out.append(buffer, 0, n);
  }
  EXPECT_EQ(out.size(), size);
  return out;
}

TEST_F(ModelEncodedListTest, AListReadInChunksOfAnySizeGivesTheSameBytes) {
  const std::string whole = model_.EncodedActualLrps({}, kActualField);
  const std::string infos = model_.EncodedSchedulingInfos({}, kInfoField);
  for (size_t chunk : {1, 2, 3, 7, 64, 100, 1000, 1 << 20}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    EXPECT_EQ(ReadInChunks(model_.ListActualLrps({}, kActualField), chunk), whole);
    EXPECT_EQ(ReadInChunks(model_.ListSchedulingInfos({}, kInfoField), chunk), infos);
  }
  EncodedList list = model_.ListActualLrps({}, kActualField);
  EXPECT_EQ(list.size(), whole.size());
  EXPECT_EQ(list.count(), 3u);
}

TEST_F(ModelEncodedListTest, AListTakenBeforeWritesYieldsTheRecordsAsTheyWereWhenTaken) {
  const std::string actuals_before = model_.EncodedActualLrps({}, kActualField);
  const std::string infos_before = model_.EncodedSchedulingInfos({}, kInfoField);
  EncodedList actuals = model_.ListActualLrps({}, kActualField);
  EncodedList infos = model_.ListSchedulingInfos({}, kInfoField);
  // Read a little of each, then change, replace and delete the records they hold.
  std::string actuals_got(5, '\0');
  ASSERT_EQ(actuals.Read(actuals_got.data(), actuals_got.size()), 5u);
  auto moved = Running("pg-1", 0, "cell-3");
  moved.set_crash_count(9);
  Apply(&model_, {storage::PutActualLrp{moved},
                  storage::DeleteActualLrp{"pg-1", 1, models::ActualLRP::ORDINARY},
                  storage::PutDesiredLrp{Desired("pg-2", 7)}, storage::DeleteDesiredLrp{"pg-3"},
                  storage::DeleteActualLrp{"pg-2", 0, models::ActualLRP::ORDINARY}});
  EXPECT_NE(model_.EncodedActualLrps({}, kActualField), actuals_before);
  actuals_got.resize(5);
  actuals_got += actuals.ReadAll();
  EXPECT_EQ(actuals_got, actuals_before);
  EXPECT_EQ(infos.ReadAll(), infos_before);
  ExpectListsMatchPerRecord(model_);
}

TEST(SharedBytes, CopiesShareTheBytesAndTheLastOneFreesThem) {
  SharedBytes empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.view(), "");
  SharedBytes a(std::string_view("encoded record"));
  SharedBytes b = a;
  EXPECT_EQ(b.data(), a.data()) << "shared, not copied";
  a = SharedBytes();
  EXPECT_EQ(b.view(), "encoded record");
  SharedBytes c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(c.view(), "encoded record");
  EXPECT_LE(sizeof(SharedBytes), sizeof(void*));
}

// A desired LRP with a run part worth the name (actions, env, egress, metric tags), as the
// desire route records it.
records::DesiredLRPRecord FullDesired(const std::string& guid) {
  models::DesiredLRP d;
  d.set_process_guid(guid);
  d.set_domain("cf-apps");
  d.set_root_fs("preloaded:cflinuxfs4");
  d.set_instances(2);
  d.set_memory_mb(256);
  d.set_log_guid("log-" + guid);
  d.add_ports(8080);
  auto* run = d.mutable_action()->mutable_run_action();
  run->set_path("/tmp/lifecycle/launcher");
  run->add_args("app");
  run->set_user("vcap");
  auto* env = run->add_env();
  env->set_name("VCAP_APPLICATION");
  env->set_value("{\"application_id\":\"" + guid + "\"}");
  d.mutable_monitor()->mutable_run_action()->set_path("/tmp/lifecycle/healthcheck");
  d.add_egress_rules()->set_protocol("tcp");
  (*d.mutable_metric_tags())["source_id"].set_static_(guid);
  auto record = domain::NewDesiredLrpRecord(d, kNow, "epoch-" + guid);
  EXPECT_TRUE(record.ok());
  return record.ok() ? *record : records::DesiredLRPRecord{};
}

// The full DesiredLRP the desired LRP routes serve for `record`, as bytes.
std::string Joined(const records::DesiredLRPRecord& record) {
  auto lrp = domain::DesiredLrpFromRecord(record);
  EXPECT_TRUE(lrp.ok());
  return lrp.ok() ? lrp->SerializeAsString() : "";
}

TEST(ModelDesiredRecord, DoesNotKeepTheRunInfoWhichStaysInTheStore) {
  Model model;
  storage::Snapshot snap;
  snap.desired_lrps.push_back(FullDesired("pg-loaded"));
  std::string loaded_run_info = snap.desired_lrps[0].run_info();
  model.Load(std::move(snap));
  auto written = FullDesired("pg-written");
  Apply(&model, {storage::PutDesiredLrp{written}});

  ASSERT_NE(model.DesiredLrp("pg-loaded"), nullptr);
  EXPECT_FALSE(loaded_run_info.empty());
  EXPECT_TRUE(model.DesiredLrp("pg-loaded")->run_info().empty());
  EXPECT_TRUE(model.DesiredLrp("pg-written")->run_info().empty());
  models::DesiredLRPRunInfo run_info;
  ASSERT_TRUE(run_info.ParseFromString(written.run_info()));
  EXPECT_EQ(run_info.action().run_action().env(0).value(), "{\"application_id\":\"pg-written\"}");
}

TEST(ModelDesiredRecord, SingleReadsAndListsJoinToTheSameBytesAsTheRecordsWritten) {
  Model model;
  std::map<std::string, std::string> expected;
  std::vector<storage::Mutation> batch;
  for (int i = 0; i < 4; ++i) {
    auto record = FullDesired("pg-" + std::to_string(i));
    record.clear_run_info();  // the model never keeps it (read from the store)
    expected[record.scheduling_info().desired_lrp_key().process_guid()] = Joined(record);
    batch.push_back(storage::PutDesiredLrp{std::move(record)});
  }
  Apply(&model, std::move(batch));
  // An update of the scheduling part keeps the run part's bytes.
  auto scaled = *model.DesiredLrp("pg-2");
  scaled.mutable_scheduling_info()->set_instances(9);
  expected["pg-2"] = Joined(scaled);
  Apply(&model, {storage::PutDesiredLrp{scaled}});

  for (const auto& [guid, bytes] : expected) {
    ASSERT_NE(model.DesiredLrp(guid), nullptr) << guid;
    EXPECT_EQ(Joined(*model.DesiredLrp(guid)), bytes) << guid;
  }
  auto listed = model.DesiredLrps({});
  ASSERT_EQ(listed.size(), expected.size());
  for (const auto& record : listed) {
    EXPECT_EQ(Joined(*record),
              expected.at(record->scheduling_info().desired_lrp_key().process_guid()));
  }
  models::DesiredLRP pg2;
  ASSERT_TRUE(pg2.ParseFromString(expected["pg-2"]));
  EXPECT_EQ(pg2.instances(), 9);
}

TEST(ModelEncodedList, AnEmptyModelListsNothing) {
  Model model;
  EXPECT_EQ(model.EncodedActualLrps({}, kActualField), "");
  EXPECT_EQ(model.EncodedSchedulingInfos({}, kInfoField), "");
}

TEST(ModelEncodedList, ARecordLargerThanOneVarintByteIsFramedWithItsFullLength) {
  Model model;
  auto big = Desired("pg-big", 1);
  big.mutable_scheduling_info()->set_annotation(std::string(70'000, 'a'));
  Apply(&model, {storage::PutDesiredLrp{big}});
  EXPECT_EQ(model.EncodedSchedulingInfos({}, kInfoField), PerRecord(model.DesiredLrps({})));
}

// --- the encoded storage: decode on demand and the indexes ---

using google::protobuf::util::MessageDifferencer;

TEST(ModelStorage, ReadsDecodeExactlyTheRecordsWritten) {
  Model model;
  auto actual = Running("pg-1", 0, "cell-1");
  actual.set_crash_count(2);
  actual.set_crash_reason("oom");
  auto evacuating = Running("pg-1", 0, "cell-2");
  evacuating.set_presence(models::ActualLRP::EVACUATING);
  auto desired = FullDesired("pg-1");
  (*desired.mutable_scheduling_info()->mutable_routes()->mutable_routes())["cf-router"] =
      "[{\"port\":8080}]";
  Apply(&model, {storage::PutDesiredLrp{desired}, storage::PutActualLrp{actual},
                 storage::PutActualLrp{evacuating}});

  auto expected_actual = actual;
  domain::NormalizeActualLrp(&expected_actual);
  auto snap = model.SnapshotLrp("pg-1", 0);
  ASSERT_NE(snap.ordinary, nullptr);
  ASSERT_NE(snap.evacuating, nullptr);
  EXPECT_EQ(snap.suspect, nullptr);
  EXPECT_TRUE(MessageDifferencer::Equals(*snap.ordinary, expected_actual));
  EXPECT_EQ(snap.evacuating->actual_lrp_instance_key().cell_id(), "cell-2");
  EXPECT_EQ(snap.running_ordinary, 1);
  ASSERT_NE(snap.desired, nullptr);
  desired.clear_run_info();  // the model does not keep it
  EXPECT_TRUE(MessageDifferencer::Equals(*snap.desired, desired));
  EXPECT_TRUE(MessageDifferencer::Equals(*model.DesiredLrp("pg-1"), desired));
  auto process = model.SnapshotProcess("pg-1");
  ASSERT_EQ(process.actuals.size(), 2u);
  EXPECT_TRUE(MessageDifferencer::Equals(*process.actuals[0], expected_actual));
  EXPECT_EQ(process.actuals[1]->presence(), models::ActualLRP::EVACUATING);
}

TEST(ModelStorage, LoadingInPartsGivesTheModelOfOneLoad) {
  auto snapshot = [] {
    storage::Snapshot snap;
    snap.domains.push_back({"cf-apps", INT64_MAX});
    for (int i = 0; i < 6; ++i) {
      std::string guid = "pg-" + std::to_string(i);
      snap.desired_lrps.push_back(Desired(guid, 1));
      snap.actual_lrps.push_back(Running(guid, 0, "cell-" + std::to_string(i % 2)));
    }
    models::Task task;
    task.set_task_guid("t-1");
    snap.tasks.push_back(task);
    return snap;
  };
  Model once;
  once.Load(snapshot());

  Model parts;
  storage::Snapshot all = snapshot();
  storage::Snapshot part;
  part.domains = all.domains;
  part.desired_lrps.assign(all.desired_lrps.begin(), all.desired_lrps.begin() + 4);
  parts.LoadPart(&part);
  EXPECT_TRUE(part.domains.empty());
  EXPECT_TRUE(part.desired_lrps.empty());
  part.desired_lrps.assign(all.desired_lrps.begin() + 4, all.desired_lrps.end());
  part.actual_lrps.assign(all.actual_lrps.begin(), all.actual_lrps.begin() + 3);
  parts.LoadPart(&part);
  storage::Snapshot rest;
  rest.actual_lrps.assign(all.actual_lrps.begin() + 3, all.actual_lrps.end());
  rest.tasks = all.tasks;
  parts.Load(std::move(rest));

  EXPECT_EQ(parts.DesiredLrpCount(), 6u);
  EXPECT_EQ(parts.ActualLrpCount(), 6u);
  EXPECT_EQ(parts.TaskCount(), 1u);
  EXPECT_EQ(parts.DomainsExpiringAfter(0), once.DomainsExpiringAfter(0));
  // The cell lists are in guid order; the full list in hash order (compared as a set).
  for (const std::string cell : {"cell-0", "cell-1"}) {
    EXPECT_EQ(parts.EncodedActualLrps({"", cell, "", std::nullopt}, kActualField),
              once.EncodedActualLrps({"", cell, "", std::nullopt}, kActualField));
  }
  auto sorted_rows = [](const Model& model) {
    std::vector<std::string> out;
    for (const auto& p : model.ActualLrps({})) out.push_back(p->SerializeAsString());
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(sorted_rows(parts), sorted_rows(once));
  EXPECT_EQ(parts.EncodedSchedulingInfos({"", {"pg-0", "pg-5"}, {}}, kInfoField),
            once.EncodedSchedulingInfos({"", {"pg-0", "pg-5"}, {}}, kInfoField));
  ExpectListsMatchPerRecord(parts);
}

TEST(ModelStorage, APartWithReusedRecordsIsCopiedAndLeftInPlaceForTheStore) {
  // The SQLite load reuses its decoded records from batch to batch (lrps_reused): the model
  // copies them and leaves them to the store, and what it keeps does not change when the store
  // overwrites them for the next batch.
  Model model;
  storage::Snapshot part;
  part.lrps_reused = true;
  part.desired_lrps.push_back(Desired("pg-0", 1));
  part.actual_lrps.push_back(Running("pg-0", 0, "cell-0"));
  models::Task task;
  task.set_task_guid("t-1");
  part.tasks.push_back(task);
  model.LoadPart(&part);
  ASSERT_EQ(part.desired_lrps.size(), 1u);
  ASSERT_EQ(part.actual_lrps.size(), 1u);
  EXPECT_TRUE(part.tasks.empty());

  part.desired_lrps[0] = Desired("pg-1", 1);
  part.actual_lrps[0] = Running("pg-1", 0, "cell-1");
  model.LoadPart(&part);
  model.Load(storage::Snapshot{});
  EXPECT_EQ(model.DesiredLrpCount(), 2u);
  EXPECT_EQ(model.ActualLrpCount(), 2u);
  EXPECT_EQ(model.TaskCount(), 1u);
  ASSERT_NE(model.DesiredLrp("pg-0"), nullptr);
  records::DesiredLRPRecord kept = Desired("pg-0", 1);
  kept.clear_run_info();  // the model does not keep it
  EXPECT_EQ(model.DesiredLrp("pg-0")->SerializeAsString(), kept.SerializeAsString());
  auto rows = model.ActualLrps({"", "cell-0", "", std::nullopt});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]->actual_lrp_key().process_guid(), "pg-0");
  ExpectListsMatchPerRecord(model);
}

TEST(ModelStorage, EveryReadHandsOutItsOwnCopy) {
  Model model;
  Apply(&model, {storage::PutDesiredLrp{Desired("pg-1", 1)},
                 storage::PutActualLrp{Running("pg-1", 0, "c")}});
  auto a = model.SnapshotLrp("pg-1", 0);
  auto b = model.SnapshotLrp("pg-1", 0);
  EXPECT_NE(a.ordinary.get(), b.ordinary.get());
  EXPECT_NE(a.desired.get(), b.desired.get());
  EXPECT_TRUE(MessageDifferencer::Equals(*a.ordinary, *b.ordinary));
  EXPECT_TRUE(MessageDifferencer::Equals(*a.desired, *b.desired));
}

TEST(ModelStorage, TheCellIndexFollowsMovesAndRemovals) {
  Model model;
  Apply(&model, {storage::PutActualLrp{Running("pg-b", 0, "cell-1")},
                 storage::PutActualLrp{Running("pg-a", 1, "cell-1")},
                 storage::PutActualLrp{Running("pg-a", 0, "cell-1")},
                 storage::PutActualLrp{Running("pg-c", 0, "cell-2")}});
  auto on = [&](const std::string& cell) {
    std::vector<std::string> out;
    for (const auto& p : model.ActualLrps({"", cell, "", std::nullopt})) {
      out.push_back(p->actual_lrp_key().process_guid() + "/" +
                    std::to_string(p->actual_lrp_key().index()));
    }
    return out;
  };
  EXPECT_EQ(on("cell-1"), (std::vector<std::string>{"pg-a/0", "pg-a/1", "pg-b/0"}));
  EXPECT_EQ(on("cell-2"), (std::vector<std::string>{"pg-c/0"}));

  // pg-a/1 moves to cell-2; pg-c/0 loses its cell (an unclaimed row has none).
  auto unclaimed = domain::NewUnclaimedActualLrp("pg-c", 0, "cf-apps", kNow, "epoch");
  Apply(&model,
        {storage::PutActualLrp{Running("pg-a", 1, "cell-2")}, storage::PutActualLrp{unclaimed}});
  EXPECT_EQ(on("cell-1"), (std::vector<std::string>{"pg-a/0", "pg-b/0"}));
  EXPECT_EQ(on("cell-2"), (std::vector<std::string>{"pg-a/1"}));

  Apply(&model, {storage::DeleteActualLrp{"pg-a", 1, models::ActualLRP::ORDINARY},
                 storage::DeleteActualLrp{"pg-b", 0, models::ActualLRP::ORDINARY}});
  EXPECT_EQ(on("cell-1"), (std::vector<std::string>{"pg-a/0"}));
  EXPECT_TRUE(on("cell-2").empty());
  EXPECT_EQ(model.ActualLrpCount(), 2u);
  auto guids = model.ProcessGuids();
  std::sort(guids.begin(), guids.end());
  EXPECT_EQ(guids, (std::vector<std::string>{"pg-a", "pg-c"}));
  // Convergence with every cell that holds a row present: only cell-1 is left.
  EXPECT_EQ(model.CalculateLrpConvergence(kNow, std::nullopt).metrics.present_cells, 1);
}

TEST(ModelStorage, DomainFiltersFollowTheDomainOfEachRecordAsRewritten) {
  Model model;
  Apply(&model, {storage::PutDesiredLrp{Desired("pg-1", 1, "d1")},
                 storage::PutActualLrp{Running("pg-1", 0, "c", "d1")}});
  Apply(&model, {storage::PutDesiredLrp{Desired("pg-1", 1, "d2")},
                 storage::PutActualLrp{Running("pg-1", 0, "c", "d2")}});
  EXPECT_TRUE(model.DesiredLrps({"d1", {}, {}}).empty());
  EXPECT_EQ(model.DesiredLrps({"d2", {}, {}}).size(), 1u);
  EXPECT_TRUE(model.ActualLrps({"d1", "", "", std::nullopt}).empty());
  EXPECT_EQ(model.ActualLrps({"d2", "c", "", std::nullopt}).size(), 1u);
  ExpectListsMatchPerRecord(model);
}

// The model's process-by-process pass decides what the calculator decides over the same
// records handed to it all at once.
TEST(ModelStorage, TheConvergencePassMatchesTheCalculatorOverTheDecodedRecords) {
  Model model;
  std::vector<storage::Mutation> batch;
  batch.push_back(storage::PutDomain{"cf-apps", INT64_MAX});
  batch.push_back(storage::PutDesiredLrp{Desired("pg-1", 3)});  // 1 missing
  batch.push_back(storage::PutDesiredLrp{Desired("pg-2", 1)});  // 1 extra
  batch.push_back(storage::PutActualLrp{Running("pg-1", 0, "cell-1")});
  batch.push_back(storage::PutActualLrp{Running("pg-1", 1, "cell-gone")});  // vanished cell
  batch.push_back(storage::PutActualLrp{Running("pg-2", 0, "cell-1")});
  batch.push_back(storage::PutActualLrp{Running("pg-2", 1, "cell-1")});
  batch.push_back(storage::PutActualLrp{Running("pg-orphan", 0, "cell-1")});
  auto evacuating = Running("pg-2", 0, "cell-gone");
  evacuating.set_presence(models::ActualLRP::EVACUATING);
  batch.push_back(storage::PutActualLrp{evacuating});
  Apply(&model, std::move(batch));

  std::set<std::string> cells = {"cell-1"};
  auto got = model.CalculateLrpConvergence(kNow, cells);
  domain::LrpConvergenceInput flat;
  auto desired = model.DesiredLrps({});
  auto actuals = model.ActualLrps({});
  for (const auto& d : desired) flat.desired.push_back(d.get());
  for (const auto& a : actuals) flat.actuals.push_back(a.get());
  flat.present_cells = cells;
  flat.fresh_domains = {"cf-apps"};
  flat.now = kNow;
  auto want = domain::CalculateLrpConvergence(flat);

  auto keys = [](std::vector<domain::LrpKey> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(keys(got.create_missing), keys(want.create_missing));
  EXPECT_EQ(keys(got.retire), keys(want.retire));
  EXPECT_EQ(keys(got.missing_cell_replace), keys(want.missing_cell_replace));
  EXPECT_EQ(got.prune_evacuating.size(), want.prune_evacuating.size());
  EXPECT_FALSE(got.create_missing.empty());
  EXPECT_FALSE(got.retire.empty());
  EXPECT_FALSE(got.missing_cell_replace.empty());
  EXPECT_EQ(got.prune_evacuating.size(), 1u);
  EXPECT_EQ(got.metrics.running, want.metrics.running);
  EXPECT_EQ(got.metrics.desired_instances, want.metrics.desired_instances);
  EXPECT_EQ(got.metrics.present_cells, want.metrics.present_cells);
  EXPECT_EQ(got.metrics.suspect_cells, want.metrics.suspect_cells);
  EXPECT_EQ(got.metrics.suspect_cells, 1);
}

}  // namespace
}  // namespace bbs::state
