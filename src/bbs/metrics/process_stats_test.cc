#include "bbs/metrics/process_stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

namespace bbs::metrics {
namespace {

TEST(ProcessStatsTest, ReadsResidentMemoryThreadsAndFileDescriptors) {
  ProcessStats before = ReadProcessStats();
  EXPECT_GT(before.resident_bytes, 0);
  EXPECT_GE(before.threads, 1);
  EXPECT_GT(before.open_fds, 2);

  int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  ProcessStats after = ReadProcessStats();
  close(fd);
  EXPECT_EQ(after.open_fds, before.open_fds + 1);
}

TEST(ProcessStatsTest, ReportsMinusOneForWhatCannotBeRead) {
  ProcessStats stats = ReadProcessStats("/nonexistent/proc/dir");
  EXPECT_EQ(stats.resident_bytes, -1);
  EXPECT_EQ(stats.threads, -1);
  EXPECT_EQ(stats.open_fds, -1);
}

}  // namespace
}  // namespace bbs::metrics
