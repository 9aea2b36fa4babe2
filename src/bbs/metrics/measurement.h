#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace bbs::metrics {

// One value for a push-based metrics backend such as Loggregator, in upstream's vocabulary
// (behavior.md §12.1): a gauge with a unit ("Metric" for counts, "nanos" for durations), or a
// counter carrying the delta since the previous emission.
struct Measurement {
  enum class Kind { kGauge, kCounter };

  Kind kind = Kind::kGauge;
  std::string name;
  double value = 0;                                       // kGauge
  uint64_t delta = 0;                                     // kCounter
  std::string unit;                                       // kGauge: "Metric", "nanos", "bytes"
  std::vector<std::pair<std::string, std::string>> tags;  // extra envelope tags ("cell-id")

  static Measurement Gauge(std::string name, double value, std::string unit = "Metric") {
    Measurement m;
    m.name = std::move(name);
    m.value = value;
    m.unit = std::move(unit);
    return m;
  }
  static Measurement Duration(std::string name, int64_t nanos) {
    return Gauge(std::move(name), static_cast<double>(nanos), "nanos");
  }
  static Measurement Counter(std::string name, uint64_t delta) {
    Measurement m;
    m.kind = Kind::kCounter;
    m.name = std::move(name);
    m.delta = delta;
    return m;
  }
};

// Where the periodic reporters send their measurements. Emit() must not block: it is called
// from the reporter thread and, for one-shot metrics (BBSMasterElected, MigrationDuration),
// from whichever thread records them. Implementations are thread-safe.
class MetricSink {
 public:
  virtual ~MetricSink() = default;
  virtual void Emit(std::vector<Measurement> measurements) = 0;
};

}  // namespace bbs::metrics
