#include "bbs/state/engine.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "bbs/clients/reps.h"
#include "bbs/domain/actual_lrp_factory.h"
#include "bbs/domain/desired_lrp_ops.h"
#include "bbs/domain/lrp_event_calc.h"
#include "bbs/domain/lrp_events.h"
#include "bbs/models/conversion.h"
#include "bbs/models/routes_json.h"

namespace bbs::state {
namespace {

bool HasPrefix(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool MatchesDesiredFilter(const records::DesiredLRPRecord& r, const DesiredLrpFilter& f) {
  const auto& key = r.scheduling_info().desired_lrp_key();
  if (!f.domain.empty() && key.domain() != f.domain) return false;
  if (!f.process_guids.empty() && std::find(f.process_guids.begin(), f.process_guids.end(),
                                            key.process_guid()) == f.process_guids.end()) {
    return false;
  }
  if (!f.app_guids.empty() &&
      std::none_of(f.app_guids.begin(), f.app_guids.end(),
                   [&](const std::string& app) { return HasPrefix(key.process_guid(), app); })) {
    return false;
  }
  return true;
}

bool MatchesActualFilter(const models::ActualLRP& lrp, const ActualLrpFilter& f) {
  if (!f.domain.empty() && lrp.actual_lrp_key().domain() != f.domain) return false;
  if (!f.cell_id.empty() && lrp.actual_lrp_instance_key().cell_id() != f.cell_id) return false;
  if (!f.process_guid.empty() && lrp.actual_lrp_key().process_guid() != f.process_guid) {
    return false;
  }
  if (f.index && lrp.actual_lrp_key().index() != *f.index) return false;
  return true;
}

size_t MutationCount(const Change& c) { return c.mutations.size(); }

}  // namespace

Engine::Engine(storage::Store* store, const Clock* clock, GuidGenerator* guids,
               events::Publisher* publisher, Logger logger, Options options)
    : store_(store),
      clock_(clock),
      guids_(guids),
      publisher_(publisher),
      logger_(std::move(logger)),
      options_(options) {}

Engine::~Engine() { Stop(); }

Status Engine::Load() {
  storage::Snapshot snapshot;
  Status s = store_->Load(&snapshot);
  if (!s.ok()) return s;
  std::unique_lock lock(state_mu_);
  for (auto& d : snapshot.domains) {
    storage::Mutation m = std::move(d);
    ApplyLocked(m);
  }
  for (auto& r : snapshot.desired_lrps) {
    storage::Mutation m = storage::PutDesiredLrp{std::move(r)};
    ApplyLocked(m);
  }
  for (auto& a : snapshot.actual_lrps) {
    storage::Mutation m = storage::PutActualLrp{std::move(a)};
    ApplyLocked(m);
  }
  for (auto& t : snapshot.tasks) {
    storage::Mutation m = storage::PutTask{std::move(t)};
    ApplyLocked(m);
  }
  logger_.Info("loaded", {{"domains", domains_.size()},
                          {"desired_lrps", desired_count_},
                          {"actual_lrps", actual_count_},
                          {"tasks", tasks_.size()}});
  return Status::Ok();
}

void Engine::Start() {
  std::lock_guard lock(queue_mu_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  committer_ = std::thread([this] { CommitLoop(); });
}

void Engine::Stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (!running_) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  std::lock_guard lock(queue_mu_);
  running_ = false;
}

std::unique_lock<std::mutex> Engine::LockProcess(const std::string& process_guid) {
  size_t h = std::hash<std::string>{}(process_guid);
  return std::unique_lock<std::mutex>(stripes_[h % stripes_.size()]);
}

// --- write path ---

Status Engine::Commit(Change change) {
  if (change.mutations.empty()) {
    if (!change.events.empty()) publisher_->Publish(change.events);
    return Status::Ok();
  }
  Pending pending{std::move(change), Status::Ok(), false};
  std::unique_lock lock(queue_mu_);
  if (!running_ || stopping_) return UnknownError("bbs is shutting down");
  queue_.push_back(&pending);
  queue_cv_.notify_one();
  done_cv_.wait(lock, [&] { return pending.done; });
  return pending.status;
}

void Engine::CommitLoop() {
  std::vector<Pending*> batch;
  std::vector<storage::Mutation> all;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      size_t n = 0;
      while (!queue_.empty() && (batch.empty() || n + MutationCount(queue_.front()->change) <=
                                                      options_.max_batch_mutations)) {
        n += MutationCount(queue_.front()->change);
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }

    // One transaction for the whole batch; if it fails, retry each change on its own so that
    // one bad change cannot fail its neighbours.
    std::vector<Status> results(batch.size());
    all.clear();
    for (Pending* p : batch) {
      all.insert(all.end(), p->change.mutations.begin(), p->change.mutations.end());
    }
    Status s = store_->Commit(all);
    if (!s.ok() && batch.size() > 1) {
      for (size_t i = 0; i < batch.size(); ++i) {
        results[i] = store_->Commit(batch[i]->change.mutations);
      }
    } else {
      std::fill(results.begin(), results.end(), s);
    }

    {
      std::unique_lock lock(state_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!results[i].ok()) continue;
        for (auto& m : batch[i]->change.mutations) ApplyLocked(m);
      }
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results[i].ok()) {
        if (!batch[i]->change.events.empty()) publisher_->Publish(batch[i]->change.events);
      } else {
        logger_.Error("commit-failed", results[i].ToString());
      }
    }
    {
      std::lock_guard lock(queue_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i]->status = results[i];
        batch[i]->done = true;
      }
    }
    done_cv_.notify_all();
  }
}

