#pragma once

#include <string>

#include <gtest/gtest.h>

#include "bbs/base/status_matchers.h"
#include "bbs/state/engine.h"

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

// Hands `engine` its peers, loads it and starts it (test fixtures' constructors).
inline void StartWithPeers(Engine* engine, clients::Auctioneer* auctioneer, clients::Reps* reps,
                           cells::CellDirectory* cells) {
  engine->SetPeers(auctioneer, reps, cells);
  EXPECT_THAT(engine->Load(), IsOk());
  engine->Start();
}

}  // namespace bbs::state::testing
