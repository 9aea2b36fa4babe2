// Publish-to-delivery latency of the event hub (design.md §8: p99 < 10 ms with 1,000
// subscribers). Hub level, no sockets: each subscriber's writer takes the framed bytes at once,
// so the time measured is the hub's own: Publish() -> delivery thread -> filter, frame, Write().
//
// Counters: p50_us / p99_us / max_us over every (event, subscriber) delivery, measured from the
// Publish() call to the writer receiving the event's bytes; deliveries/s.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "bbs/events/hub.h"
#include "models/events.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

// Shared by the writers of one run: when the event in flight was published, and how many
// deliveries are still missing.
struct Flight {
  std::atomic<int64_t> published_ns{0};
  std::mutex mu;
  std::condition_variable cv;
  int missing = 0;

  void Delivered() {
    std::lock_guard<std::mutex> lock(mu);
    if (--missing == 0) {
      cv.notify_one();
    }
  }
  void Expect(int n) {
    std::lock_guard<std::mutex> lock(mu);
    missing = n;
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return missing <= 0; });
  }
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// A connection whose socket takes everything at once. Only the hub's delivery thread writes.
class InstantWriter final : public bbs::http::StreamWriter {
 public:
  explicit InstantWriter(Flight* flight) : flight_(flight) {}
  void Write(std::string bytes) override {
    if (bytes.rfind("0\r\n", 0) == 0) {
      return;  // the terminator at the end of the run
    }
    latencies_ns.push_back(NowNs() - flight_->published_ns.load(std::memory_order_acquire));
    flight_->Delivered();
  }
  void Close() override { closed_ = true; }
  bool closed() const override { return closed_; }

  std::vector<int64_t> latencies_ns;

 private:
  Flight* flight_;
  std::atomic<bool> closed_{false};
};

bbs::domain::Event InstanceChanged() {
  auto payload = std::make_shared<models::ActualLRPInstanceChangedEvent>();
  payload->mutable_actual_lrp_key()->set_process_guid("3f8a2b6c-0d1e-4f5a-9b8c-7d6e5f4a3b2c");
  payload->mutable_actual_lrp_key()->set_domain("cf-apps");
  payload->mutable_actual_lrp_instance_key()->set_instance_guid("a1b2c3d4-e5f6-4a5b-8c7d");
  payload->mutable_actual_lrp_instance_key()->set_cell_id("cell-17");
  payload->mutable_before()->set_state("CLAIMED");
  payload->mutable_after()->set_state("RUNNING");
  payload->mutable_after()->mutable_actual_lrp_net_info()->set_address("10.0.16.17");
  auto* port = payload->mutable_after()->mutable_actual_lrp_net_info()->add_ports();
  port->set_container_port(8080);
  port->set_host_port(61001);
  payload->mutable_after()->mutable_modification_tag()->set_epoch("epoch");
  payload->mutable_after()->mutable_modification_tag()->set_index(2);
  return bbs::domain::Event{bbs::domain::EventFamily::kActualLrpInstance,
                            "actual_lrp_instance_changed",
                            std::move(payload),
                            {"cell-17"}};
}

void BM_PublishToDelivery(benchmark::State& state) {
  const int subscribers = static_cast<int>(state.range(0));
  Flight flight;
  bbs::events::Hub hub;
  std::vector<std::shared_ptr<bbs::http::Stream>> streams;
  std::vector<std::shared_ptr<InstantWriter>> writers;
  for (int i = 0; i < subscribers; ++i) {
    streams.push_back(hub.Subscribe(bbs::events::StreamKind::kLrpInstances, ""));
    writers.push_back(std::make_shared<InstantWriter>(&flight));
    streams.back()->Start(writers.back());
  }
  const std::vector<bbs::domain::Event> batch = {InstanceChanged()};
  for (auto _ : state) {
    flight.Expect(subscribers);
    flight.published_ns.store(NowNs(), std::memory_order_release);
    hub.Publish(batch);
    flight.Wait();
  }
  hub.Close();

  std::vector<int64_t> all;
  for (const auto& writer : writers) {
    all.insert(all.end(), writer->latencies_ns.begin(), writer->latencies_ns.end());
  }
  std::sort(all.begin(), all.end());
  auto percentile = [&](double p) {
    if (all.empty()) {
      return 0.0;
    }
    const size_t at =
        std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())));
    return static_cast<double>(all[at]) / 1000.0;
  };
  state.counters["p50_us"] = percentile(0.50);
  state.counters["p99_us"] = percentile(0.99);
  state.counters["max_us"] = all.empty() ? 0.0 : static_cast<double>(all.back()) / 1000.0;
  state.counters["deliveries/s"] =
      benchmark::Counter(static_cast<double>(all.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PublishToDelivery)->Arg(1)->Arg(1000)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
