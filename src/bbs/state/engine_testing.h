#pragma once

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/cells/cell_directory.h"
#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/event_testing.h"
#include "bbs/metrics/bbs_metrics.h"
#include "bbs/state/engine.h"
#include "bbs/storage/memory_store.h"

#include "models/desired_lrp.pb.h"

namespace bbs::state::testing {

// A valid DesiredLRP in domain "cf-apps" with `instances` instances (passes validation).
inline models::DesiredLRP NewLrp(const std::string& guid, int instances) {
  models::DesiredLRP lrp;
  lrp.set_process_guid(guid);
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(instances);
  lrp.set_log_guid("log-" + guid);
  lrp.mutable_action()->mutable_run_action()->set_path("/bin/true");
  lrp.mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app");
  return lrp;
}

// The key of instance `index` of `guid` in domain "cf-apps" (NewLrp's domain).
inline models::ActualLRPKey LrpKey(const std::string& guid, int index) {
  models::ActualLRPKey key;
  key.set_process_guid(guid);
  key.set_index(index);
  key.set_domain("cf-apps");
  return key;
}

inline models::ActualLRPInstanceKey InstanceKey(const std::string& instance_guid,
                                                const std::string& cell) {
  models::ActualLRPInstanceKey key;
  key.set_instance_guid(instance_guid);
  key.set_cell_id(cell);
  return key;
}

// What a rep reports when instance `index` of `guid` runs as `instance` (at 10.0.0.1).
inline domain::StartParams Started(const std::string& guid, int index,
                                   const models::ActualLRPInstanceKey& instance) {
  domain::StartParams params;
  params.key = LrpKey(guid, index);
  params.instance_key = instance;
  params.net_info.set_address("10.0.0.1");
  return params;
}

// Claims instance `index` of `guid` as `instance` and starts it.
inline void ClaimAndStart(Engine& engine, const std::string& guid, int index,
                          const models::ActualLRPInstanceKey& instance) {
  ASSERT_THAT(engine.actual_lrps().ClaimActualLrp(guid, index, instance), IsOk());
  ASSERT_THAT(engine.actual_lrps().StartActualLrp(Started(guid, index, instance)), IsOk());
}

// Hands `engine` its peers, loads it and starts it (test fixtures' constructors).
inline void StartWithPeers(Engine* engine, clients::Auctioneer* auctioneer, clients::Reps* reps,
                           cells::CellDirectory* cells) {
  engine->SetPeers(auctioneer, reps, cells);
  EXPECT_THAT(engine->Load(), IsOk());
  engine->Start();
}

// The base of an engine test fixture: an Engine on an in-memory store, a fake clock, sequential
// guids, a publisher that drops events and cells at `rep_url_template`, with the test's
// `AuctioneerDouble` and `RepsDouble` as its peers; with `record_metrics`, it records into
// metrics_. The fixture's constructor calls StartEngine() once it has set the engine up.
template <typename AuctioneerDouble, typename RepsDouble>
class EngineFixture : public ::testing::Test {
 protected:
  EngineFixture(std::string rep_url_template, bool record_metrics)
      : cells_(std::move(rep_url_template)),
        engine_(&store_, &clock_, &guids_, &publisher_, Logger(LogSink::Null(), "t"),
                Engine::Options{.metrics = record_metrics ? &metrics_ : nullptr}) {}

  void StartEngine() { StartWithPeers(&engine_, &auctioneer_, &reps_, &cells_); }

  storage::MemoryStore store_;
  FakeClock clock_;
  SequentialGuidGenerator guids_;
  domain::testing::NullEventPublisher publisher_;
  AuctioneerDouble auctioneer_;
  RepsDouble reps_;
  cells::TemplateCellDirectory cells_;
  metrics::BbsMetrics metrics_;
  Engine engine_;
};

}  // namespace bbs::state::testing
