#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/domain/event.h"
#include "bbs/http/message.h"
#include "bbs/metrics/bbs_metrics.h"

namespace bbs::events {

using domain::Event;
using domain::EventFamily;

namespace internal {
class HubCore;
}  // namespace internal

// The six stream routes (api.md §4.1). R0 routes get down-converted models (§3.4): DesiredLRPs
// as V0 on the LRP streams, tasks with image layers converted on the task stream.
enum class StreamKind {
  kLrpInstances,    // POST /v1/events/lrp_instances.r1: desired + instance + crashed events
  kLrpInstancesR0,  // POST /v1/events/lrp_instances (deprecated)
  kLrpGroups,       // GET /v1/events.r1 (deprecated): desired + group + crashed events
  kLrpGroupsR0,     // GET /v1/events (deprecated)
  kTasks,           // POST /v1/events/tasks.r1
  kTasksR0,         // POST /v1/events/tasks (deprecated)
};

// Whether streams of `kind` carry LRP events (and so honour a cell_id filter).
inline bool IsLrpStream(StreamKind kind) {
  return kind != StreamKind::kTasks && kind != StreamKind::kTasksR0;
}

struct HubOptions {
  // Events a subscriber may have outstanding (accepted for it and not yet handed to the socket)
  // before it is dropped as a slow consumer (upstream: 1024).
  size_t queue_capacity = 1024;
  // Framed bytes a subscriber may have handed to its connection and not yet sent. At the bound
  // no further event is handed over (at least one always is, so the most one subscriber pins is
  // this plus its largest event); a batch arriving while it is still at the bound drops the
  // subscriber, as a full `queue_capacity` does. Bounds what a subscriber that never reads
  // costs independently of event sizes.
  size_t queue_bytes_capacity = size_t{16} << 20;
  // Recent events kept for Last-Event-ID replay.
  size_t ring_capacity = 10000;
  // ... and at most this many bytes of them (their serialized payloads; the newest event is
  // always kept). In memory an event costs a few times its serialized size (the parsed payload,
  // plus its SSE body once per model format sent).
  size_t ring_bytes_capacity = size_t{64} << 20;
  // Identifies this hub in resumable event ids; "" = 16 random hex digits. Must not contain '-'.
  std::string epoch;
  // How often a subscriber that has events waiting behind a full queue is looked at again.
  std::chrono::milliseconds throttle_poll = std::chrono::milliseconds(2);
  Logger logger{LogSink::Null(), "events"};
  // Where subscriptions are counted (added, removed, dropped as slow); null = nowhere.
  metrics::BbsMetrics* metrics = nullptr;
};

struct HubStats {
  size_t subscribers = 0;     // open subscriptions
  uint64_t published = 0;     // events published so far (the newest sequence number)
  uint64_t dropped_slow = 0;  // subscribers dropped because their queue overflowed
  size_t ring_events = 0;     // events in the Last-Event-ID ring
  size_t ring_bytes = 0;      // their serialized payload bytes
  uint64_t ended_gap = 0;     // resumptions refused: gap left the ring, other epoch
  uint64_t encoded = 0;       // event bodies serialised and base64-encoded (once per format)
};

// Hub fans committed events out to the event streams (api.md §4, behavior.md §1.6.1).
//
// Publish() appends the batch to a ring of recent events under a short lock and wakes the
// hub's delivery thread; it never waits for a subscriber and costs the same with one or a
// thousand of them. The delivery thread frames each event once per (event, model format) and
// writes it to every subscriber whose stream kind and cell filter (§4.7) let it through.
//
// Slow consumers. A subscriber's queue holds the events accepted for it and not yet handed to
// its socket (the writer's queued_bytes() tells how far the socket got): those written to its
// connection and still unsent, plus those waiting in the ring behind them. The delivery thread
// accepts each Publish() batch and hands it over before it looks at the next one, so its own
// delay never counts against a subscriber. At most `queue_capacity` events are handed to a
// connection at a time. The events of one Publish() call (one operation) are accepted together,
// so one large operation (e.g. 2,000 instance events of a desire) does not drop a subscriber
// that keeps up; but a subscriber whose queue is still full when a further batch arrives is
// dropped (upstream's rule; here also one whose unsent bytes are at `queue_bytes_capacity`):
// its stream ends with "0\r\n\r\n" after the events already handed
// over, and its subscription is freed. A subscriber whose next event has left the ring before it
// could be sent is dropped the same way. Memory stays bounded: framed bytes exist only for
// handed-over events; the rest is shared in the ring.
//
// Event ids and Last-Event-ID. Upstream numbers events per connection from 0 and ignores
// Last-Event-ID. Every published event also gets a global sequence number (1, 2, ...), and:
//   * A request without Last-Event-ID gets exactly upstream's bytes: ids 0, 1, 2, ... on this
//     connection, live events only.
//   * A request whose Last-Event-ID is a resumable id "<epoch>-<sequence>" of this hub (the
//     ids of the next point) gets first the events after that sequence still in the ring, then live
//     events. If events after it have already left the ring, or the id names another epoch
//     (another server process, whose events since are unknown), or a sequence not yet
//     published, the stream ends at once with "0\r\n\r\n": the client must re-sync by listing
//     and subscribe again, as after any other end of stream.
//   * On both kinds of requests that send a Last-Event-ID (any value: Go's client echoes the
//     last id it saw when it reconnects after a broken read), ids are resumable,
//     "<epoch>-<sequence>", so that the next reconnect can resume. A Last-Event-ID that is not a
//     resumable id (e.g. Go's per-connection "57") cannot be placed: live events only, as
//     upstream. Clients treat ids as opaque strings (Go's client only echoes them back), so
//     only the id text differs from upstream, and only for clients that sent Last-Event-ID.
//
// Thread-safe. Close() (and the destructor) end every stream cleanly; later subscriptions fail.
class Hub final : public domain::EventPublisher {
 public:
  explicit Hub(HubOptions options = HubOptions());
  ~Hub() override;  // Close()s
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Queues `batch` (in order, as one operation) for every matching subscriber. Called by the
  // single committer thread in commit order; never blocks on subscribers. A no-op once closed.
  void Publish(const std::vector<Event>& batch) override;

  // A new subscription of `kind`, filtered by `cell_id` ("" = none; only the LRP kinds filter),
  // resuming after `last_event_id` ("" = absent) as described above. Events published from
  // now on are queued for it, even before the server Start()s the stream. The server Stop()s
  // the stream when the connection ends, which frees the subscription at once. Null once
  // closed (the route then answers 500, api.md §2.3).
  std::shared_ptr<http::Stream> Subscribe(StreamKind kind, std::string cell_id,
                                          std::string_view last_event_id = {});

  // Ends every stream with "0\r\n\r\n" (the connections close once the bytes are out), stops
  // the delivery thread and refuses later subscriptions. Idempotent. Must not be called from a
  // Stream callback.
  void Close();

  const std::string& epoch() const { return epoch_; }
  size_t subscriber_count() const;
  HubStats stats() const;
  // Waits until exactly `count` subscriptions are open; false on timeout. For tests and
  // orderly shutdown.
  bool WaitForSubscriberCount(size_t count, std::chrono::milliseconds timeout) const;

 private:
  const std::string epoch_;
  std::shared_ptr<internal::HubCore> core_;
  std::mutex join_mu_;  // serialises joining thread_
  std::thread thread_;
};

}  // namespace bbs::events
