#include "bbs/metrics/http_instrumentation.h"

#include <memory>
#include <optional>

#include <gtest/gtest.h>

namespace bbs::metrics {
namespace {

class NullStream final : public http::Stream {
 public:
  void Start(std::shared_ptr<http::StreamWriter>) override { started = true; }
  void Stop() override { stopped = true; }
  bool started = false;
  bool stopped = false;
};

TEST(InstrumentRouteTest, RecordsAUnaryRequestWithItsLatencyWhenTheHandlerAnswers) {
  BbsMetrics metrics;
  FakeClock clock;
  http::Handler handler = InstrumentRoute(&metrics, &clock, "ClaimActualLRP",
                                          [&clock](http::Request&&, http::Responder respond) {
                                            clock.Advance(std::chrono::milliseconds(7));
                                            http::Response r;
                                            r.body = "x";
                                            respond(std::move(r));
                                          });
  std::optional<http::Response> answered;
  handler(http::Request{}, http::Responder([&](http::Response r) { answered = std::move(r); }));
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->body, "x");

  RequestReport report = metrics.TakeRequestReport();
  EXPECT_EQ(report.count, 1u);
  EXPECT_EQ(report.max_latency, std::chrono::milliseconds(7));
  ASSERT_EQ(report.routes.size(), 1u);
  EXPECT_EQ(report.routes[0].name, "ClaimActualLRP");
  EXPECT_EQ(report.routes[0].count, 1u);
}

TEST(InstrumentRouteTest, NothingIsRecordedBeforeAnAsynchronousHandlerAnswers) {
  BbsMetrics metrics;
  FakeClock clock;
  std::optional<http::Responder> pending;
  http::Handler handler =
      InstrumentRoute(&metrics, &clock, "DesireDesiredLRP",
                      [&](http::Request&&, http::Responder respond) { pending = respond; });
  bool answered = false;
  handler(http::Request{}, http::Responder([&](http::Response) { answered = true; }));
  EXPECT_EQ(metrics.TakeRequestReport().count, 0u);
  clock.Advance(std::chrono::milliseconds(30));
  (*pending)(http::Response{});
  EXPECT_TRUE(answered);
  RequestReport report = metrics.TakeRequestReport();
  EXPECT_EQ(report.count, 1u);
  EXPECT_EQ(report.max_latency, std::chrono::milliseconds(30));
}

TEST(InstrumentRouteTest, CountsAnEventStreamWhenItEndsWithoutTimingIt) {
  BbsMetrics metrics;
  FakeClock clock;
  auto inner = std::make_shared<NullStream>();
  http::Handler handler = InstrumentRoute(&metrics, &clock, "LRPGroupEvents",
                                          [&](http::Request&&, http::Responder respond) {
                                            http::Response r;
                                            r.stream = inner;
                                            respond(std::move(r));
                                          });
  std::shared_ptr<http::Stream> stream;
  handler(http::Request{}, http::Responder([&](http::Response r) { stream = r.stream; }));
  ASSERT_NE(stream, nullptr);
  EXPECT_NE(stream, inner);
  stream->Start(nullptr);
  EXPECT_TRUE(inner->started);
  clock.Advance(std::chrono::seconds(60));
  EXPECT_EQ(metrics.TakeRequestReport().count, 0u);

  stream->Stop();
  EXPECT_TRUE(inner->stopped);
  stream.reset();  // the destructor does not count it twice
  RequestReport report = metrics.TakeRequestReport();
  EXPECT_EQ(report.count, 1u);
  EXPECT_EQ(report.max_latency, std::chrono::nanoseconds(0));
}

}  // namespace
}  // namespace bbs::metrics
