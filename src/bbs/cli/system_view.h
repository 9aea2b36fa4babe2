#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "bbs/models/models.h"

namespace bbs::cli {

// What `bbsctl top` shows and `bbsctl summary` prints: a picture of the system built from one
// listing of desired LRPs, actual LRPs, tasks and cells, then kept current by applying the
// events of the LRP-instance and task streams. Pure (no I/O, no clock); not thread-safe.
class SystemView {
 public:
  // Replaces everything with a fresh listing.
  void Reset(const std::vector<models::DesiredLRP>& desired,
             const std::vector<models::ActualLRP>& actual, const std::vector<models::Task>& tasks,
             const std::vector<models::CellPresence>& cells);
  void SetCells(const std::vector<models::CellPresence>& cells);
  // Applies one decoded event (api.md §4.5) by its name; unknown names are ignored.
  void Apply(const std::string& name, const google::protobuf::Message& event);

  struct Usage {
    int64_t capacity = 0;
    int64_t used = 0;
    int64_t Free() const { return capacity - used; }
  };
  struct CellRow {
    std::string cell_id;
    std::string zone;
    int instances = 0;  // ordinary and evacuating rows placed on the cell
    int running = 0;
    int crashed = 0;
    Usage memory_mb;
    Usage disk_mb;
    Usage containers;
    bool registered = true;  // false: rows name the cell but it has no presence
  };
  struct CrashingRow {
    std::string process_guid;
    int32_t index = 0;
    std::string state;
    int32_t crash_count = 0;
    std::string crash_reason;
    std::string cell_id;
  };
  struct Counts {
    int desired_lrps = 0;
    int64_t desired_instances = 0;
    std::map<std::string, int> actual_by_state;  // UNCLAIMED, CLAIMED, RUNNING, CRASHED
    int evacuating = 0;
    int suspect = 0;
    std::map<std::string, int> tasks_by_state;  // Pending, Running, Completed, Resolving
    int64_t events = 0;                         // events applied since the last reset
    int64_t crash_events = 0;
  };

  std::vector<CellRow> Cells() const;  // ordered by cell id
  // LRP instances that crashed at least once or are CRASHED, most crashes first.
  std::vector<CrashingRow> Crashing() const;
  Counts counts() const;

 private:
  struct Desired {
    int32_t instances = 0;
    int32_t memory_mb = 0;
    int32_t disk_mb = 0;
  };
  // process guid, index, presence, instance guid: while an instance is replaced (a crash that
  // restarts it) the old and the new row exist side by side until the old one's removal.
  using ActualKey = std::tuple<std::string, int32_t, int, std::string>;

  void PutActual(const models::ActualLRP& lrp);
  void RemoveActual(const models::ActualLRP& lrp);

  std::map<std::string, Desired> desired_;
  std::map<ActualKey, models::ActualLRP> actual_;
  std::map<std::string, std::string> tasks_;  // guid -> state name
  std::map<std::string, models::CellPresence> cells_;
  int64_t events_ = 0;
  int64_t crash_events_ = 0;
};

// Rows from the BBS metrics endpoint (Prometheus text), or why there are none.
struct MetricsRows {
  bool available = false;
  std::string error;  // when !available
  // Convergence and request figures; a missing metric is absent.
  std::map<std::string, double> values;
};

// Picks the figures `top` shows out of a Prometheus text exposition. Names are matched leniently
// (upstream's `ConvergenceLRPRuns` or a Prometheus-style `bbs_convergence_lrp_runs_total`).
// `previous` (the last scrape, `seconds` before) turns request counts into a rate.
MetricsRows ParseMetrics(const std::string& text, const MetricsRows* previous, double seconds);

// `summary`'s JSON document (one line).
std::string SummaryJson(const SystemView& view, const MetricsRows& metrics);

// How `top` draws its screen: pure, so tests check the text without a terminal.
struct ScreenOptions {
  int width = 100;
  int height = 40;
  std::string title;          // e.g. the BBS URL
  std::string sort = "cell";  // cell | instances | memory | disk
  bool reverse = false;
  std::string filter;  // substring filter on cell ids and process guids
  bool editing_filter = false;
  std::string status;  // bottom line (errors, reconnects)
};
std::vector<std::string> RenderScreen(const SystemView& view, const MetricsRows& metrics,
                                      const ScreenOptions& options);

}  // namespace bbs::cli
