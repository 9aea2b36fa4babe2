#include "bbs/cli/system_view.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <sstream>

#include "bbs/base/go_json.h"

namespace bbs::cli {
namespace {

void ApplyInfo(const models::ActualLRPInfo& info, models::ActualLRP* lrp) {
  *lrp->mutable_actual_lrp_net_info() = info.actual_lrp_net_info();
  lrp->set_crash_count(info.crash_count());
  lrp->set_crash_reason(info.crash_reason());
  lrp->set_state(info.state());
  lrp->set_placement_error(info.placement_error());
  lrp->set_since(info.since());
  *lrp->mutable_modification_tag() = info.modification_tag();
  lrp->set_presence(info.presence());
}

bool Contains(const std::string& text, const std::string& needle) {
  return needle.empty() || text.find(needle) != std::string::npos;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() > width) {
    s.resize(width > 1 ? width - 1 : width);
    if (width > 1) s += '~';
  }
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string Num(int64_t v) { return std::to_string(v); }

// The states counted, in the order the summary and the screen show them.
constexpr std::array<const char*, 4> kLrpStates = {"UNCLAIMED", "CLAIMED", "RUNNING", "CRASHED"};
constexpr std::array<const char*, 4> kTaskStates = {"Pending", "Running", "Completed", "Resolving"};

// `"STATE":count` for each of `states`, comma-separated (a state never counted is 0).
std::string StateCountsJson(const std::array<const char*, 4>& states,
                            const std::map<std::string, int>& counts) {
  std::string out;
  for (const char* s : states) {
    if (!out.empty()) out += ',';
    auto it = counts.find(s);
    out += std::string("\"") + s + "\":" + Num(it == counts.end() ? 0 : it->second);
  }
  return out;
}

std::string Normalize(std::string name) {
  std::string out;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (out.rfind("bbs", 0) == 0) out.erase(0, 3);
  const std::string total = "total";
  if (out.size() > total.size() &&
      out.compare(out.size() - total.size(), total.size(), total) == 0) {
    out.erase(out.size() - total.size());
  }
  return out;
}

// The figures top shows, by the key it uses, and the upstream metric each comes from.
struct MetricDef {
  const char* key;
  const char* upstream;
};
constexpr MetricDef kMetrics[] = {
    {"convergence_lrp_runs", "ConvergenceLRPRuns"},
    {"convergence_lrp_duration_ns", "ConvergenceLRPDuration"},
    {"convergence_task_runs", "ConvergenceTaskRuns"},
    {"convergence_task_duration_ns", "ConvergenceTaskDuration"},
    {"request_count", "RequestCount"},
    {"request_latency_max_ns", "RequestLatency"},
    {"lrps_missing", "LRPsMissing"},
    {"lrps_extra", "LRPsExtra"},
};

std::string FormatDouble(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<int64_t>(v))) {
    std::snprintf(buf, sizeof(buf), "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof(buf), "%.3f", v);
  }
  return buf;
}

}  // namespace

void SystemView::Reset(const std::vector<models::DesiredLRP>& desired,
                       const std::vector<models::ActualLRP>& actual,
                       const std::vector<models::Task>& tasks,
                       const std::vector<models::CellPresence>& cells) {
  desired_.clear();
  actual_.clear();
  tasks_.clear();
  events_ = 0;
  crash_events_ = 0;
  for (const auto& d : desired) {
    desired_[d.process_guid()] = {d.instances(), d.memory_mb(), d.disk_mb()};
  }
  for (const auto& a : actual) PutActual(a);
  for (const auto& t : tasks) tasks_[t.task_guid()] = models::Task::State_Name(t.state());
  SetCells(cells);
}

void SystemView::SetCells(const std::vector<models::CellPresence>& cells) {
  cells_.clear();
  for (const auto& c : cells) cells_[c.cell_id()] = c;
}

void SystemView::PutActual(const models::ActualLRP& lrp) {
  actual_[{lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(), lrp.presence(),
           lrp.actual_lrp_instance_key().instance_guid()}] = lrp;
}

void SystemView::RemoveActual(const models::ActualLRP& lrp) {
  actual_.erase({lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(), lrp.presence(),
                 lrp.actual_lrp_instance_key().instance_guid()});
}

