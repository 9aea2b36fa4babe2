#include "bbs/events/hub.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbs/events/events_test_util.h"
#include "bbs/models/conversion.h"

namespace bbs::events {
namespace {

using testing::CountEvents;
using testing::FakeWriter;
using testing::ParseStream;
using testing::Terminated;

constexpr auto kWait = std::chrono::seconds(20);

HubOptions Options(std::string epoch = "e1") {
  HubOptions options;
  options.epoch = std::move(epoch);
  return options;
}

// A started subscription and what it received.
struct Sub {
  std::shared_ptr<http::Stream> stream;
  std::shared_ptr<FakeWriter> writer;

  bool WaitEvents(size_t n) const {
    return writer->WaitUntil([n](const std::string& d) { return CountEvents(d) >= n; });
  }
  bool WaitTerminated() const { return writer->WaitUntil(Terminated); }
  std::vector<testing::SseEvent> Events() const { return ParseStream(writer->data()).events; }
  std::vector<std::string> Types() const {
    std::vector<std::string> types;
    for (const auto& e : Events()) {
      types.push_back(e.type);
    }
    return types;
  }
  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const auto& e : Events()) {
      ids.push_back(e.id);
    }
    return ids;
  }
};

Sub Subscribe(Hub& hub, StreamKind kind, std::string cell_id = "", const std::string& last_id = "",
              bool stalled = false) {
  Sub sub;
  sub.stream = hub.Subscribe(kind, std::move(cell_id), last_id);
  sub.writer = std::make_shared<FakeWriter>(stalled);
  if (sub.stream) {
    sub.stream->Start(sub.writer);
  }
  return sub;
}

// Publishes a marker task event and waits until `sub` has it: everything published before
// has then been looked at for every subscriber.
void Flush(Hub& hub, const std::vector<Sub*>& subs) {
  static int marker = 0;
  const std::string guid = "marker-" + std::to_string(++marker);
  hub.Publish({testing::TaskCreated(guid)});
  for (Sub* sub : subs) {
    ASSERT_TRUE(sub->writer->WaitUntil([&](const std::string& d) {
      for (const auto& e : ParseStream(d).events) {
        if (e.type == "task_created" && testing::Unbase64(e.data).find(guid) != std::string::npos) {
          return true;
        }
      }
      return false;
    }));
  }
}

TEST(HubTest, SendsEachFamilyToItsStreamKindsOnly) {
  Hub hub(Options());
  std::map<StreamKind, Sub> subs;
  for (StreamKind kind :
       {StreamKind::kLrpInstances, StreamKind::kLrpInstancesR0, StreamKind::kLrpGroups,
        StreamKind::kLrpGroupsR0, StreamKind::kTasks, StreamKind::kTasksR0}) {
    subs[kind] = Subscribe(hub, kind);
  }
  hub.Publish({testing::DesiredCreated("d"), testing::InstanceCreated("i", "cell-1"),
               testing::GroupCreated("g", "cell-1"),
               testing::Crashed(EventFamily::kActualLrpInstance, "ci", "cell-1"),
               testing::Crashed(EventFamily::kActualLrpGroup, "cg", "cell-1"),
               testing::Crashed(EventFamily::kActualLrpCrashed, "cb", "cell-1"),
               testing::TaskCreated("t")});
  const std::vector<std::string> instance_types = {"desired_lrp_created",
                                                   "actual_lrp_instance_created",
                                                   "actual_lrp_crashed", "actual_lrp_crashed"};
  const std::vector<std::string> group_types = {"desired_lrp_created", "actual_lrp_created",
                                                "actual_lrp_crashed", "actual_lrp_crashed"};
  for (auto& [kind, sub] : subs) {
    const bool task = kind == StreamKind::kTasks || kind == StreamKind::kTasksR0;
    ASSERT_TRUE(sub.WaitEvents(task ? 1 : 4));
  }
  EXPECT_EQ(subs[StreamKind::kLrpInstances].Types(), instance_types);
  EXPECT_EQ(subs[StreamKind::kLrpInstancesR0].Types(), instance_types);
  EXPECT_EQ(subs[StreamKind::kLrpGroups].Types(), group_types);
  EXPECT_EQ(subs[StreamKind::kLrpGroupsR0].Types(), group_types);
  EXPECT_EQ(subs[StreamKind::kTasks].Types(), std::vector<std::string>{"task_created"});
  EXPECT_EQ(subs[StreamKind::kTasksR0].Types(), std::vector<std::string>{"task_created"});
  // The instance stream's crashed events are the instance hub's and the shared one.
  auto crashed_guid = [](const testing::SseEvent& e) {
    models::ActualLRPCrashedEvent crash;
    EXPECT_TRUE(crash.ParseFromString(testing::Unbase64(e.data)));
    return crash.actual_lrp_key().process_guid();
  };
  EXPECT_EQ(crashed_guid(subs[StreamKind::kLrpInstances].Events()[2]), "ci");
  EXPECT_EQ(crashed_guid(subs[StreamKind::kLrpInstances].Events()[3]), "cb");
  EXPECT_EQ(crashed_guid(subs[StreamKind::kLrpGroups].Events()[2]), "cg");
  EXPECT_EQ(crashed_guid(subs[StreamKind::kLrpGroups].Events()[3]), "cb");
}

