#include "crash_consistency.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "bbs/http/test_client.h"
#include "bbs/testing/bbs_process.h"
#include "reliability_util.h"

namespace bbs::reliability {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kDesireInstances = 2;
constexpr char kDomain[] = "cf-apps";
constexpr char kCell[] = "cell-1";

// What one (process guid, index) must look like after a sequence of lifecycle writes.
struct InstanceState {
  std::string state = "UNCLAIMED";
  std::string instance_guid;
  int32_t crash_count = 0;
};

enum class OpKind { kClaim, kStart, kCrash };

InstanceState Apply(InstanceState s, OpKind op, const std::string& instance_guid) {
  switch (op) {
    case OpKind::kClaim:
      s.state = "CLAIMED";
      s.instance_guid = instance_guid;
      break;
    case OpKind::kStart:
      s.state = "RUNNING";
      s.instance_guid = instance_guid;
      break;
    case OpKind::kCrash:
      // Restart policy (behavior.md): the first two crashes restart at once, the third waits.
      ++s.crash_count;
      s.state = s.crash_count < 3 ? "UNCLAIMED" : "CRASHED";
      s.instance_guid.clear();
      break;
  }
  return s;
}

std::string Describe(const InstanceState& s) {
  return s.state + "/" + s.instance_guid + "/crashes=" + std::to_string(s.crash_count);
}

bool Matches(const InstanceState& expected, const models::ActualLRP& actual) {
  if (actual.state() != expected.state || actual.crash_count() != expected.crash_count) {
    return false;
  }
  if (expected.state == "CLAIMED" || expected.state == "RUNNING") {
    return actual.actual_lrp_instance_key().instance_guid() == expected.instance_guid;
  }
  return true;
}

// The writers' shared log.
struct Log {
  std::mutex mu;
  std::condition_variable first_acknowledged;
  int acknowledged = 0;
  // Counts one acknowledged write. REQUIRES: mu held.
  void Acknowledged() {
    if (acknowledged++ == 0) first_acknowledged.notify_all();
  }
  int in_flight = 0;
  std::set<std::string> desired_acked, desired_in_flight;
  std::set<std::string> tasks_acked, tasks_in_flight;      // desired tasks
  std::set<std::string> started_acked, started_in_flight;  // started tasks
  // Per lifecycle LRP: the state after its acknowledged ops and after the in-flight op too.
  std::map<std::string, std::map<int32_t, InstanceState>> instances_acked;
  std::map<std::string, std::map<int32_t, InstanceState>> instances_if_in_flight_landed;
};

using Ack = std::optional<bool>;  // nullopt: no answer (bbs died); else whether it succeeded

template <typename Response>
Ack Send(http::TestClient& client, const char* path, const google::protobuf::Message& request) {
  Response response;
  if (!Call(client, path, request, &response).ok()) return std::nullopt;
  return !response.has_error();
}

void DesireWriter(uint16_t port, int w, const std::atomic<bool>& stop, Log* log) {
  http::TestClient client(port, 5s);
  for (int i = 0; !stop; ++i) {
    std::string guid = "desired-" + std::to_string(w) + "-" + std::to_string(i);
    models::DesireLRPRequest request;
    *request.mutable_desired_lrp() = NewLrp(guid, kDesireInstances);
    Ack ack =
        Send<models::DesiredLRPLifecycleResponse>(client, "/v1/desired_lrp/desire.r2", request);
    std::lock_guard lock(log->mu);
    if (!ack) {
      log->desired_in_flight.insert(guid);
      ++log->in_flight;
      return;
    }
    if (*ack) {
      log->desired_acked.insert(guid);
      log->Acknowledged();
    }
  }
}

void LifecycleWriter(uint16_t port, int w, const std::atomic<bool>& stop, Log* log) {
  http::TestClient client(port, 5s);
  const std::string guid = "lifecycle-" + std::to_string(w);
  constexpr int32_t kInstances = 50;
  models::DesireLRPRequest desire;
  *desire.mutable_desired_lrp() = NewLrp(guid, kInstances);
  Ack desired =
      Send<models::DesiredLRPLifecycleResponse>(client, "/v1/desired_lrp/desire.r2", desire);
  {
    std::lock_guard lock(log->mu);
    if (!desired) {
      log->desired_in_flight.insert(guid);
      ++log->in_flight;
      return;
    }
    if (!*desired) return;
    log->desired_acked.insert(guid);
    log->Acknowledged();
  }
  // Per index: claim, start, crash, claim, start, crash, claim, start.
  const OpKind kCycle[] = {OpKind::kClaim, OpKind::kStart, OpKind::kCrash, OpKind::kClaim,
                           OpKind::kStart, OpKind::kCrash, OpKind::kClaim, OpKind::kStart};
  for (int32_t index = 0; index < kInstances && !stop; ++index) {
    InstanceState state;
    for (size_t step = 0; step < std::size(kCycle) && !stop; ++step) {
      OpKind op = kCycle[step];
      std::string ig = "ig-" + std::to_string(index) + "-" + std::to_string(step / 3);
      models::ActualLRPKey key;
      key.set_process_guid(guid);
      key.set_index(index);
      key.set_domain(kDomain);
      models::ActualLRPInstanceKey instance_key;
      instance_key.set_instance_guid(ig);
      instance_key.set_cell_id(kCell);
      Ack ack;
      if (op == OpKind::kClaim) {
        models::ClaimActualLRPRequest r;
        r.set_process_guid(guid);
        r.set_index(index);
        *r.mutable_actual_lrp_instance_key() = instance_key;
        ack = Send<models::ActualLRPLifecycleResponse>(client, "/v1/actual_lrps/claim", r);
      } else if (op == OpKind::kStart) {
        models::StartActualLRPRequest r;
        *r.mutable_actual_lrp_key() = key;
        *r.mutable_actual_lrp_instance_key() = instance_key;
        r.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
        ack = Send<models::ActualLRPLifecycleResponse>(client, "/v1/actual_lrps/start.r1", r);
      } else {
        models::CrashActualLRPRequest r;
        *r.mutable_actual_lrp_key() = key;
        *r.mutable_actual_lrp_instance_key() = instance_key;
        r.set_error_message("crashed on purpose");
        ack = Send<models::ActualLRPLifecycleResponse>(client, "/v1/actual_lrps/crash", r);
      }
      InstanceState next = Apply(state, op, ig);
      std::lock_guard lock(log->mu);
      if (!ack) {
        log->instances_acked[guid][index] = state;
        log->instances_if_in_flight_landed[guid][index] = next;
        ++log->in_flight;
        return;
      }
      if (!*ack) {
        // A refused transition is a bug in this harness's model, not a durability problem;
        // record it so that the trial fails loudly.
        log->instances_acked[guid][index] = state;
        log->instances_if_in_flight_landed[guid][index] = InstanceState{"REFUSED", "", -1};
        return;
      }
      log->Acknowledged();
      state = next;
      log->instances_acked[guid][index] = state;
      log->instances_if_in_flight_landed[guid][index] = state;
    }
  }
}

void TaskWriter(uint16_t port, int w, const std::atomic<bool>& stop, Log* log) {
  http::TestClient client(port, 5s);
  for (int i = 0; !stop; ++i) {
    std::string guid = "task-" + std::to_string(w) + "-" + std::to_string(i);
    models::DesireTaskRequest desire;
    desire.set_task_guid(guid);
    desire.set_domain(kDomain);
    auto* def = desire.mutable_task_definition();
    def->set_root_fs("docker:///busybox");
    def->mutable_action()->mutable_run_action()->set_path("true");
    def->mutable_action()->mutable_run_action()->set_user("root");
    Ack ack = Send<models::TaskLifecycleResponse>(client, "/v1/tasks/desire.r2", desire);
    {
      std::lock_guard lock(log->mu);
      if (!ack) {
        log->tasks_in_flight.insert(guid);
        ++log->in_flight;
        return;
      }
      if (!*ack) continue;
      log->tasks_acked.insert(guid);
      log->Acknowledged();
    }
    models::StartTaskRequest start;
    start.set_task_guid(guid);
    start.set_cell_id(kCell);
    Ack started = Send<models::StartTaskResponse>(client, "/v1/tasks/start", start);
    std::lock_guard lock(log->mu);
    if (!started) {
      log->started_in_flight.insert(guid);
      ++log->in_flight;
      return;
    }
    if (*started) {
      log->started_acked.insert(guid);
      log->Acknowledged();
    }
  }
}

void Verify(uint16_t port, const Log& log, std::vector<std::string>* problems) {
  http::TestClient client(port, 30s);
  auto problem = [&](std::string p) {
    if (problems->size() < 50) problems->push_back(std::move(p));
  };
  models::DesiredLRPsRequest all;
  models::DesiredLRPsResponse desired;
  models::DesiredLRPSchedulingInfosResponse infos;
  models::ActualLRPsResponse actuals;
  models::TasksResponse tasks;
  if (!Call(client, "/v1/desired_lrps/list.r3", all, &desired).ok() ||
      !Call(client, "/v1/desired_lrp_scheduling_infos/list", all, &infos).ok() ||
      !Call(client, "/v1/actual_lrps/list", models::ActualLRPsRequest(), &actuals).ok() ||
      !Call(client, "/v1/tasks/list.r2", models::TasksRequest(), &tasks).ok()) {
    problem("the restarted bbs did not answer the list requests");
    return;
  }
  std::map<std::string, int32_t> desired_instances;
  for (const auto& d : desired.desired_lrps()) desired_instances[d.process_guid()] = d.instances();
  std::set<std::string> scheduled;
  for (const auto& i : infos.desired_lrp_scheduling_infos()) {
    scheduled.insert(i.desired_lrp_key().process_guid());
  }
  // Both halves of every desired LRP, or neither.
  for (const auto& [guid, n] : desired_instances) {
    if (!scheduled.count(guid)) problem("desired LRP " + guid + " without its scheduling info");
    if (!log.desired_acked.count(guid) && !log.desired_in_flight.count(guid)) {
      problem("desired LRP " + guid + " that nobody desired");
    }
  }
  for (const auto& guid : scheduled) {
    if (!desired_instances.count(guid)) problem("scheduling info " + guid + " without its LRP");
  }
  for (const auto& guid : log.desired_acked) {
    if (!desired_instances.count(guid)) problem("acknowledged desire of " + guid + " lost");
  }
  // Actual LRPs: none of an unknown desired LRP; a desire's instances came with it.
  std::map<std::string, std::map<int32_t, const models::ActualLRP*>> by_key;
  for (const auto& a : actuals.actual_lrps()) {
    const auto& key = a.actual_lrp_key();
    if (!desired_instances.count(key.process_guid())) {
      problem("actual LRP " + key.process_guid() + "/" + std::to_string(key.index()) +
              " of an unknown desired LRP");
    }
    if (a.presence() == models::ActualLRP::ORDINARY) by_key[key.process_guid()][key.index()] = &a;
  }
  for (const auto& [guid, n] : desired_instances) {
    for (int32_t i = 0; i < n; ++i) {
      if (!by_key[guid].count(i)) {
        problem("desired LRP " + guid + " without its instance " + std::to_string(i));
      }
    }
  }
  // Lifecycle writes: each instance shows its last acknowledged state, or the in-flight one's.
  for (const auto& [guid, indices] : log.instances_acked) {
    for (const auto& [index, acked] : indices) {
      const auto& landed = log.instances_if_in_flight_landed.at(guid).at(index);
      auto it = by_key[guid].find(index);
      if (it == by_key[guid].end()) {
        problem("instance " + guid + "/" + std::to_string(index) + " lost");
        continue;
      }
      if (!Matches(acked, *it->second) && !Matches(landed, *it->second)) {
        problem("instance " + guid + "/" + std::to_string(index) + " is " + it->second->state() +
                "/" + it->second->actual_lrp_instance_key().instance_guid() + "/crashes=" +
                std::to_string(it->second->crash_count()) + ", acknowledged " + Describe(acked) +
                (landed.state != acked.state || landed.crash_count != acked.crash_count
                     ? " (in flight: " + Describe(landed) + ")"
                     : ""));
      }
    }
  }
  // Tasks.
  std::map<std::string, models::Task::State> task_states;
  for (const auto& t : tasks.tasks()) task_states[t.task_guid()] = t.state();
  for (const auto& guid : log.tasks_acked) {
    auto it = task_states.find(guid);
    if (it == task_states.end()) {
      problem("acknowledged task " + guid + " lost");
    } else if (log.started_acked.count(guid) && it->second != models::Task::Running) {
      problem("acknowledged start of task " + guid + " lost");
    }
  }
  for (const auto& [guid, state] : task_states) {
    if (!log.tasks_acked.count(guid) && !log.tasks_in_flight.count(guid)) {
      problem("task " + guid + " that nobody desired");
    }
  }
}

}  // namespace