void SystemView::Apply(const std::string& name, const google::protobuf::Message& event) {
  ++events_;
  if (name == "desired_lrp_created") {
    const auto& d = static_cast<const models::DesiredLRPCreatedEvent&>(event).desired_lrp();
    desired_[d.process_guid()] = {d.instances(), d.memory_mb(), d.disk_mb()};
  } else if (name == "desired_lrp_changed") {
    const auto& d = static_cast<const models::DesiredLRPChangedEvent&>(event).after();
    desired_[d.process_guid()] = {d.instances(), d.memory_mb(), d.disk_mb()};
  } else if (name == "desired_lrp_removed") {
    desired_.erase(
        static_cast<const models::DesiredLRPRemovedEvent&>(event).desired_lrp().process_guid());
  } else if (name == "actual_lrp_instance_created") {
    PutActual(static_cast<const models::ActualLRPInstanceCreatedEvent&>(event).actual_lrp());
  } else if (name == "actual_lrp_instance_removed") {
    RemoveActual(static_cast<const models::ActualLRPInstanceRemovedEvent&>(event).actual_lrp());
  } else if (name == "actual_lrp_instance_changed") {
    const auto& e = static_cast<const models::ActualLRPInstanceChangedEvent&>(event);
    // The row changed is the one with the event's instance guid, or (a claim) the one without.
    const std::string& guid = e.actual_lrp_key().process_guid();
    int32_t index = e.actual_lrp_key().index();
    int presence = e.before().presence();
    auto it = actual_.find({guid, index, presence, e.actual_lrp_instance_key().instance_guid()});
    if (it == actual_.end()) it = actual_.find({guid, index, presence, ""});
    models::ActualLRP lrp;
    if (it != actual_.end()) {
      lrp = it->second;
      actual_.erase(it);
    }
    *lrp.mutable_actual_lrp_key() = e.actual_lrp_key();
    *lrp.mutable_actual_lrp_instance_key() = e.actual_lrp_instance_key();
    ApplyInfo(e.after(), &lrp);
    PutActual(lrp);
  } else if (name == "actual_lrp_crashed") {
    ++crash_events_;
  } else if (name == "task_created") {
    const auto& t = static_cast<const models::TaskCreatedEvent&>(event).task();
    tasks_[t.task_guid()] = models::Task::State_Name(t.state());
  } else if (name == "task_changed") {
    const auto& t = static_cast<const models::TaskChangedEvent&>(event).after();
    tasks_[t.task_guid()] = models::Task::State_Name(t.state());
  } else if (name == "task_removed") {
    tasks_.erase(static_cast<const models::TaskRemovedEvent&>(event).task().task_guid());
  }
}

std::vector<SystemView::CellRow> SystemView::Cells() const {
  std::map<std::string, CellRow> rows;
  for (const auto& [id, c] : cells_) {
    CellRow& row = rows[id];
    row.cell_id = id;
    row.zone = c.zone();
    row.memory_mb.capacity = c.capacity().memory_mb();
    row.disk_mb.capacity = c.capacity().disk_mb();
    row.containers.capacity = c.capacity().containers();
  }
  for (const auto& [key, lrp] : actual_) {
    const std::string& cell = lrp.actual_lrp_instance_key().cell_id();
    if (cell.empty()) continue;
    auto [it, inserted] = rows.try_emplace(cell);
    CellRow& row = it->second;
    if (inserted) {
      row.cell_id = cell;
      row.registered = false;
    }
    ++row.instances;
    if (lrp.state() == "RUNNING") ++row.running;
    if (lrp.state() == "CRASHED") ++row.crashed;
    auto d = desired_.find(lrp.actual_lrp_key().process_guid());
    if (d != desired_.end()) {
      row.memory_mb.used += d->second.memory_mb;
      row.disk_mb.used += d->second.disk_mb;
    }
    row.containers.used += 1;
  }
  std::vector<CellRow> out;
  for (auto& [id, row] : rows) out.push_back(std::move(row));
  return out;
}

std::vector<SystemView::CrashingRow> SystemView::Crashing() const {
  std::vector<CrashingRow> out;
  for (const auto& [key, lrp] : actual_) {
    if (lrp.crash_count() == 0 && lrp.state() != "CRASHED") continue;
    out.push_back({lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(), lrp.state(),
                   lrp.crash_count(), lrp.crash_reason(), lrp.actual_lrp_instance_key().cell_id()});
  }
  std::stable_sort(out.begin(), out.end(), [](const CrashingRow& a, const CrashingRow& b) {
    return a.crash_count > b.crash_count;
  });
  return out;
}

SystemView::Counts SystemView::counts() const {
  Counts c;
  for (const char* s : kLrpStates) c.actual_by_state[s] = 0;
  for (const char* s : kTaskStates) c.tasks_by_state[s] = 0;
  c.desired_lrps = static_cast<int>(desired_.size());
  for (const auto& [guid, d] : desired_) c.desired_instances += d.instances;
  for (const auto& [key, lrp] : actual_) {
    if (lrp.presence() == models::ActualLRP::EVACUATING) {
      ++c.evacuating;
      continue;
    }
    if (lrp.presence() == models::ActualLRP::SUSPECT) ++c.suspect;
    ++c.actual_by_state[lrp.state()];
  }
  for (const auto& [guid, state] : tasks_) ++c.tasks_by_state[state];
  c.events = events_;
  c.crash_events = crash_events_;
  return c;
}