TEST(HubTest, FiltersActualLrpEventsByCellButNeverDesiredLrpEvents) {
  Hub hub(Options());
  Sub instances = Subscribe(hub, StreamKind::kLrpInstances, "cell-1");
  Sub groups = Subscribe(hub, StreamKind::kLrpGroups, "cell-1");
  Sub tasks = Subscribe(hub, StreamKind::kTasks, "cell-1");  // task streams ignore the filter
  hub.Publish({testing::InstanceCreated("other", "cell-2"), testing::DesiredCreated("d"),
               testing::InstanceCreated("mine", "cell-1"), testing::GroupCreated("g2", "cell-2"),
               testing::GroupCreated("g1", "cell-1"),
               testing::GroupChanged("moved-away", "cell-1", "cell-2"),
               testing::GroupChanged("moved-in", "cell-2", "cell-1"),
               testing::GroupChanged("elsewhere", "cell-2", "cell-3"),
               testing::Crashed(EventFamily::kActualLrpCrashed, "c2", "cell-2"),
               testing::Crashed(EventFamily::kActualLrpCrashed, "c1", "cell-1")});
  Flush(hub, {&tasks});
  Flush(hub, {&tasks});
  ASSERT_TRUE(instances.WaitEvents(3));
  ASSERT_TRUE(groups.WaitEvents(5));
  EXPECT_EQ(instances.Types(),
            (std::vector<std::string>{"desired_lrp_created", "actual_lrp_instance_created",
                                      "actual_lrp_crashed"}));
  EXPECT_EQ(groups.Types(), (std::vector<std::string>{"desired_lrp_created", "actual_lrp_created",
                                                      "actual_lrp_changed", "actual_lrp_changed",
                                                      "actual_lrp_crashed"}));
  EXPECT_EQ(tasks.Types().size(), 2u);
}

TEST(HubTest, CellFilterIsAnExactCaseSensitiveMatch) {
  Hub hub(Options());
  Sub sub = Subscribe(hub, StreamKind::kLrpInstances, "Cell-1");
  hub.Publish({testing::InstanceCreated("a", "cell-1"), testing::InstanceCreated("b", "Cell-1 "),
               testing::InstanceCreated("c", "Cell-1")});
  ASSERT_TRUE(sub.WaitEvents(1));
  hub.Publish({testing::DesiredCreated("end")});
  ASSERT_TRUE(sub.WaitEvents(2));
  EXPECT_EQ(sub.Types(),
            (std::vector<std::string>{"actual_lrp_instance_created", "desired_lrp_created"}));
}

TEST(HubTest, AnUnresolvableGroupEndsCellFilteredGroupStreamsOnly) {
  Hub hub(Options());
  Sub filtered = Subscribe(hub, StreamKind::kLrpGroups, "cell-1");
  Sub unfiltered = Subscribe(hub, StreamKind::kLrpGroups);
  Sub instances = Subscribe(hub, StreamKind::kLrpInstances, "cell-1");
  Event empty_group{EventFamily::kActualLrpGroup,
                    "actual_lrp_created",
                    std::make_shared<models::ActualLRPCreatedEvent>(),
                    {}};
  empty_group.unresolved_group = true;
  hub.Publish({testing::GroupCreated("before", "cell-1"), empty_group,
               testing::GroupCreated("after", "cell-1")});
  ASSERT_TRUE(filtered.writer->WaitClosed());
  EXPECT_TRUE(Terminated(filtered.writer->data()));
  EXPECT_EQ(filtered.Types(), std::vector<std::string>{"actual_lrp_created"});
  ASSERT_TRUE(unfiltered.WaitEvents(3));
  EXPECT_FALSE(Terminated(unfiltered.writer->data()));
  EXPECT_TRUE(hub.WaitForSubscriberCount(2, kWait));
}

