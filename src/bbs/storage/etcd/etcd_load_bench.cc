// Start-up load from etcd: writes N desired LRPs with one actual LRP each under a fresh root,
// then times EtcdStore::Load (paginated range reads + decoding) on a newly opened store.
//
//   eval "$(scripts/servers/etcd.sh start /tmp/etcd)"
//   ./build/release/src/bbs/storage/etcd/bbs_etcd_load_bench --lrps 250000
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bbs/storage/etcd/etcd_store.h"
#include "bbs/storage/store_test_util.h"

namespace {

using bbs::storage::Mutation;
using bbs::storage::etcd::EtcdStore;
using Clock = std::chrono::steady_clock;

bbs::records::DesiredLRPRecord Desired(const std::string& guid) {
  bbs::records::DesiredLRPRecord record;
  auto* info = record.mutable_scheduling_info();
  info->mutable_desired_lrp_key()->set_process_guid(guid);
  info->mutable_desired_lrp_key()->set_domain("cf-apps");
  info->mutable_desired_lrp_key()->set_log_guid(guid);
  info->set_instances(1);
  info->mutable_desired_lrp_resource()->set_memory_mb(1024);
  info->mutable_desired_lrp_resource()->set_disk_mb(512);
  info->mutable_desired_lrp_resource()->set_root_fs("preloaded:cflinuxfs4");
  info->set_annotation(std::string(64, 'a'));
  models::DesiredLRPRunInfo run;
  run.mutable_desired_lrp_key()->CopyFrom(info->desired_lrp_key());
  run.add_environment_variables()->set_name("VCAP_APPLICATION");
  run.mutable_environment_variables(0)->set_value(std::string(600, 'x'));
  run.set_start_timeout_ms(60000);
  run.set_log_source("CELL");
  record.set_run_info(run.SerializeAsString());
  return record;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("bbs etcd start-up load benchmark");
  std::string endpoints;
  if (const char* env = std::getenv("BBS_TEST_ETCD_ENDPOINTS")) {
    endpoints = env;
  }
  int lrps = 250000;
  int64_t page_size = 50000;
  app.add_option("--endpoints", endpoints, "etcd endpoints (default BBS_TEST_ETCD_ENDPOINTS)");
  app.add_option("--lrps", lrps, "desired LRPs, one actual LRP each");
  app.add_option("--page-size", page_size, "keys per range read");
  std::string root;
  bool keep = false;
  bool skip_populate = false;
  app.add_option("--root", root, "key root (default: a fresh one)");
  app.add_flag("--keep", keep, "leave the records in etcd (to load them again with --root)");
  app.add_flag("--skip-populate", skip_populate, "only load what --root holds");
  CLI11_PARSE(app, argc, argv);
  if (endpoints.empty()) {
    std::fprintf(stderr, "no etcd endpoints (--endpoints or BBS_TEST_ETCD_ENDPOINTS)\n");
    return 2;
  }
  EtcdStore::Options options;
  options.client.endpoints = bbs::storage::etcd::SplitEndpoints(endpoints);
  options.root = root.empty() ? fmt::format("/bbs-load-bench/{}", getpid()) : root;
  options.page_size = page_size;
  options.encoder = bbs::storage::testing::TestEncoder();
  bbs::Logger logger(bbs::LogSink::Null(), "bench");

  auto writer = EtcdStore::Open(options, logger);
  if (!writer.ok()) {
    std::fprintf(stderr, "%s\n", writer.status().ToString().c_str());
    return 1;
  }
  auto populate_start = Clock::now();
  std::vector<Mutation> batch;
  for (int i = 0; i < (skip_populate ? 0 : lrps); ++i) {
    std::string guid = fmt::format("pg-{:08d}", i);
    batch.push_back(bbs::storage::PutDesiredLrp{Desired(guid)});
    batch.push_back(bbs::storage::PutActualLrp{bbs::storage::testing::SmallActualLrp(guid, 0)});
    if (batch.size() >= 10000 || i + 1 == lrps) {
      if (auto s = (*writer)->Commit(batch); !s.ok()) {
        std::fprintf(stderr, "populate: %s\n", s.ToString().c_str());
        return 1;
      }
      batch.clear();
    }
  }
  double populate_s = std::chrono::duration<double>(Clock::now() - populate_start).count();
  writer->reset();

  auto open_start = Clock::now();
  auto reader = EtcdStore::Open(options, logger);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
    return 1;
  }
  bbs::storage::Snapshot snapshot;
  auto load_start = Clock::now();
  if (auto s = (*reader)->Load(&snapshot); !s.ok()) {
    std::fprintf(stderr, "load: %s\n", s.ToString().c_str());
    return 1;
  }
  auto load_end = Clock::now();
  std::printf("root %s\n", options.root.c_str());
  std::printf("populate %d desired + %d actual LRPs: %.1f s\n", lrps, lrps, populate_s);
  std::printf("open: %.3f s, load: %.3f s (%zu desired, %zu actual, page size %lld)\n",
              std::chrono::duration<double>(load_start - open_start).count(),
              std::chrono::duration<double>(load_end - load_start).count(),
              snapshot.desired_lrps.size(), snapshot.actual_lrps.size(),
              static_cast<long long>(page_size));
  // Leave the shared test etcd as we found it.
  etcdserverpb::TxnRequest cleanup;
  auto* del = cleanup.add_success()->mutable_request_delete_range();
  del->set_key(options.root + "/");
  del->set_range_end(options.root + "0");
  etcdserverpb::TxnResponse ignored;
  if (!keep) {
    (void)(*reader)->client().Txn(cleanup, &ignored);
  }
  return snapshot.desired_lrps.size() == static_cast<size_t>(lrps) ? 0 : 1;
}