MetricsRows ParseMetrics(const std::string& text, const MetricsRows* previous, double seconds) {
  MetricsRows rows;
  rows.available = true;
  std::istringstream in(text);
  std::string line;
  std::map<std::string, double> by_name;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos) continue;
    std::string name = line.substr(0, name_end);
    size_t value_start =
        line.find(' ', line[name_end] == '{' ? line.find('}', name_end) : name_end);
    if (value_start == std::string::npos) continue;
    double value = std::strtod(line.c_str() + value_start + 1, nullptr);
    // Labelled series (per route) add up to the metric's total.
    by_name[Normalize(name)] += value;
  }
  for (const auto& def : kMetrics) {
    auto it = by_name.find(Normalize(def.upstream));
    if (it != by_name.end()) rows.values[def.key] = it->second;
  }
  auto count = rows.values.find("request_count");
  if (previous != nullptr && previous->available && count != rows.values.end() && seconds > 0) {
    auto before = previous->values.find("request_count");
    if (before != previous->values.end() && count->second >= before->second) {
      rows.values["request_rate_per_s"] = (count->second - before->second) / seconds;
    }
  }
  return rows;
}

std::string SummaryJson(const SystemView& view, const MetricsRows& metrics) {
  std::string out = "{\"cells\":[";
  bool first = true;
  for (const auto& c : view.Cells()) {
    if (!first) out += ',';
    first = false;
    out += "{\"cell_id\":";
    AppendGoJsonString(out, c.cell_id);
    out += ",\"zone\":";
    AppendGoJsonString(out, c.zone);
    out += ",\"registered\":" + std::string(c.registered ? "true" : "false");
    out += ",\"instances\":" + Num(c.instances) + ",\"running\":" + Num(c.running) +
           ",\"crashed\":" + Num(c.crashed);
    auto usage = [&](const char* name, const SystemView::Usage& u) {
      out += std::string(",\"") + name + "\":{\"capacity\":" + Num(u.capacity) +
             ",\"used\":" + Num(u.used) + ",\"free\":" + Num(u.Free()) + "}";
    };
    usage("memory_mb", c.memory_mb);
    usage("disk_mb", c.disk_mb);
    usage("containers", c.containers);
    out += '}';
  }
  SystemView::Counts counts = view.counts();
  out += "],\"desired_lrps\":{\"count\":" + Num(counts.desired_lrps) +
         ",\"instances\":" + Num(counts.desired_instances) + "}";
  out += ",\"actual_lrps\":{" + StateCountsJson(kLrpStates, counts.actual_by_state);
  out += ",\"evacuating\":" + Num(counts.evacuating) + ",\"suspect\":" + Num(counts.suspect) + "}";
  out += ",\"crashing_lrps\":[";
  first = true;
  for (const auto& r : view.Crashing()) {
    if (!first) out += ',';
    first = false;
    out += "{\"process_guid\":";
    AppendGoJsonString(out, r.process_guid);
    out += ",\"index\":" + Num(r.index) + ",\"state\":";
    AppendGoJsonString(out, r.state);
    out += ",\"crash_count\":" + Num(r.crash_count) + ",\"crash_reason\":";
    AppendGoJsonString(out, r.crash_reason);
    out += ",\"cell_id\":";
    AppendGoJsonString(out, r.cell_id);
    out += '}';
  }
  out += "],\"tasks\":{" + StateCountsJson(kTaskStates, counts.tasks_by_state);
  out += "},\"metrics\":{\"available\":" + std::string(metrics.available ? "true" : "false");
  if (!metrics.available) {
    out += ",\"error\":";
    AppendGoJsonString(out, metrics.error);
  }
  for (const auto& [key, value] : metrics.values) {
    out += ",\"" + key + "\":" + FormatDouble(value);
  }
  out += "}}";
  return out;
}

