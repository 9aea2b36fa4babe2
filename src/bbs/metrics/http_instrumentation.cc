#include "bbs/metrics/http_instrumentation.h"

#include <memory>
#include <utility>

namespace bbs::metrics {
namespace {

// Counts an event stream toward RequestCount when it ends, as upstream's middleware does when
// the stream handler returns.
class CountedStream final : public http::Stream {
 public:
  CountedStream(std::shared_ptr<http::Stream> inner, BbsMetrics* metrics, RouteMetrics* route,
                int status)
      : inner_(std::move(inner)), metrics_(metrics), route_(route), status_(status) {}

  // A stream whose response was never delivered gets neither Start() nor Stop(); its handler
  // still returned, so it is counted here.
  ~CountedStream() override { Count(); }

  void Start(std::shared_ptr<http::StreamWriter> writer) override {
    inner_->Start(std::move(writer));
  }

  void Stop() override {
    inner_->Stop();
    Count();
  }

 private:
  void Count() {
    if (!counted_) {
      counted_ = true;
      metrics_->ObserveStreamRequest(route_, status_);
    }
  }

  std::shared_ptr<http::Stream> inner_;
  BbsMetrics* metrics_;
  RouteMetrics* route_;
  int status_;
  bool counted_ = false;  // Stop() and the destructor run on the connection's thread
};

}  // namespace

http::Handler InstrumentRoute(BbsMetrics* metrics, const Clock* clock, std::string_view route_name,
                              http::Handler handler) {
  RouteMetrics* route = metrics->RouteFor(route_name);
  return [metrics, clock, route, handler = std::move(handler)](http::Request&& request,
                                                               http::Responder respond) {
    const int64_t start = clock->NowNanos();
    handler(std::move(request),
            http::Responder([metrics, clock, route, start,
                             respond = std::move(respond)](http::Response response) {
              if (response.stream) {
                response.stream = std::make_shared<CountedStream>(std::move(response.stream),
                                                                  metrics, route, response.status);
              } else {
                metrics->ObserveRequest(route, response.status, Nanos(clock->NowNanos() - start));
              }
              respond(std::move(response));
            }));
  };
}

}  // namespace bbs::metrics
