// One LRP convergence pass over N desired LRPs with one instance each on 1,000 cells
// (issue "Convergence"): when nothing needs doing, and when 10% of the instances need work
// (half of them missing, half stale UNCLAIMED). The pass runs on the real state engine over
// the in-memory store, so it measures the engine, not the disk. pass_ms is a steady-state pass
// until committed (and the auction request sent), submit_ms the same pass until its last write
// was decided and submitted; first_pass_ms the first pass after start-up (the convergence index
// evaluates everything).
// pass_cpu_ms is the CPU time of the thread running the pass (the converger's), process_cpu_ms
// that of the whole process during the pass (the committer's work included): on a shared
// machine these move less than the wall times.
//
//   ./build/release/bench/bbs_convergence_bench --benchmark_filter=Converge
//
// Profiling only the timed passes: with BBS_BENCH_PERF_CTL=<fifo> the benchmark writes
// "enable" / "disable" to that fifo around each timed pass, e.g.
//   mkfifo /tmp/ctl; perf record --call-graph dwarf -D -1 --control fifo:/tmp/ctl --
//       env BBS_BENCH_PERF_CTL=/tmp/ctl ./build/release/bench/bbs_convergence_bench ...
// (one command line).

#include <time.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>

#include <benchmark/benchmark.h>

#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/domain/event_testing.h"
#include "bbs/domain/lrp_convergence.h"
#include "bbs/state/engine.h"
#include "bbs/storage/memory_store.h"