std::vector<std::string> RenderScreen(const SystemView& view, const MetricsRows& metrics,
                                      const ScreenOptions& o) {
  std::vector<std::string> lines;
  auto counts = view.counts();
  lines.push_back("bbsctl top - " + o.title + "   events " + Num(counts.events) +
                  "   [s]ort:" + o.sort + (o.reverse ? " (reversed)" : "") + "  [/]filter:\"" +
                  o.filter + "\"" + "  [q]uit");
  lines.push_back("");

  auto cells = view.Cells();
  cells.erase(std::remove_if(cells.begin(), cells.end(),
                             [&](const SystemView::CellRow& c) {
                               return !Contains(c.cell_id, o.filter) && !Contains(c.zone, o.filter);
                             }),
              cells.end());
  auto key = [&](const SystemView::CellRow& c) -> int64_t {
    if (o.sort == "instances") return c.instances;
    if (o.sort == "memory") return c.memory_mb.Free();
    if (o.sort == "disk") return c.disk_mb.Free();
    return 0;
  };
  std::stable_sort(cells.begin(), cells.end(), [&](const auto& a, const auto& b) {
    if (o.sort == "cell") return o.reverse ? a.cell_id > b.cell_id : a.cell_id < b.cell_id;
    return o.reverse ? key(a) < key(b) : key(a) > key(b);
  });
  lines.push_back("CELLS (" + Num(static_cast<int64_t>(cells.size())) + ")");
  lines.push_back(Pad("CELL", 24) + Pad("ZONE", 8) + Pad("INSTANCES", 10) + Pad("RUNNING", 8) +
                  Pad("CRASHED", 8) + Pad("MEM FREE/TOTAL", 18) + Pad("DISK FREE/TOTAL", 18) +
                  "CONTAINERS FREE");
  for (const auto& c : cells) {
    lines.push_back(Pad(c.cell_id + (c.registered ? "" : " (gone)"), 24) + Pad(c.zone, 8) +
                    Pad(Num(c.instances), 10) + Pad(Num(c.running), 8) + Pad(Num(c.crashed), 8) +
                    Pad(Num(c.memory_mb.Free()) + "/" + Num(c.memory_mb.capacity), 18) +
                    Pad(Num(c.disk_mb.Free()) + "/" + Num(c.disk_mb.capacity), 18) +
                    Num(c.containers.Free()) + "/" + Num(c.containers.capacity));
  }
  lines.push_back("");
  std::string lrps = "LRPS  desired " + Num(counts.desired_lrps) + " (" +
                     Num(counts.desired_instances) + " instances)  ";
  for (const auto& [state, n] : counts.actual_by_state) lrps += "  " + state + " " + Num(n);
  lrps += "  evacuating " + Num(counts.evacuating) + "  suspect " + Num(counts.suspect);
  lines.push_back(lrps);
  lines.push_back("");
  auto crashing = view.Crashing();
  crashing.erase(std::remove_if(crashing.begin(), crashing.end(),
                                [&](const SystemView::CrashingRow& r) {
                                  return !Contains(r.process_guid, o.filter) &&
                                         !Contains(r.cell_id, o.filter);
                                }),
                 crashing.end());
  lines.push_back("CRASHING LRPS (" + Num(static_cast<int64_t>(crashing.size())) +
                  ", crash events " + Num(counts.crash_events) + ")");
  lines.push_back(Pad("PROCESS GUID", 38) + Pad("INDEX", 6) + Pad("STATE", 10) + Pad("CRASHES", 8) +
                  "REASON");
  size_t room =
      o.height > 0
          ? static_cast<size_t>(std::max(3, o.height - 12 - static_cast<int>(lines.size())))
          : crashing.size();
  for (size_t i = 0; i < crashing.size() && i < room; ++i) {
    const auto& r = crashing[i];
    lines.push_back(Pad(r.process_guid, 38) + Pad(Num(r.index), 6) + Pad(r.state, 10) +
                    Pad(Num(r.crash_count), 8) + r.crash_reason);
  }
  lines.push_back("");
  std::string tasks = "TASKS";
  for (const char* s : kTaskStates) {
    tasks += std::string("  ") + s + " " + Num(counts.tasks_by_state[s]);
  }
  lines.push_back(tasks);
  lines.push_back("");
  if (!metrics.available) {
    lines.push_back("CONVERGENCE  unavailable (" + metrics.error + ")");
    lines.push_back("REQUESTS     unavailable (" + metrics.error + ")");
  } else {
    auto get = [&](const char* k) {
      auto it = metrics.values.find(k);
      return it == metrics.values.end() ? std::string("-") : FormatDouble(it->second);
    };
    lines.push_back("CONVERGENCE  lrp runs " + get("convergence_lrp_runs") + "  last lrp pass " +
                    get("convergence_lrp_duration_ns") + " ns  task runs " +
                    get("convergence_task_runs") + "  missing " + get("lrps_missing") + "  extra " +
                    get("lrps_extra"));
    lines.push_back("REQUESTS     total " + get("request_count") + "  rate " +
                    get("request_rate_per_s") + "/s  max latency " + get("request_latency_max_ns") +
                    " ns");
  }
  if (o.editing_filter) {
    lines.push_back("filter: " + o.filter + "_");
  } else if (!o.status.empty()) {
    lines.push_back(o.status);
  }
  for (auto& l : lines) {
    if (o.width > 0 && l.size() > static_cast<size_t>(o.width))
      l.resize(static_cast<size_t>(o.width));
  }
  if (o.height > 0 && lines.size() > static_cast<size_t>(o.height)) {
    lines.resize(static_cast<size_t>(o.height));
  }
  return lines;
}

}  // namespace bbs::cli