// Publishes `event` to a hub with a subscriber of `r1_kind` and one of each of `r0_kinds`.
// Expects the r1 subscriber to receive the payload as published; returns the payload each r0
// subscriber received (empty when one received nothing).
std::vector<std::string> PublishToR1AndR0(const Event& event, StreamKind r1_kind,
                                          const std::vector<StreamKind>& r0_kinds) {
  Hub hub(Options());
  Sub r1 = Subscribe(hub, r1_kind);
  std::vector<Sub> r0;
  for (StreamKind kind : r0_kinds) r0.push_back(Subscribe(hub, kind));
  hub.Publish({event});
  EXPECT_TRUE(r1.WaitEvents(1));
  EXPECT_EQ(testing::Unbase64(r1.Events().at(0).data), event.payload->SerializeAsString());
  std::vector<std::string> payloads;
  for (Sub& sub : r0) {
    if (!sub.WaitEvents(1)) return {};
    payloads.push_back(testing::Unbase64(sub.Events()[0].data));
  }
  return payloads;
}

TEST(HubTest, SendsV0DesiredLrpsOnR0StreamsAndStoredOnesOnR1) {
  Event event = testing::DesiredCreated("pg");
  std::vector<std::string> r0 = PublishToR1AndR0(
      event, StreamKind::kLrpInstances, {StreamKind::kLrpInstancesR0, StreamKind::kLrpGroupsR0});
  ASSERT_EQ(r0.size(), 2u);
  models::DesiredLRPCreatedEvent v0;
  ASSERT_TRUE(v0.ParseFromString(r0[0]));
  EXPECT_EQ(v0.desired_lrp().deprecated_start_timeout_s(), 61u);
  EXPECT_EQ(v0.trace_id(), "trace-pg");
  models::DesiredLRPCreatedEvent expected =
      static_cast<const models::DesiredLRPCreatedEvent&>(*event.payload);
  *expected.mutable_desired_lrp() =
      wire::DesiredLrpDownTo(expected.desired_lrp(), wire::FormatVersion::kV0);
  EXPECT_EQ(r0[0], expected.SerializeAsString());
  EXPECT_EQ(r0[1], r0[0]);
}

TEST(HubTest, SendsTasksWithImageLayersConvertedOnTheR0TaskStream) {
  std::vector<std::string> r0 =
      PublishToR1AndR0(testing::TaskCreated("t"), StreamKind::kTasks, {StreamKind::kTasksR0});
  ASSERT_EQ(r0.size(), 1u);
  models::TaskCreatedEvent converted;
  ASSERT_TRUE(converted.ParseFromString(r0[0]));
  EXPECT_EQ(converted.task().task_definition().image_layers_size(), 0);
  EXPECT_TRUE(converted.task().task_definition().has_action());
}

TEST(HubTest, EncodesEachEventOncePerFormatWhateverTheSubscriberCount) {
  Hub hub(Options());
  std::vector<Sub> subs;
  for (int i = 0; i < 10; ++i) {
    subs.push_back(Subscribe(hub, StreamKind::kLrpInstances));
    subs.push_back(Subscribe(hub, StreamKind::kLrpInstancesR0));
    subs.push_back(Subscribe(hub, StreamKind::kLrpGroups));
  }
  hub.Publish({testing::DesiredCreated("pg"), testing::InstanceCreated("i", "cell-1")});
  for (auto& sub : subs) {
    ASSERT_TRUE(sub.WaitEvents(1));
  }
  for (size_t i = 0; i < subs.size(); i += 3) {
    ASSERT_TRUE(subs[i].WaitEvents(2));
  }
  // desired: V3 + V0; instance event: one format.
  EXPECT_EQ(hub.stats().encoded, 3u);
}