namespace {

using namespace bbs;

constexpr int kCells = 1000;
constexpr int64_t kNow = 1'700'000'000'000'000'000;

models::DesiredLRP Lrp(int i) {
  models::DesiredLRP lrp;
  lrp.set_process_guid("pg-" + std::to_string(i));
  lrp.set_domain("cf-apps");
  lrp.set_root_fs("preloaded:cflinuxfs4");
  lrp.set_instances(1);
  lrp.set_memory_mb(1024);
  lrp.set_disk_mb(512);
  lrp.mutable_action()->mutable_run_action()->set_path("/bin/app");
  lrp.mutable_action()->mutable_run_action()->set_user("vcap");
  (*lrp.mutable_metric_tags())["source_id"].set_static_("app-" + std::to_string(i));
  return lrp;
}

// A store holding `n` desired LRPs, each with one RUNNING instance on one of 1,000 cells, except
// that every 20th (when `broken`) has an UNCLAIMED instance placed 20 s before kNow: not stale
// yet at kNow, stale 15 s later.
void Populate(storage::MemoryStore* store, int n, bool broken) {
  std::vector<storage::Mutation> muts;
  muts.reserve(static_cast<size_t>(n) * 2 + 1);
  muts.push_back(storage::PutDomain{"cf-apps", std::numeric_limits<int64_t>::max()});
  for (int i = 0; i < n; ++i) {
    auto record = domain::NewDesiredLrpRecord(Lrp(i), kNow, "epoch-" + std::to_string(i));
    muts.push_back(storage::PutDesiredLrp{std::move(*record)});
    bool unclaimed = broken && i % 20 == 10;
    auto actual = domain::NewUnclaimedActualLrp("pg-" + std::to_string(i), 0, "cf-apps",
                                                kNow - 20'000'000'000LL, "a-" + std::to_string(i));
    if (!unclaimed) {
      actual.set_state(domain::kRunning);
      actual.mutable_actual_lrp_instance_key()->set_instance_guid("ig-" + std::to_string(i));
      actual.mutable_actual_lrp_instance_key()->set_cell_id("cell-" + std::to_string(i % kCells));
      actual.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
      actual.set_routable(true);
    }
    muts.push_back(storage::PutActualLrp{std::move(actual)});
  }
  (void)store->Commit(muts);
}

int64_t CpuNanos(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Tells a `perf record --control fifo:...` (BBS_BENCH_PERF_CTL) to start or stop recording.
void PerfControl(const char* command) {
  const char* fifo = std::getenv("BBS_BENCH_PERF_CTL");
  if (fifo == nullptr) return;
  std::ofstream(fifo) << command << std::endl;
}

std::set<std::string> AllCells() {
  std::set<std::string> cells;
  for (int c = 0; c < kCells; ++c) cells.insert("cell-" + std::to_string(c));
  return cells;
}

// The engine over a populated in-memory store, loaded and started.
struct Fixture {
  explicit Fixture(int n, bool broken)
      : engine(&store, &clock, &guids, &publisher, Logger(LogSink::Null(), "bench"),
               state::Engine::Options{}) {
    Populate(&store, n, broken);
    (void)engine.Load();
    engine.Start();
  }
  ~Fixture() { engine.Stop(); }
  storage::MemoryStore store;
  FakeClock clock{kNow};
  SequentialGuidGenerator guids;
  domain::testing::NullEventPublisher publisher;
  state::Engine engine;
};

// A steady-state pass (the convergence index is warm: one pass ran since start-up). With
// tenth_broken, before the timed pass 5% of the instances are removed (missing: the committer
// marked their processes) and 15 s pass, so 5% of the instances turn stale UNCLAIMED (their
// deadline comes): 10% of the instances need work.
void BM_ConvergeLrps(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool broken = state.range(1) != 0;
  auto cells = AllCells();
  int64_t total_ns = 0;
  int64_t submitted_ns = 0;
  int64_t first_ns = 0;
  int64_t thread_cpu_ns = 0;
  int64_t process_cpu_ns = 0;
  int passes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto fixture = std::make_unique<Fixture>(n, broken);
    Fixture& f = *fixture;
    first_ns += f.engine.convergence().ConvergeLrps(cells).duration_ns;
    if (broken) {
      for (int i = 0; i < n; i += 20) {
        (void)f.engine.actual_lrps().RemoveActualLrp("pg-" + std::to_string(i), 0, nullptr);
      }
      f.clock.Advance(std::chrono::seconds(15));
    }
    PerfControl("enable");
    int64_t thread_cpu = CpuNanos(CLOCK_THREAD_CPUTIME_ID);
    int64_t process_cpu = CpuNanos(CLOCK_PROCESS_CPUTIME_ID);
    state.ResumeTiming();
    auto report = f.engine.convergence().ConvergeLrps(cells);
    benchmark::DoNotOptimize(report);
    state.PauseTiming();
    thread_cpu_ns += CpuNanos(CLOCK_THREAD_CPUTIME_ID) - thread_cpu;
    process_cpu_ns += CpuNanos(CLOCK_PROCESS_CPUTIME_ID) - process_cpu;
    PerfControl("disable");
    total_ns += report.duration_ns;
    submitted_ns += report.submitted_ns;
    ++passes;
    if (broken && report.metrics.missing != n / 20) state.SkipWithError("unexpected plan");
    fixture.reset();
    state.ResumeTiming();
  }
  state.counters["pass_ms"] = static_cast<double>(total_ns) / passes / 1e6;
  state.counters["submit_ms"] = static_cast<double>(submitted_ns) / passes / 1e6;
  state.counters["first_pass_ms"] = static_cast<double>(first_ns) / passes / 1e6;
  state.counters["pass_cpu_ms"] = static_cast<double>(thread_cpu_ns) / passes / 1e6;
  state.counters["process_cpu_ms"] = static_cast<double>(process_cpu_ns) / passes / 1e6;
}
BENCHMARK(BM_ConvergeLrps)
    ->ArgsProduct({{10'000, 50'000, 250'000}, {0, 1}})
    ->ArgNames({"lrps", "tenth_broken"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

// The pure calculator alone (no writes), nothing to do.
void BM_CalculateLrpConvergence(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  storage::MemoryStore store;
  Populate(&store, n, false);
  storage::Snapshot snap;
  (void)store.Load(&snap);
  // Grouped as the engine keeps it: desired i at process i, its instance in slot i.
  domain::LrpGroupedInput in;
  std::map<std::string, const models::ActualLRP*> by_guid;
  for (const auto& a : snap.actual_lrps) by_guid[a.actual_lrp_key().process_guid()] = &a;
  for (const auto& d : snap.desired_lrps) {
    domain::LrpProcessView view;
    view.desired = &d;
    view.first_slot = in.slots.size();
    auto it = by_guid.find(d.scheduling_info().desired_lrp_key().process_guid());
    if (it != by_guid.end()) {
      domain::LrpSlotView slot;
      slot.rows[models::ActualLRP::ORDINARY] = it->second;
      in.slots.push_back(slot);
    }
    view.slot_count = in.slots.size() - view.first_slot;
    in.processes.push_back(view);
  }
  for (const auto& c : AllCells()) in.present_cells.insert(c);
  in.fresh_domains = {"cf-apps"};
  in.now = kNow;
  for (auto _ : state) benchmark::DoNotOptimize(domain::CalculateLrpConvergence(in));
}
BENCHMARK(BM_CalculateLrpConvergence)->Arg(50'000)->Arg(250'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
