#include "bbs/events/hub.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <utility>

#include "bbs/events/sse.h"
#include "bbs/models/conversion.h"
#include "models/common.pb.h"
#include "models/events.pb.h"

namespace bbs::events {
namespace internal {
namespace {

bool IsR0(StreamKind kind) {
  return kind == StreamKind::kLrpInstancesR0 || kind == StreamKind::kLrpGroupsR0 ||
         kind == StreamKind::kTasksR0;
}

// The stream's name in logs, indexed by StreamKind.
constexpr const char* kKindNames[] = {"lrp_instances.r1", "lrp_instances", "events.r1",
                                      "events",           "tasks.r1",      "tasks"};

const char* KindName(StreamKind kind) { return kKindNames[static_cast<int>(kind)]; }

std::string RandomEpoch() {
  std::random_device device;
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// Splits a resumable id "<epoch>-<sequence>". False when `id` does not have that form.
bool ParseResumableId(std::string_view id, std::string_view* epoch, uint64_t* sequence) {
  const size_t dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) {
    return false;
  }
  const std::string_view digits = id.substr(dash + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), *sequence);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    return false;
  }
  *epoch = id.substr(0, dash);
  return true;
}

}  // namespace

// One published event in the ring.
struct Entry {
  uint64_t sequence = 0;
  uint64_t batch_last = 0;  // the sequence of the last event of the same Publish() call
  size_t bytes = 0;         // the payload's serialized size (ring_bytes_capacity)
  Event event;
  // Delivery thread only: EventBody() per model format (0 = as stored, 1 = down-converted),
  // computed on first use and shared by every connection.
  std::string body[2];
  bool has_body[2] = {false, false};
};

// One subscription.
struct Subscriber {
  Subscriber(StreamKind k, std::string cell, bool resumable)
      : kind(k), cell_id(std::move(cell)), resumable_ids(resumable) {}

  const StreamKind kind;
  const std::string cell_id;
  const bool resumable_ids;

  std::mutex mu;
  std::shared_ptr<http::StreamWriter> writer;  // guarded by mu; set by Start
  bool started = false;                        // guarded by mu
  bool ended = false;                          // guarded by mu; nothing is written after this
  uint64_t baseline = 0;  // guarded by mu: bytes the writer held before ours (the head)

  // Owned by the delivery thread once the subscriber is registered.
  uint64_t cursor = 0;          // the next sequence to hand over (or skip)
  uint64_t admitted = 0;        // the newest sequence accepted into the queue
  uint64_t replay_until = 0;    // batches up to here are accepted without the capacity check
  uint64_t next_id = 0;         // the per-connection id of the next event (plain ids)
  uint64_t waiting = 0;         // accepted events not yet handed to the writer
  uint64_t offset = 0;          // bytes framed for the writer so far
  uint64_t handed = 0;          // of which actually passed to writer->Write()
  uint64_t handed_unsent = 0;   // of which the socket lacked at the last Refresh()
  std::deque<uint64_t> unsent;  // end offsets (baseline-relative) of events the socket lacks
};

enum class Delivery { kSkip, kDeliver, kEndStream };

class HubCore {
 public:
  HubCore(HubOptions options, std::string epoch)
      : options_(std::move(options)), epoch_(std::move(epoch)), log_(options_.logger) {
    options_.queue_capacity = std::max<size_t>(options_.queue_capacity, 1);
    options_.ring_capacity = std::max<size_t>(options_.ring_capacity, 1);
    options_.queue_bytes_capacity = std::max<size_t>(options_.queue_bytes_capacity, 1);
  }

