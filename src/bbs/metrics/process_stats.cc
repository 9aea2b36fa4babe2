#include "bbs/metrics/process_stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace bbs::metrics {

ProcessStats ReadProcessStats(const std::string& proc_dir) {
  ProcessStats stats;
  {
    // statm: size resident shared text lib data dt, in pages.
    std::ifstream statm(proc_dir + "/statm");
    int64_t size = 0;
    int64_t resident = 0;
    if (statm >> size >> resident) stats.resident_bytes = resident * sysconf(_SC_PAGESIZE);
  }
  {
    std::ifstream status(proc_dir + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Threads:", 0) == 0) {
        std::istringstream in(line.substr(8));
        int64_t threads = 0;
        if (in >> threads) stats.threads = threads;
        break;
      }
    }
  }
  {
    std::error_code ec;
    std::filesystem::directory_iterator it(proc_dir + "/fd", ec);
    if (!ec) {
      int64_t count = 0;
      for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        ++count;
      }
      if (!ec) stats.open_fds = count;
    }
  }
  return stats;
}

}  // namespace bbs::metrics