CrashTrialResult RunCrashTrial(const CrashTrialOptions& options) {
  CrashTrialResult result;
  std::mt19937 rng(options.seed);
  result.kill_after_ms =
      std::uniform_int_distribution<int>(options.kill_after_min_ms, options.kill_after_max_ms)(rng);
  Log log;
  {
    testing::BbsProcess bbs(options.binary, options.data_dir, options.backend_args);
    if (!bbs.Start()) {
      result.problems.push_back("bbs did not start: " + bbs.error());
      return result;
    }
    auto port = static_cast<uint16_t>(bbs.port());
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < options.desire_writers; ++w) {
      writers.emplace_back(DesireWriter, port, w, std::cref(stop), &log);
    }
    for (int w = 0; w < options.lifecycle_writers; ++w) {
      writers.emplace_back(LifecycleWriter, port, w, std::cref(stop), &log);
    }
    for (int w = 0; w < options.task_writers; ++w) {
      writers.emplace_back(TaskWriter, port, w, std::cref(stop), &log);
    }
    // The kill delay counts from the first acknowledged write, so that a trial on a loaded
    // machine (bbs slow to serve its first requests) still kills it amid acknowledged writes.
    {
      std::unique_lock<std::mutex> lock(log.mu);
      log.first_acknowledged.wait_for(lock, std::chrono::seconds(30),
                                      [&] { return log.acknowledged > 0; });
    }
    // The kill moment is the point of the test: a sleep here is the random delay, not a wait
    // for something to happen.
    std::this_thread::sleep_for(std::chrono::milliseconds(result.kill_after_ms));
    bbs.Kill();
    stop = true;
    for (auto& t : writers) t.join();
  }
  result.acknowledged = log.acknowledged;
  result.in_flight = log.in_flight;
  testing::BbsProcess restarted(
      options.binary,
      options.restart_data_dir.empty() ? options.data_dir : options.restart_data_dir,
      options.backend_args);
  if (!restarted.Start()) {
    result.problems.push_back("bbs did not restart: " + restarted.error());
    return result;
  }
  result.ran = true;
  Verify(static_cast<uint16_t>(restarted.port()), log, &result.problems);
  restarted.Stop();
  return result;
}

}  // namespace bbs::reliability
