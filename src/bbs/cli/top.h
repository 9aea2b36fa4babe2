#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "bbs/base/status.h"
#include "bbs/cli/system_view.h"
#include "bbs/cli/transport.h"

namespace bbs::cli {

struct TopOptions {
  std::string title;        // shown in the header (the BBS URL)
  std::string metrics_url;  // "" = metrics rows unavailable
  TlsOptions metrics_tls;   // for an https metrics URL
};

// Lists desired LRPs, actual LRPs, tasks and cells into `view`.
Status LoadView(HttpClient& bbs, SystemView* view);

// Scrapes `url`; the rows say why when it cannot be fetched.
MetricsRows FetchMetrics(const std::string& url, const TlsOptions& tls,
                         std::chrono::milliseconds timeout, const MetricsRows* previous,
                         double seconds);

// `bbsctl summary`: the view, loaded once, as one JSON line.
Result<std::string> Summary(HttpClient& bbs, const std::string& metrics_url, const TlsOptions& tls,
                            std::chrono::milliseconds timeout);

// `bbsctl top`: the interactive view on the terminal (stdin/stdout must be a terminal). Follows
// the LRP-instance and task event streams; re-lists everything after a reconnect. Returns when
// the user quits, or with the error that made it impossible to start.
Status RunTop(HttpClient& bbs, const TopOptions& options, std::FILE* err);

}  // namespace bbs::cli