  void Publish(const std::vector<Event>& batch) {
    if (batch.empty()) {
      return;
    }
    std::vector<std::shared_ptr<Entry>> entries;
    entries.reserve(batch.size());
    for (const Event& event : batch) {
      auto entry = std::make_shared<Entry>();
      entry->event = event;
      entry->bytes = event.payload ? event.payload->ByteSizeLong() : 0;
      entries.push_back(std::move(entry));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        return;
      }
      const uint64_t last = head_ + entries.size();
      for (auto& entry : entries) {
        entry->sequence = ++head_;
        entry->batch_last = last;
        ring_bytes_ += entry->bytes;
        ring_.push_back(std::move(entry));
      }
      while (ring_.size() > options_.ring_capacity ||
             (ring_bytes_ > options_.ring_bytes_capacity && ring_.size() > 1)) {
        ring_bytes_ -= ring_.front()->bytes;
        ring_.pop_front();
      }
    }
    wake_cv_.notify_one();
  }

  // Null when closed. A subscriber whose Last-Event-ID cannot be honoured comes back ended and
  // unregistered: its stream ends as soon as it starts.
  std::shared_ptr<Subscriber> Subscribe(StreamKind kind, std::string cell_id,
                                        std::string_view last_event_id) {
    if (!IsLrpStream(kind)) {
      cell_id.clear();
    }
    auto sub = std::make_shared<Subscriber>(kind, std::move(cell_id), !last_event_id.empty());
    std::string_view epoch;
    uint64_t seen = 0;
    const bool resume = ParseResumableId(last_event_id, &epoch, &seen);
    bool registered = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        return nullptr;
      }
      if (resume) {
        const uint64_t oldest = ring_.empty() ? head_ + 1 : ring_.front()->sequence;
        if (epoch != epoch_ || seen > head_ || seen + 1 < oldest) {
          ++ended_gap_;
          sub->ended = true;
        } else {
          sub->admitted = seen;
        }
      } else {
        sub->admitted = head_;
      }
      sub->cursor = sub->admitted + 1;
      sub->replay_until = head_;
      if (!sub->ended) {
        subs_.push_back(sub);
        ++generation_;
        registered = true;
        if (options_.metrics != nullptr) options_.metrics->EventSubscriberAdded();
      }
    }
    if (!registered) {
      log_.Info("resume-gap-too-old",
                {{"stream", KindName(kind)}, {"last_event_id", std::string(last_event_id)}});
    } else {
      subs_cv_.notify_all();
    }
    return sub;
  }

  void Start(const std::shared_ptr<Subscriber>& sub, std::shared_ptr<http::StreamWriter> writer) {
    {
      std::lock_guard<std::mutex> lock(sub->mu);
      if (sub->started) {
        return;
      }
      sub->started = true;
      sub->writer = std::move(writer);
      sub->baseline = sub->writer->queued_bytes();
      if (sub->ended) {
        Terminate(*sub);
        return;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      wake_ = true;
    }
    wake_cv_.notify_one();
  }

  // The stream is over (Stop() or destruction): ends it if needed and frees the subscription.
  void Stop(const std::shared_ptr<Subscriber>& sub) {
    {
      std::lock_guard<std::mutex> lock(sub->mu);
      if (!sub->ended) {
        sub->ended = true;
        if (sub->writer) {
          Terminate(*sub);
        }
      }
    }
    Remove({sub.get()});
  }

  void Close() {
    std::vector<std::shared_ptr<Subscriber>> subs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) {
        return;
      }
      closed_ = true;
      subs.swap(subs_);
      ++generation_;
      CountRemoved(subs.size());
    }
    wake_cv_.notify_all();
    subs_cv_.notify_all();
    for (auto& sub : subs) {
      std::lock_guard<std::mutex> lock(sub->mu);
      if (sub->ended) {
        continue;
      }
      sub->ended = true;
      if (sub->writer) {
        Terminate(*sub);
      }
    }
    log_.Info("closed", {{"streams", subs.size()}});
  }

  size_t subscriber_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return subs_.size();
  }

  HubStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    HubStats stats;
    stats.subscribers = subs_.size();
    stats.published = head_;
    stats.dropped_slow = dropped_slow_.load();
    stats.ended_gap = ended_gap_;
    stats.ring_events = ring_.size();
    stats.ring_bytes = ring_bytes_;
    stats.encoded = encoded_.load();
    return stats;
  }

  bool WaitForSubscriberCount(size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return subs_cv_.wait_for(lock, timeout, [&] { return subs_.size() == count; });
  }

  // The delivery thread.
  void Run() {
    std::deque<std::shared_ptr<Entry>> window;  // the ring as of the last look, oldest first
    uint64_t mirrored = 0;                      // the newest sequence in `window`
    std::vector<std::shared_ptr<Subscriber>> subs;
    uint64_t generation = ~uint64_t{0};
    bool throttled = false;
    std::vector<Subscriber*> ended;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        auto ready = [&] { return closed_ || wake_ || head_ != mirrored; };
        if (throttled) {
          wake_cv_.wait_for(lock, options_.throttle_poll, ready);
        } else {
          wake_cv_.wait(lock, ready);
        }
        if (closed_) {
          return;
        }
        wake_ = false;
        if (head_ != mirrored) {
          const uint64_t oldest = ring_.empty() ? head_ + 1 : ring_.front()->sequence;
          for (uint64_t seq = std::max(mirrored + 1, oldest); seq <= head_; ++seq) {
            window.push_back(ring_[seq - oldest]);
          }
          mirrored = head_;
          while (!window.empty() && window.front()->sequence < oldest) {
            window.pop_front();
          }
        }
        if (generation != generation_) {
          subs = subs_;
          generation = generation_;
        }
      }
      throttled = false;
      ended.clear();
      for (const auto& sub : subs) {
        switch (Serve(*sub, window, mirrored)) {
          case Outcome::kIdle:
            break;
          case Outcome::kThrottled:
            throttled = true;
            break;
          case Outcome::kEnded:
            ended.push_back(sub.get());
            break;
        }
      }
      if (!ended.empty()) {
        Remove(ended);
      }
    }
  }

 private:
  enum class Outcome { kIdle, kThrottled, kEnded };

  // Writes the terminator and closes the writer. REQUIRES: sub.mu held, sub.writer set.
  static void Terminate(Subscriber& sub) {
    sub.writer->Write(std::string(kStreamTerminator));
    sub.writer->Close();
  }

  void CountRemoved(size_t n) const {
    if (options_.metrics == nullptr) return;
    for (size_t i = 0; i < n; ++i) options_.metrics->EventSubscriberRemoved();
  }

  void Remove(const std::vector<Subscriber*>& gone) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const size_t before = subs_.size();
      subs_.erase(std::remove_if(subs_.begin(), subs_.end(),
                                 [&](const std::shared_ptr<Subscriber>& s) {
                                   return std::find(gone.begin(), gone.end(), s.get()) !=
                                          gone.end();
                                 }),
                  subs_.end());
      if (subs_.size() == before) {
        return;
      }
      CountRemoved(before - subs_.size());
      ++generation_;
    }
    subs_cv_.notify_all();
  }

  Delivery Route(const Subscriber& sub, const Event& event) const {
    if (!event.payload) {
      return Delivery::kSkip;
    }
    const bool lrp = IsLrpStream(sub.kind);
    const bool instances =
        sub.kind == StreamKind::kLrpInstances || sub.kind == StreamKind::kLrpInstancesR0;
    switch (event.family) {
      case EventFamily::kDesiredLrp:
        return lrp ? Delivery::kDeliver : Delivery::kSkip;
      case EventFamily::kTask:
        return lrp ? Delivery::kSkip : Delivery::kDeliver;
      case EventFamily::kActualLrpInstance:
        if (!instances) {
          return Delivery::kSkip;
        }
        break;
      case EventFamily::kActualLrpGroup:
        if (!lrp || instances) {
          return Delivery::kSkip;
        }
        break;
      case EventFamily::kActualLrpCrashed:
        if (!lrp) {
          return Delivery::kSkip;
        }
        break;
    }
    if (sub.cell_id.empty()) {
      return Delivery::kDeliver;
    }
    if (event.unresolved_group) {
      return Delivery::kEndStream;
    }
    return std::find(event.cell_ids.begin(), event.cell_ids.end(), sub.cell_id) !=
                   event.cell_ids.end()
               ? Delivery::kDeliver
               : Delivery::kSkip;
  }

  const std::string& Body(Entry& entry, int format) {
    if (!entry.has_body[format]) {
      encoded_.fetch_add(1, std::memory_order_relaxed);
      if (format == 0) {
        entry.body[0] = EventBody(entry.event.type, *entry.event.payload);
      } else {
        entry.body[1] = EventBody(entry.event.type, wire::R0EventPayload(*entry.event.payload));
      }
      entry.has_body[format] = true;
    }
    return entry.body[format];
  }

  void AppendFrame(std::string* out, Subscriber& sub, Entry& entry) {
    const EventFamily family = entry.event.family;
    const int format =
        IsR0(sub.kind) && (family == EventFamily::kDesiredLrp || family == EventFamily::kTask) ? 1
                                                                                               : 0;
    const std::string& body = Body(entry, format);
    std::string id = sub.resumable_ids ? epoch_ + "-" + std::to_string(entry.sequence)
                                       : std::to_string(sub.next_id++);
    const size_t before = out->size();
    AppendEventChunk(out, id, body);
    sub.offset += out->size() - before;
    sub.unsent.push_back(sub.offset);
  }

  // Forgets the events whose bytes the writer has handed to the socket. REQUIRES: sub.mu held.
  static void Refresh(Subscriber& sub) {
    const uint64_t queued = sub.writer->queued_bytes();
    const uint64_t total = sub.baseline + sub.handed;
    if (queued > total) {
      return;
    }
    const uint64_t sent = total - queued;  // baseline-inclusive
    while (!sub.unsent.empty() && sub.baseline + sub.unsent.front() <= sent) {
      sub.unsent.pop_front();
    }
    sub.handed_unsent = sub.handed - (sent > sub.baseline ? sent - sub.baseline : 0);
  }

  // Framed bytes the socket lacks: those not yet written to the writer, and those it held at
  // the last Refresh().
  static uint64_t UnsentBytes(const Subscriber& sub) {
    return sub.offset - sub.handed + sub.handed_unsent;
  }

  // The subscriber holds as many events or bytes as it may.
  bool Full(const Subscriber& sub, size_t events) const {
    return events >= options_.queue_capacity || UnsentBytes(sub) >= options_.queue_bytes_capacity;
  }

  void DropSlow(Subscriber& sub, const char* reason) {
    dropped_slow_.fetch_add(1);  // before the writer closes: tests wait for that
    if (options_.metrics != nullptr) options_.metrics->EventSubscriberDropped();
    sub.ended = true;
    Terminate(sub);
    log_.Info("slow-consumer-dropped", {{"stream", KindName(sub.kind)},
                                        {"cell_id", sub.cell_id},
                                        {"reason", reason},
                                        {"queued_events", sub.unsent.size() + sub.waiting},
                                        {"unsent_bytes", UnsentBytes(sub)}});
  }

  Outcome Serve(Subscriber& sub, std::deque<std::shared_ptr<Entry>>& window, uint64_t mirrored) {
    std::lock_guard<std::mutex> lock(sub.mu);
    if (sub.ended || !sub.started) {
      return Outcome::kIdle;
    }
    const uint64_t first = window.empty() ? mirrored + 1 : window.front()->sequence;
    if (sub.cursor <= mirrored && sub.cursor < first) {
      DropSlow(sub, "events left the ring before they could be sent");
      return Outcome::kEnded;
    }
    auto at = [&](uint64_t seq) -> Entry& { return *window[seq - first]; };

    // Framed bytes go to the writer in one Write() per look, unless the queue fills up: then
    // they are written first, so that the writer can tell how many of them its socket took.
    std::string out;
    auto write_out = [&] {
      if (out.empty()) {
        return;
      }
      sub.handed += out.size();
      sub.handed_unsent += out.size();
      sub.writer->Write(std::move(out));
      out.clear();
    };
    auto refresh = [&] {
      write_out();
      Refresh(sub);
    };
    // Hands accepted events over while the subscriber is not Full(). False when the stream
    // must end here (an unresolvable group under a cell filter).
    auto hand_over = [&] {
      while (sub.cursor <= sub.admitted) {
        if (Full(sub, sub.unsent.size())) {
          refresh();
          if (Full(sub, sub.unsent.size())) {
            break;
          }
        }
        Entry& entry = at(sub.cursor);
        const Delivery delivery = Route(sub, entry.event);
        if (delivery == Delivery::kEndStream) {
          return false;
        }
        ++sub.cursor;
        if (delivery == Delivery::kSkip) {
          continue;
        }
        AppendFrame(&out, sub, entry);
        --sub.waiting;
      }
      return true;
    };

    // Events accepted earlier and still waiting (a large batch, a replay), then the batches
    // published since the last look, each accepted as a whole and handed over at once. A batch
    // that finds the queue full drops the subscriber once the queue's events are out.
    Refresh(sub);
    bool overflow = false;
    bool end_stream = !hand_over();
    while (!end_stream && sub.admitted < mirrored) {
      const uint64_t last = std::min(at(sub.admitted + 1).batch_last, mirrored);
      if (last > sub.replay_until && Full(sub, sub.unsent.size() + sub.waiting)) {
        refresh();
        if (Full(sub, sub.unsent.size() + sub.waiting)) {
          overflow = true;
          break;
        }
      }
      for (uint64_t seq = sub.admitted + 1; seq <= last; ++seq) {
        if (Route(sub, at(seq).event) != Delivery::kSkip) {
          ++sub.waiting;
        }
      }
      sub.admitted = last;
      end_stream = !hand_over();
    }
    write_out();
    if (overflow) {
      DropSlow(sub, "queue full");
      return Outcome::kEnded;
    }
    if (end_stream) {
      // Upstream's cell filter fails on a group it cannot resolve and ends the stream.
      sub.ended = true;
      Terminate(sub);
      log_.Info("unresolvable-group-ends-stream",
                {{"stream", KindName(sub.kind)}, {"cell_id", sub.cell_id}});
      return Outcome::kEnded;
    }
    return sub.waiting > 0 ? Outcome::kThrottled : Outcome::kIdle;
  }

  HubOptions options_;
  const std::string epoch_;
  const Logger log_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable wake_cv_;
  mutable std::condition_variable subs_cv_;
  std::deque<std::shared_ptr<Entry>> ring_;
  uint64_t head_ = 0;      // the newest sequence published (0: none yet)
  size_t ring_bytes_ = 0;  // the sum of ring_'s Entry::bytes
  bool closed_ = false;
  bool wake_ = false;  // a subscriber started: the delivery thread has work without new events
  std::vector<std::shared_ptr<Subscriber>> subs_;
  uint64_t generation_ = 0;  // bumped whenever subs_ changes
  uint64_t ended_gap_ = 0;
  std::atomic<uint64_t> dropped_slow_{0};
  std::atomic<uint64_t> encoded_{0};
};