void Engine::IndexCellLocked(const models::ActualLRP& lrp, bool add) {
  const std::string& cell = lrp.actual_lrp_instance_key().cell_id();
  if (cell.empty()) return;
  ActualRef ref{lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(),
                static_cast<int>(lrp.presence())};
  if (add) {
    by_cell_[cell].insert(std::move(ref));
  } else {
    auto it = by_cell_.find(cell);
    if (it == by_cell_.end()) return;
    it->second.erase(ref);
    if (it->second.empty()) by_cell_.erase(it);
  }
}

void Engine::ApplyLocked(storage::Mutation& mutation) {
  std::visit(
      [this](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, storage::PutDomain>) {
          domains_[m.domain] = m.expire_time;
        } else if constexpr (std::is_same_v<T, storage::DeleteDomain>) {
          domains_.erase(m.domain);
        } else if constexpr (std::is_same_v<T, storage::PutDesiredLrp>) {
          auto& entry = processes_[m.record.scheduling_info().desired_lrp_key().process_guid()];
          if (!entry.desired) ++desired_count_;
          entry.desired = std::make_shared<const records::DesiredLRPRecord>(std::move(m.record));
        } else if constexpr (std::is_same_v<T, storage::DeleteDesiredLrp>) {
          auto it = processes_.find(m.process_guid);
          if (it == processes_.end() || !it->second.desired) return;
          it->second.desired.reset();
          --desired_count_;
          if (it->second.actuals.empty()) processes_.erase(it);
        } else if constexpr (std::is_same_v<T, storage::PutActualLrp>) {
          models::ActualLRP lrp = std::move(m.lrp);
          domain::NormalizeActualLrp(&lrp);
          int presence = static_cast<int>(lrp.presence());
          if (presence < 0 || presence > 2) return;
          auto& slots =
              processes_[lrp.actual_lrp_key().process_guid()].actuals[lrp.actual_lrp_key().index()];
          auto& slot = slots.by_presence[presence];
          if (slot) {
            IndexCellLocked(*slot, false);
          } else {
            ++actual_count_;
          }
          slot = std::make_shared<const models::ActualLRP>(std::move(lrp));
          IndexCellLocked(*slot, true);
        } else if constexpr (std::is_same_v<T, storage::DeleteActualLrp>) {
          auto pit = processes_.find(m.process_guid);
          if (pit == processes_.end()) return;
          auto ait = pit->second.actuals.find(m.index);
          if (ait == pit->second.actuals.end()) return;
          int presence = static_cast<int>(m.presence);
          if (presence < 0 || presence > 2) return;
          auto& slot = ait->second.by_presence[presence];
          if (!slot) return;
          IndexCellLocked(*slot, false);
          slot.reset();
          --actual_count_;
          const auto& bp = ait->second.by_presence;
          if (!bp[0] && !bp[1] && !bp[2]) pit->second.actuals.erase(ait);
          if (pit->second.actuals.empty() && !pit->second.desired) processes_.erase(pit);
        } else if constexpr (std::is_same_v<T, storage::PutTask>) {
          std::string guid = m.task.task_guid();  // read before the move below
          tasks_[guid] = std::make_shared<const models::Task>(std::move(m.task));
        } else if constexpr (std::is_same_v<T, storage::DeleteTask>) {
          tasks_.erase(m.task_guid);
        }
      },
      mutation);
}

