#pragma once

#include <cstdint>
#include <string>

namespace bbs::metrics {

// The process figures that replace upstream's Go runtime metrics: resident memory, threads
// and open file descriptors, read from /proc. A field is -1 when it could not be read.
struct ProcessStats {
  int64_t resident_bytes = -1;
  int64_t threads = -1;
  int64_t open_fds = -1;
};

// Reads /proc/self (or `proc_dir`, e.g. "/proc/1234", for tests).
ProcessStats ReadProcessStats(const std::string& proc_dir = "/proc/self");

}  // namespace bbs::metrics