namespace {

class EventStream final : public http::Stream {
 public:
  EventStream(std::shared_ptr<HubCore> core, std::shared_ptr<Subscriber> sub)
      : core_(std::move(core)), sub_(std::move(sub)) {}
  ~EventStream() override { core_->Stop(sub_); }

  void Start(std::shared_ptr<http::StreamWriter> writer) override {
    core_->Start(sub_, std::move(writer));
  }
  void Stop() override { core_->Stop(sub_); }

 private:
  const std::shared_ptr<HubCore> core_;
  const std::shared_ptr<Subscriber> sub_;
};

}  // namespace
}  // namespace internal

Hub::Hub(HubOptions options)
    : epoch_(options.epoch.empty() ? internal::RandomEpoch() : options.epoch),
      core_(std::make_shared<internal::HubCore>(std::move(options), epoch_)),
      thread_([core = core_] { core->Run(); }) {}

Hub::~Hub() { Close(); }

void Hub::Publish(const std::vector<Event>& batch) { core_->Publish(batch); }

std::shared_ptr<http::Stream> Hub::Subscribe(StreamKind kind, std::string cell_id,
                                             std::string_view last_event_id) {
  auto sub = core_->Subscribe(kind, std::move(cell_id), last_event_id);
  if (!sub) {
    return nullptr;
  }
  return std::make_shared<internal::EventStream>(core_, std::move(sub));
}

void Hub::Close() {
  core_->Close();
  std::lock_guard<std::mutex> lock(join_mu_);
  if (thread_.joinable()) {
    thread_.join();
  }
}

size_t Hub::subscriber_count() const { return core_->subscriber_count(); }

HubStats Hub::stats() const { return core_->stats(); }

bool Hub::WaitForSubscriberCount(size_t count, std::chrono::milliseconds timeout) const {
  return core_->WaitForSubscriberCount(count, timeout);
}

}  // namespace bbs::events
