// Micro-benchmarks of the hot paths (issue "Benchmark suite" item 3): protobuf encoding of a
// 250,000-instance list, the ActualLRP transition functions, and event computation. The
// convergence calculator is in convergence_bench.cc, event delivery in events_bench.cc.
//
//   ./build/release/bench/bbs_micro_bench

#include <benchmark/benchmark.h>

#include "bbs/api/encoding.h"
#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/actual_lrp_lifecycle.h"
#include "bbs/domain/lrp_event_calc.h"

namespace {

using namespace bbs;

constexpr int64_t kNow = 1'700'000'000'000'000'000;

models::ActualLRP RunningLrp(int i) {
  auto lrp = domain::NewUnclaimedActualLrp("pg-" + std::to_string(i), 0, "cf-apps", kNow,
                                           "epoch-" + std::to_string(i));
  lrp.set_state(domain::kRunning);
  lrp.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + std::to_string(i));
  lrp.mutable_actual_lrp_instance_key()->set_cell_id("cell-" + std::to_string(i % 1000));
  auto* net = lrp.mutable_actual_lrp_net_info();
  net->set_address("10.0.0.1");
  net->set_instance_address("10.255.0.1");
  auto* port = net->add_ports();
  port->set_container_port(8080);
  port->set_host_port(61000);
  lrp.set_routable(true);
  (*lrp.mutable_metric_tags())["source_id"] = "app-" + std::to_string(i);
  return lrp;
}

// The body of /v1/actual_lrps/list for 250,000 RUNNING instances, built the way the API
// builds it (each record appended as field 2, no intermediate response message).
void BM_EncodeActualLrpList(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<models::ActualLRP> lrps;
  lrps.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) lrps.push_back(RunningLrp(i));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out;
    for (const auto& lrp : lrps) api::AppendMessageField(&out, 2, lrp);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_EncodeActualLrpList)->Arg(250'000)->Unit(benchmark::kMillisecond);

void BM_ClaimTransition(benchmark::State& state) {
  auto row = domain::NewUnclaimedActualLrp("pg", 0, "cf-apps", kNow, "epoch");
  models::ActualLRPInstanceKey ik;
  ik.set_instance_guid("ig");
  ik.set_cell_id("cell-1");
  for (auto _ : state) benchmark::DoNotOptimize(domain::Claim({&row}, ik, kNow));
}
BENCHMARK(BM_ClaimTransition);

// The rep's identical start heartbeat: the decision that nothing changes.
void BM_StartHeartbeatDecision(benchmark::State& state) {
  auto row = RunningLrp(1);
  domain::StartParams p;
  p.key = row.actual_lrp_key();
  p.instance_key = row.actual_lrp_instance_key();
  p.net_info = row.actual_lrp_net_info();
  p.metric_tags = {{"source_id", "app-1"}};
  for (auto _ : state) benchmark::DoNotOptimize(domain::Start({&row}, p, kNow, ""));
}
BENCHMARK(BM_StartHeartbeatDecision);

void BM_CrashTransitionAndEvents(benchmark::State& state) {
  auto row = RunningLrp(1);
  for (auto _ : state) {
    auto d =
        domain::Crash({&row}, row.actual_lrp_key(), row.actual_lrp_instance_key(), "exit 1", kNow);
    auto events =
        domain::ComputeActualLrpEvents({row}, d.event_changes, domain::LrpEventMode::kCrash, "");
    benchmark::DoNotOptimize(events);
  }
}
BENCHMARK(BM_CrashTransitionAndEvents);

void BM_ClaimEventComputation(benchmark::State& state) {
  auto row = domain::NewUnclaimedActualLrp("pg", 0, "cf-apps", kNow, "epoch");
  auto after = RunningLrp(0);
  after.set_state(domain::kClaimed);
  std::vector<domain::RowChange> changes = {{row, after}};
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        domain::ComputeActualLrpEvents({row}, changes, domain::LrpEventMode::kStandard, ""));
  }
}
BENCHMARK(BM_ClaimEventComputation);

}  // namespace

BENCHMARK_MAIN();
