// Cost of the recording calls on the hot paths (the rep's StartActualLRP heartbeat records one
// request; the committer one commit per batch).
//   cmake --preset release && cmake --build --preset release --target bbs_metrics_bench;
//   build/release/src/bbs/metrics/bbs_metrics_bench --benchmark_min_time=0.5

#include <benchmark/benchmark.h>

#include "bbs/metrics/bbs_metrics.h"

namespace bbs::metrics {
namespace {

BbsMetrics& Shared() {
  static BbsMetrics metrics;
  return metrics;
}

void BM_ObserveRequest(benchmark::State& state) {
  BbsMetrics& m = Shared();
  RouteMetrics* route = m.RouteFor("StartActualLRP");
  int64_t i = 0;
  for (auto _ : state) {
    m.ObserveRequest(route, 200, std::chrono::nanoseconds(100'000 + (i++ & 0xffff)));
  }
}
BENCHMARK(BM_ObserveRequest)->Threads(1)->Threads(2)->Threads(8);

void BM_ObserveRequestByName(benchmark::State& state) {
  BbsMetrics& m = Shared();
  for (auto _ : state) m.ObserveRequest("StartActualLRP", 200, std::chrono::microseconds(100));
}
BENCHMARK(BM_ObserveRequestByName)->Threads(1)->Threads(2);

void BM_ObserveCommit(benchmark::State& state) {
  BbsMetrics& m = Shared();
  for (auto _ : state) m.ObserveCommit(64, std::chrono::microseconds(700), true);
}
BENCHMARK(BM_ObserveCommit);

void BM_PrometheusText(benchmark::State& state) {
  BbsMetrics m;
  for (int r = 0; r < 60; ++r) {
    m.ObserveRequest(m.RouteFor("Route" + std::to_string(r)), 200, std::chrono::microseconds(1));
  }
  for (int c = 0; c < 1000; ++c) m.TaskStarted("cell-" + std::to_string(c));
  for (auto _ : state) benchmark::DoNotOptimize(m.PrometheusText());
}
BENCHMARK(BM_PrometheusText);

}  // namespace
}  // namespace bbs::metrics

BENCHMARK_MAIN();