TEST(HubTest, NumbersEventsFromZeroOnEveryConnection) {
  Hub hub(Options());
  Sub first = Subscribe(hub, StreamKind::kTasks);
  hub.Publish({testing::TaskCreated("a"), testing::TaskCreated("b")});
  ASSERT_TRUE(first.WaitEvents(2));
  Sub second = Subscribe(hub, StreamKind::kTasks);
  hub.Publish({testing::TaskCreated("c")});
  ASSERT_TRUE(first.WaitEvents(3));
  ASSERT_TRUE(second.WaitEvents(1));
  EXPECT_EQ(first.Ids(), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(second.Ids(), std::vector<std::string>{"0"});
  EXPECT_TRUE(ParseStream(first.writer->data()).well_formed);
}

TEST(HubTest, DeliversEventsPublishedBetweenSubscribeAndStart) {
  Hub hub(Options());
  std::shared_ptr<http::Stream> stream = hub.Subscribe(StreamKind::kTasks, "");
  hub.Publish({testing::TaskCreated("early")});
  auto writer = std::make_shared<FakeWriter>();
  stream->Start(writer);
  ASSERT_TRUE(writer->WaitUntil([](const std::string& d) { return CountEvents(d) == 1; }));
}

// Subscribes a fast and a stalled subscriber to `kind` and publishes `events` events, one batch
// each, made by `event(i)`. Expects the stalled one to be dropped (its stream terminated) while
// the fast one receives every event and stays. Returns what the stalled one was handed.
std::string PublishUntilTheStalledOneIsDropped(Hub& hub, StreamKind kind, int events,
                                               const std::function<Event(int)>& event) {
  Sub fast = Subscribe(hub, kind);
  Sub stalled = Subscribe(hub, kind, "", "", /*stalled=*/true);
  for (int i = 0; i < events; ++i) hub.Publish({event(i)});
  EXPECT_TRUE(stalled.writer->WaitClosed());
  const std::string held = stalled.writer->data();
  EXPECT_TRUE(Terminated(held));
  EXPECT_TRUE(fast.WaitEvents(events));
  EXPECT_FALSE(Terminated(fast.writer->data()));
  EXPECT_TRUE(hub.WaitForSubscriberCount(1, kWait));
  EXPECT_EQ(hub.stats().dropped_slow, 1u);
  return held;
}

TEST(HubTest, DropsAStalledSubscriberWhenItsQueueOverflowsWhileOthersKeepReceiving) {
  Hub hub(Options());
  const std::string held = PublishUntilTheStalledOneIsDropped(
      hub, StreamKind::kTasks, 1100,
      [](int i) { return testing::TaskCreated("t" + std::to_string(i)); });
  // It held exactly a full queue when the next batch found no room.
  EXPECT_EQ(CountEvents(held), 1024u);
}

TEST(HubTest, DropsAStalledSubscriberWhoseUnsentBytesReachTheByteBoundLongBeforeTheEventBound) {
  HubOptions options = Options();
  options.queue_bytes_capacity = 256 * 1024;
  Hub hub(options);
  // 64 KiB events: the byte bound is reached after 4 of them, far below 1,024 events.
  const std::string held = PublishUntilTheStalledOneIsDropped(
      hub, StreamKind::kLrpInstances, 20,
      [](int i) { return testing::DesiredCreated("d" + std::to_string(i), 64 * 1024); });
  // What it was handed stays within the bound plus one event.
  EXPECT_LT(held.size(), options.queue_bytes_capacity + 100 * 1024);
  EXPECT_GE(held.size(), options.queue_bytes_capacity);
  EXPECT_LT(CountEvents(held), 10u);
}

TEST(HubTest, AnEventLargerThanTheByteBoundIsStillDeliveredToASubscriberThatKeepsUp) {
  HubOptions options = Options();
  options.queue_bytes_capacity = 1024;
  Hub hub(options);
  Sub fast = Subscribe(hub, StreamKind::kLrpInstances);
  hub.Publish({testing::DesiredCreated("big", 64 * 1024)});
  hub.Publish({testing::DesiredCreated("big2", 64 * 1024)});
  ASSERT_TRUE(fast.WaitEvents(2));
  EXPECT_FALSE(Terminated(fast.writer->data()));
  EXPECT_EQ(hub.stats().dropped_slow, 0u);
}

TEST(HubTest, TheResumeRingIsBoundedByBytesAsWellAsByEvents) {
  HubOptions options = Options("e1");
  options.ring_bytes_capacity = 200 * 1024;
  Hub hub(options);
  for (int i = 0; i < 10; ++i) {
    hub.Publish({testing::DesiredCreated("d" + std::to_string(i), 64 * 1024)});
  }
  // Only three 64 KiB events fit in 200 KiB: 8, 9 and 10 are kept.
  const HubStats stats = hub.stats();
  EXPECT_EQ(stats.ring_events, 3u);
  EXPECT_LE(stats.ring_bytes, options.ring_bytes_capacity);
  Sub ok = Subscribe(hub, StreamKind::kLrpInstances, "", "e1-7");
  ASSERT_TRUE(ok.WaitEvents(3));
  Sub too_old = Subscribe(hub, StreamKind::kLrpInstances, "", "e1-6");
  EXPECT_EQ(too_old.writer->data(), "0\r\n\r\n");
  EXPECT_EQ(hub.stats().ended_gap, 1u);
  // One event larger than the whole bound is kept (the newest always is).
  hub.Publish({testing::DesiredCreated("huge", 300 * 1024)});
  EXPECT_EQ(hub.stats().ring_events, 1u);
}

TEST(HubTest, CountsSubscribersAddedRemovedAndDroppedOnItsMetrics) {
  metrics::BbsMetrics metrics;
  HubOptions options = Options();
  options.metrics = &metrics;
  Hub hub(options);
  auto has = [&metrics](const std::string& line) {
    return metrics.PrometheusText().find("\n" + line + "\n") != std::string::npos;
  };
  Sub fast = Subscribe(hub, StreamKind::kTasks);
  Sub stalled = Subscribe(hub, StreamKind::kTasks, "", "", /*stalled=*/true);
  EXPECT_TRUE(has("bbs_event_subscribers 2"));
  for (int i = 0; i < 1100; ++i) {
    hub.Publish({testing::TaskCreated("t" + std::to_string(i))});
  }
  ASSERT_TRUE(stalled.writer->WaitClosed());
  ASSERT_TRUE(hub.WaitForSubscriberCount(1, kWait));
  EXPECT_TRUE(has("bbs_event_subscribers 1"));
  EXPECT_TRUE(has("bbs_event_subscribers_dropped_total 1"));
  fast.stream->Stop();
  EXPECT_TRUE(has("bbs_event_subscribers 0"));
}

TEST(HubTest, TakesOneLargeBatchWholeAndDeliversAllOfItToAFastSubscriber) {
  Hub hub(Options());
  Sub fast = Subscribe(hub, StreamKind::kLrpInstances);
  Sub stalled = Subscribe(hub, StreamKind::kLrpInstances, "", "", /*stalled=*/true);
  std::vector<Event> batch;
  batch.reserve(3000);
  for (int i = 0; i < 3000; ++i) {
    batch.push_back(testing::InstanceCreated("i", "cell-1"));
  }
  hub.Publish(batch);
  ASSERT_TRUE(fast.WaitEvents(3000));
  ASSERT_TRUE(stalled.WaitEvents(1024));
  EXPECT_EQ(hub.subscriber_count(), 2u);
  // The stalled one still owes 1,976 events of that batch: the next batch drops it.
  hub.Publish({testing::DesiredCreated("next")});
  ASSERT_TRUE(stalled.WaitTerminated());
  EXPECT_EQ(CountEvents(stalled.writer->data()), 1024u);
  ASSERT_TRUE(fast.WaitEvents(3001));
  EXPECT_TRUE(hub.WaitForSubscriberCount(1, kWait));
}

TEST(HubTest, StoppingAStreamFreesItsSubscriptionAtOnce) {
  Hub hub(Options());
  Sub a = Subscribe(hub, StreamKind::kTasks);
  Sub b = Subscribe(hub, StreamKind::kTasks);
  EXPECT_EQ(hub.subscriber_count(), 2u);
  a.stream->Stop();
  EXPECT_EQ(hub.subscriber_count(), 1u);
  hub.Publish({testing::TaskCreated("x")});
  ASSERT_TRUE(b.WaitEvents(1));
  EXPECT_EQ(CountEvents(a.writer->data()), 0u);
}

TEST(HubTest, ReleasingAStreamThatNeverStartedFreesItsSubscription) {
  Hub hub(Options());
  std::shared_ptr<http::Stream> stream = hub.Subscribe(StreamKind::kLrpGroups, "cell-1");
  EXPECT_EQ(hub.subscriber_count(), 1u);
  stream.reset();
  EXPECT_EQ(hub.subscriber_count(), 0u);
}

TEST(HubTest, CloseEndsEveryStreamAndRefusesNewSubscriptions) {
  Hub hub(Options());
  Sub a = Subscribe(hub, StreamKind::kTasks);
  Sub b = Subscribe(hub, StreamKind::kLrpInstances, "cell-1");
  std::shared_ptr<http::Stream> not_started = hub.Subscribe(StreamKind::kTasks, "");
  hub.Publish({testing::TaskCreated("x")});
  ASSERT_TRUE(a.WaitEvents(1));
  hub.Close();
  EXPECT_TRUE(Terminated(a.writer->data()));
  EXPECT_TRUE(a.writer->closed());
  EXPECT_EQ(b.writer->data(), "0\r\n\r\n");
  EXPECT_TRUE(b.writer->closed());
  auto late_writer = std::make_shared<FakeWriter>();
  not_started->Start(late_writer);
  EXPECT_EQ(late_writer->data(), "0\r\n\r\n");
  EXPECT_EQ(hub.subscriber_count(), 0u);
  EXPECT_EQ(hub.Subscribe(StreamKind::kTasks, ""), nullptr);
  hub.Publish({testing::TaskCreated("ignored")});
  EXPECT_EQ(hub.stats().published, 1u);
  hub.Close();  // idempotent
}

TEST(HubTest, AThousandSubscribersReceiveEveryEventOfABurst) {
  Hub hub(Options());
  constexpr int kSubscribers = 1000;
  constexpr int kEvents = 1000;
  std::vector<Sub> subs;
  subs.reserve(kSubscribers);
  for (int i = 0; i < kSubscribers; ++i) {
    subs.push_back(Subscribe(hub, i % 2 ? StreamKind::kLrpInstances : StreamKind::kLrpGroups));
  }
  for (int i = 0; i < kEvents; i += 10) {
    std::vector<Event> batch;
    batch.reserve(10);
    for (int j = 0; j < 10; ++j) {
      batch.push_back(testing::DesiredCreated(std::to_string(i + j)));
    }
    hub.Publish(batch);
  }
  for (auto& sub : subs) {
    ASSERT_TRUE(sub.WaitEvents(kEvents));
    const auto parsed = ParseStream(sub.writer->data());
    ASSERT_EQ(parsed.events.size(), static_cast<size_t>(kEvents));
    ASSERT_TRUE(parsed.well_formed);
    for (int i = 0; i < kEvents; ++i) {
      ASSERT_EQ(parsed.events[i].id, std::to_string(i));
    }
  }
  EXPECT_EQ(hub.stats().dropped_slow, 0u);
  EXPECT_EQ(hub.subscriber_count(), static_cast<size_t>(kSubscribers));
}

// --- Last-Event-ID ---

TEST(HubTest, ResumesAfterAResumableLastEventIdWithGlobalIds) {
  Hub hub(Options("e1"));
  Sub live = Subscribe(hub, StreamKind::kLrpInstances, "cell-1", "whatever");
  for (int i = 1; i <= 10; ++i) {
    hub.Publish({testing::InstanceCreated(std::to_string(i), i % 2 ? "cell-1" : "cell-2")});
  }
  ASSERT_TRUE(live.WaitEvents(5));
  EXPECT_EQ(live.Ids(), (std::vector<std::string>{"e1-1", "e1-3", "e1-5", "e1-7", "e1-9"}));

  Sub resumed = Subscribe(hub, StreamKind::kLrpInstances, "cell-1", "e1-5");
  ASSERT_TRUE(resumed.WaitEvents(2));
  EXPECT_EQ(resumed.Ids(), (std::vector<std::string>{"e1-7", "e1-9"}));
  hub.Publish({testing::InstanceCreated("11", "cell-1")});
  ASSERT_TRUE(resumed.WaitEvents(3));
  EXPECT_EQ(resumed.Ids().back(), "e1-11");
  EXPECT_EQ(hub.subscriber_count(), 2u);
}

TEST(HubTest, ResumingAtTheNewestEventReplaysNothing) {
  Hub hub(Options("e1"));
  hub.Publish({testing::TaskCreated("a"), testing::TaskCreated("b")});
  Sub resumed = Subscribe(hub, StreamKind::kTasks, "", "e1-2");
  hub.Publish({testing::TaskCreated("c")});
  ASSERT_TRUE(resumed.WaitEvents(1));
  EXPECT_EQ(resumed.Ids(), std::vector<std::string>{"e1-3"});
}

TEST(HubTest, ReplaysMoreThanAQueueOfEventsToAReconnectingClient) {
  Hub hub(Options("e1"));
  for (int i = 0; i < 3000; ++i) {
    hub.Publish({testing::TaskCreated(std::to_string(i))});
  }
  Sub resumed = Subscribe(hub, StreamKind::kTasks, "", "e1-0");
  ASSERT_TRUE(resumed.WaitEvents(3000));
  EXPECT_EQ(resumed.Ids().front(), "e1-1");
  EXPECT_EQ(resumed.Ids().back(), "e1-3000");
  EXPECT_FALSE(Terminated(resumed.writer->data()));
}

TEST(HubTest, EndsAResumingStreamAtOnceWhenTheGapHasLeftTheRing) {
  HubOptions options = Options("e1");
  options.ring_capacity = 5;
  Hub hub(options);
  for (int i = 0; i < 10; ++i) {
    hub.Publish({testing::TaskCreated(std::to_string(i))});
  }
  Sub ok = Subscribe(hub, StreamKind::kTasks, "", "e1-5");  // 6..10 are in the ring
  ASSERT_TRUE(ok.WaitEvents(5));
  Sub too_old = Subscribe(hub, StreamKind::kTasks, "", "e1-4");
  EXPECT_EQ(too_old.writer->data(), "0\r\n\r\n");
  EXPECT_TRUE(too_old.writer->closed());
  EXPECT_EQ(hub.stats().ended_gap, 1u);
  EXPECT_EQ(hub.subscriber_count(), 1u);
}

TEST(HubTest, EndsAResumingStreamFromAnotherEpochOrFromTheFuture) {
  Hub hub(Options("e1"));
  hub.Publish({testing::TaskCreated("a")});
  Sub foreign = Subscribe(hub, StreamKind::kTasks, "", "e0-1");
  Sub future = Subscribe(hub, StreamKind::kTasks, "", "e1-2");
  EXPECT_EQ(foreign.writer->data(), "0\r\n\r\n");
  EXPECT_EQ(future.writer->data(), "0\r\n\r\n");
  EXPECT_EQ(hub.subscriber_count(), 0u);
  EXPECT_EQ(hub.stats().ended_gap, 2u);
}

TEST(HubTest, AnUnplaceableLastEventIdGetsLiveEventsWithResumableIds) {
  Hub hub(Options("e1"));
  hub.Publish({testing::TaskCreated("missed")});
  Sub go_client = Subscribe(hub, StreamKind::kTasks, "", "57");
  hub.Publish({testing::TaskCreated("live")});
  ASSERT_TRUE(go_client.WaitEvents(1));
  EXPECT_EQ(go_client.Ids(), std::vector<std::string>{"e1-2"});
}

TEST(HubTest, DropsAStreamWhoseEventsLeftTheRingBeforeItStarted) {
  HubOptions options = Options("e1");
  options.ring_capacity = 5;
  Hub hub(options);
  std::shared_ptr<http::Stream> stream = hub.Subscribe(StreamKind::kTasks, "");
  for (int i = 0; i < 10; ++i) {
    hub.Publish({testing::TaskCreated(std::to_string(i))});
  }
  Sub other = Subscribe(hub, StreamKind::kTasks);
  hub.Publish({testing::TaskCreated("sync")});
  ASSERT_TRUE(other.WaitEvents(1));
  auto writer = std::make_shared<FakeWriter>();
  stream->Start(writer);
  ASSERT_TRUE(writer->WaitClosed());
  EXPECT_EQ(writer->data(), "0\r\n\r\n");
  EXPECT_EQ(hub.stats().dropped_slow, 1u);
}

TEST(HubTest, GeneratesARandomEpochWithoutDashes) {
  Hub a;
  Hub b;
  EXPECT_EQ(a.epoch().size(), 16u);
  EXPECT_EQ(a.epoch().find('-'), std::string::npos);
  EXPECT_NE(a.epoch(), b.epoch());
}

}  // namespace
}  // namespace bbs::events
