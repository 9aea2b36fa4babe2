#pragma once

#include <string_view>

#include "bbs/base/clock.h"
#include "bbs/http/message.h"
#include "bbs/metrics/bbs_metrics.h"

namespace bbs::metrics {

// Wraps an API route's handler so that each request is recorded on `metrics` under
// `route_name` the way upstream counts them (behavior.md §12.1): a unary request when the
// handler answers, with its latency from the call to the answer (measured with `clock`); an
// event stream when it ends (counted, never timed). The wrapper adds one clock read and a few
// relaxed atomic operations per request. `metrics` and `clock` must outlive the handler.
http::Handler InstrumentRoute(BbsMetrics* metrics, const Clock* clock, std::string_view route_name,
                              http::Handler handler);

}  // namespace bbs::metrics