// --- domains ---

Status Engine::UpsertDomain(const std::string& domain, uint32_t ttl_seconds) {
  std::lock_guard write_lock(domain_write_mu_);
  int64_t expire = ttl_seconds == 0
                       ? std::numeric_limits<int64_t>::max()
                       : clock_->NowNanos() + static_cast<int64_t>(ttl_seconds) * kNanosPerSecond;
  Change change;
  change.mutations.push_back(storage::PutDomain{domain, expire});
  return Commit(std::move(change));
}

std::vector<std::string> Engine::FreshDomains() const {
  int64_t now = clock_->NowNanos();
  // Upstream compares with "now" rounded to the second.
  int64_t rounded = (now + kNanosPerSecond / 2) / kNanosPerSecond * kNanosPerSecond;
  std::vector<std::string> out;
  std::shared_lock lock(state_mu_);
  for (const auto& [name, expire] : domains_) {
    if (expire > rounded) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// --- desired LRPs ---

std::vector<const models::ActualLRP*> Engine::ActualsOfLocked(
    const std::string& process_guid) const {
  std::vector<const models::ActualLRP*> out;
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return out;
  for (const auto& [index, slots] : it->second.actuals) {
    for (const auto& p : slots.by_presence) {
      if (p) out.push_back(p.get());
    }
  }
  return out;
}

Status Engine::DesireLrp(const models::DesiredLRP& lrp, const std::string& trace_id) {
  const std::string& guid = lrp.process_guid();
  auto key_lock = LockProcess(guid);
  std::set<int32_t> existing_ordinary;
  {
    std::shared_lock lock(state_mu_);
    auto it = processes_.find(guid);
    if (it != processes_.end()) {
      if (it->second.desired) return Exists();
      for (const auto& [index, slots] : it->second.actuals) {
        if (slots.by_presence[models::ActualLRP::ORDINARY]) existing_ordinary.insert(index);
      }
    }
  }
  int64_t now = clock_->NowNanos();
  auto record = domain::NewDesiredLrpRecord(lrp, now, guids_->NewGuid());
  if (!record.ok()) return record.status();
  auto full = domain::DesiredLrpFromRecord(*record);
  if (!full.ok()) return full.status();

  Change change;
  change.events.push_back(domain::DesiredLrpCreatedEvent(*full, trace_id));
  const auto& key = record->scheduling_info().desired_lrp_key();
  std::vector<int32_t> created;
  for (int32_t i = 0; i < record->scheduling_info().instances(); ++i) {
    if (existing_ordinary.count(i)) continue;
    models::ActualLRP actual =
        domain::NewUnclaimedActualLrp(key.process_guid(), i, key.domain(), now, guids_->NewGuid());
    auto events = domain::ComputeActualLrpEvents({}, {{std::nullopt, actual}},
                                                 domain::LrpEventMode::kStandard, trace_id);
    change.events.insert(change.events.end(), events.begin(), events.end());
    change.mutations.push_back(storage::PutActualLrp{std::move(actual)});
    created.push_back(i);
  }
  auto desired = std::make_shared<const records::DesiredLRPRecord>(*record);
  change.mutations.insert(change.mutations.begin(), storage::PutDesiredLrp{std::move(*record)});
  Status s = Commit(std::move(change));
  key_lock.unlock();
  if (s.ok()) RequestAuction(desired, std::move(created), trace_id);
  return s;
}

Status Engine::UpdateDesiredLrp(const std::string& process_guid,
                                const models::DesiredLRPUpdate& update,
                                const std::string& trace_id) {
  auto key_lock = LockProcess(process_guid);
  DesiredLrpPtr before;
  std::vector<ActualLrpPtr> actuals;
  {
    std::shared_lock lock(state_mu_);
    auto it = processes_.find(process_guid);
    if (it == processes_.end() || !it->second.desired) return NotFound();
    before = it->second.desired;
    for (const auto& [index, slots] : it->second.actuals) {
      for (const auto& p : slots.by_presence) {
        if (p) actuals.push_back(p);
      }
    }
  }
  auto after = domain::ApplyDesiredLrpUpdate(*before, update);
  if (!after.ok()) return after.status();
  auto before_full = domain::DesiredLrpFromRecord(*before);
  if (!before_full.ok()) return before_full.status();
  auto after_full = domain::DesiredLrpFromRecord(*after);
  if (!after_full.ok()) return after_full.status();

  Change change;
  std::vector<int32_t> created;
  std::vector<models::ActualLRP> to_stop;
  int64_t now = clock_->NowNanos();
  int32_t old_count = before->scheduling_info().instances();
  int32_t new_count = after->scheduling_info().instances();
  const auto& key = after->scheduling_info().desired_lrp_key();
  if (update.has_instances() && new_count > old_count) {
    std::set<int32_t> existing;
    for (const auto& a : actuals) {
      if (a->presence() == models::ActualLRP::ORDINARY)
        existing.insert(a->actual_lrp_key().index());
    }
    for (int32_t i = old_count; i < new_count; ++i) {
      if (existing.count(i)) continue;
      models::ActualLRP actual = domain::NewUnclaimedActualLrp(key.process_guid(), i, key.domain(),
                                                               now, guids_->NewGuid());
      auto events = domain::ComputeActualLrpEvents({}, {{std::nullopt, actual}},
                                                   domain::LrpEventMode::kStandard, trace_id);
      change.events.insert(change.events.end(), events.begin(), events.end());
      change.mutations.push_back(storage::PutActualLrp{std::move(actual)});
      created.push_back(i);
    }
  } else if (update.has_instances() && new_count < old_count) {
    std::vector<const models::ActualLRP*> raw;
    for (const auto& a : actuals) raw.push_back(a.get());
    auto plan = domain::PlanStopInstances(raw, new_count);
    for (const auto& lrp : plan.to_delete) {
      change.mutations.push_back(storage::DeleteActualLrp{
          lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(), lrp.presence()});
      auto events = domain::ComputeActualLrpEvents({lrp}, {{lrp, std::nullopt}},
                                                   domain::LrpEventMode::kStandard, trace_id);
      change.events.insert(change.events.end(), events.begin(), events.end());
    }
    to_stop = std::move(plan.to_stop);
  }
  change.events.push_back(domain::DesiredLrpChangedEvent(*before_full, *after_full, trace_id));
  auto desired = std::make_shared<const records::DesiredLRPRecord>(*after);
  change.mutations.insert(change.mutations.begin(), storage::PutDesiredLrp{std::move(*after)});
  Status s = Commit(std::move(change));
  key_lock.unlock();
  if (!s.ok()) return s;
  RequestAuction(desired, std::move(created), trace_id);
  StopInstancesAsync(to_stop, trace_id);
  UpdateInstancesAsync(*before, update, actuals, trace_id);
  return s;
}

void Engine::UpdateInstancesAsync(const records::DesiredLRPRecord& before,
                                  const models::DesiredLRPUpdate& update,
                                  const std::vector<ActualLrpPtr>& actuals,
                                  const std::string& trace_id) {
  if (reps_ == nullptr || cells_ == nullptr) return;
  // behavior.md §4.3 step 4 / outbound.md §4.7: any update carrying routes counts as an
  // internal-route change unless both sides carry identical internal-router entries.
  static constexpr char kInternalRouter[] = "internal-router";
  bool routes_changed = false;
  if (update.has_routes()) {
    const auto& old_routes = before.scheduling_info().routes().routes();
    const auto& new_routes = update.routes().routes();
    auto o = old_routes.find(kInternalRouter);
    auto n = new_routes.find(kInternalRouter);
    routes_changed = !(o != old_routes.end() && n != new_routes.end() && o->second == n->second);
  }
  bool tags_changed = false;
  if (!update.metric_tags().empty()) {
    const auto& old_tags = before.metric_tags();
    tags_changed = old_tags.size() != update.metric_tags().size();
    for (const auto& [k, v] : update.metric_tags()) {
      auto it = old_tags.find(k);
      if (it == old_tags.end() || it->second.static_() != v.static_() ||
          it->second.dynamic() != v.dynamic()) {
        tags_changed = true;
      }
    }
  }
  if (!routes_changed && !tags_changed) return;
  std::optional<std::vector<std::string>> hostnames;
  if (routes_changed && update.routes().routes().count(kInternalRouter)) {
    hostnames = model::InternalRoutesFromRoutes(update.routes());
  }
  for (const auto& lrp : actuals) {
    if (lrp->presence() == models::ActualLRP::EVACUATING) continue;
    if (lrp->state() != domain::kClaimed && lrp->state() != domain::kRunning) continue;
    clients::LrpInstanceUpdate u;
    u.process_guid = lrp->actual_lrp_key().process_guid();
    u.instance_guid = lrp->actual_lrp_instance_key().instance_guid();
    u.domain = lrp->actual_lrp_key().domain();
    u.index = lrp->actual_lrp_key().index();
    if (routes_changed) u.internal_routes = hostnames;
    if (tags_changed) {
      auto resolved = model::ResolveMetricTags(update.metric_tags(), u.index, u.instance_guid);
      if (!resolved.ok()) continue;
      u.metric_tags = std::move(*resolved);
    }
    auto presence = cells_->Lookup(lrp->actual_lrp_instance_key().cell_id());
    if (!presence.ok()) continue;
    reps_->UpdateLrpInstanceAsync(presence->rep_url(), std::move(u), trace_id);
  }
}

Status Engine::RemoveDesiredLrp(const std::string& process_guid, const std::string& trace_id) {
  auto key_lock = LockProcess(process_guid);
  DesiredLrpPtr before;
  std::vector<ActualLrpPtr> actuals;
  {
    std::shared_lock lock(state_mu_);
    auto it = processes_.find(process_guid);
    if (it == processes_.end() || !it->second.desired) return NotFound();
    before = it->second.desired;
    for (const auto& [index, slots] : it->second.actuals) {
      for (const auto& p : slots.by_presence) {
        if (p) actuals.push_back(p);
      }
    }
  }
  Change change;
  change.mutations.push_back(storage::DeleteDesiredLrp{process_guid});
  auto before_full = domain::DesiredLrpFromRecord(*before);
  if (before_full.ok()) {
    change.events.push_back(domain::DesiredLrpRemovedEvent(*before_full, trace_id));
  }
  std::vector<const models::ActualLRP*> raw;
  for (const auto& a : actuals) raw.push_back(a.get());
  auto plan = domain::PlanStopInstances(raw, 0);
  for (const auto& lrp : plan.to_delete) {
    change.mutations.push_back(storage::DeleteActualLrp{
        lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(), lrp.presence()});
    auto events = domain::ComputeActualLrpEvents({lrp}, {{lrp, std::nullopt}},
                                                 domain::LrpEventMode::kStandard, trace_id);
    change.events.insert(change.events.end(), events.begin(), events.end());
  }
  Status s = Commit(std::move(change));
  key_lock.unlock();
  if (s.ok()) StopInstancesAsync(plan.to_stop, trace_id);
  return s;
}

DesiredLrpPtr Engine::DesiredLrp(const std::string& process_guid) const {
  std::shared_lock lock(state_mu_);
  auto it = processes_.find(process_guid);
  if (it == processes_.end()) return nullptr;
  return it->second.desired;
}

std::vector<DesiredLrpPtr> Engine::DesiredLrps(const DesiredLrpFilter& filter) const {
  std::vector<DesiredLrpPtr> out;
  std::shared_lock lock(state_mu_);
  if (!filter.process_guids.empty() && filter.process_guids.size() < processes_.size() / 4) {
    std::set<std::string> seen;
    for (const auto& guid : filter.process_guids) {
      if (!seen.insert(guid).second) continue;
      auto it = processes_.find(guid);
      if (it != processes_.end() && it->second.desired &&
          MatchesDesiredFilter(*it->second.desired, filter)) {
        out.push_back(it->second.desired);
      }
    }
    return out;
  }
  out.reserve(desired_count_);
  for (const auto& [guid, entry] : processes_) {
    if (entry.desired && MatchesDesiredFilter(*entry.desired, filter)) out.push_back(entry.desired);
  }
  return out;
}

// --- actual LRPs ---

void Engine::CollectActualsLocked(const ProcessEntry& entry, const ActualLrpFilter& filter,
                                  std::vector<ActualLrpPtr>* out) const {
  for (const auto& [index, slots] : entry.actuals) {
    if (filter.index && index != *filter.index) continue;
    for (const auto& p : slots.by_presence) {
      if (p && MatchesActualFilter(*p, filter)) out->push_back(p);
    }
  }
}

std::vector<ActualLrpPtr> Engine::ActualLrps(const ActualLrpFilter& filter) const {
  std::vector<ActualLrpPtr> out;
  std::shared_lock lock(state_mu_);
  if (!filter.process_guid.empty()) {
    auto it = processes_.find(filter.process_guid);
    if (it != processes_.end()) CollectActualsLocked(it->second, filter, &out);
    return out;
  }
  if (!filter.cell_id.empty()) {
    auto it = by_cell_.find(filter.cell_id);
    if (it == by_cell_.end()) return out;
    for (const auto& [guid, index, presence] : it->second) {
      auto pit = processes_.find(guid);
      if (pit == processes_.end()) continue;
      auto ait = pit->second.actuals.find(index);
      if (ait == pit->second.actuals.end()) continue;
      const auto& p = ait->second.by_presence[presence];
      if (p && MatchesActualFilter(*p, filter)) out.push_back(p);
    }
    return out;
  }
  out.reserve(actual_count_);
  for (const auto& [guid, entry] : processes_) CollectActualsLocked(entry, filter, &out);
  return out;
}

std::vector<ActualLrpPtr> Engine::ActualLrpsByProcessGuids(
    const std::vector<std::string>& guids) const {
  std::vector<ActualLrpPtr> out;
  std::set<std::string> seen;
  std::shared_lock lock(state_mu_);
  for (const auto& guid : guids) {
    if (!seen.insert(guid).second) continue;
    auto it = processes_.find(guid);
    if (it != processes_.end()) CollectActualsLocked(it->second, ActualLrpFilter{}, &out);
  }
  return out;
}

size_t Engine::DesiredLrpCount() const {
  std::shared_lock lock(state_mu_);
  return desired_count_;
}

size_t Engine::ActualLrpCount() const {
  std::shared_lock lock(state_mu_);
  return actual_count_;
}

}  // namespace bbs::state
