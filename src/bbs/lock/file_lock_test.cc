#include "bbs/lock/file_lock.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "bbs/lock/lock_test_util.h"

namespace bbs::lock {
namespace {

using namespace std::chrono_literals;
using testing::AcquireAsync;

class FileLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bbs-lock-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/bbs.db.lock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<FileLock> MakeLock(const std::string& owner,
                                     std::chrono::milliseconds check = 5000ms) {
    return std::make_unique<FileLock>(FileLockOptions{path_, owner, check},
                                      Logger(LogSink::Null(), "test"));
  }

  std::string dir_;
  std::string path_;
};

TEST_F(FileLockTest, AcquiresAFreeLockAndRecordsTheHolderInTheFile) {
  auto lock = MakeLock("bbs-z1-0");
  auto outcome = lock->Acquire(nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, AcquireOutcome::kAcquired);
  EXPECT_TRUE(lock->Held());
  EXPECT_NE(FileLock::ReadHolder(path_).find("\"owner\":\"bbs-z1-0\""), std::string::npos);
  lock->Release();
  EXPECT_FALSE(lock->Held());
  EXPECT_EQ(FileLock::ReadHolder(path_), "");
  EXPECT_TRUE(std::filesystem::exists(path_)) << "the lock file must never be deleted";
}

TEST_F(FileLockTest, ASecondContenderWaitsUntilTheHolderReleases) {
  auto first = MakeLock("first");
  ASSERT_EQ(*first->Acquire(nullptr), AcquireOutcome::kAcquired);
  auto second = MakeLock("second");
  auto waiting = testing::AcquireBehindHolder(second.get(), 200ms);
  EXPECT_FALSE(second->Held());

  first->Release();
  testing::ExpectOutcome(waiting, AcquireOutcome::kAcquired);
  EXPECT_TRUE(second->Held());
  EXPECT_NE(FileLock::ReadHolder(path_).find("second"), std::string::npos);
}

TEST_F(FileLockTest, AWaiterTakesOverAtOnceWhenTheHoldingProcessIsKilled) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = open(path_.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(1);
    if (write(ready[1], "x", 1) != 1) _exit(1);
    for (;;) pause();
  }
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);

  auto lock = MakeLock("survivor");
  auto waiting = testing::AcquireBehindHolder(lock.get(), 200ms);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  testing::ExpectOutcome(waiting, AcquireOutcome::kAcquired);
}

TEST_F(FileLockTest, CancelEndsAWaitingAcquireAndLeavesTheLockFree) {
  auto holder = MakeLock("holder");
  ASSERT_EQ(*holder->Acquire(nullptr), AcquireOutcome::kAcquired);
  auto waiter = MakeLock("waiter");
  auto waiting = testing::AcquireBehindHolder(waiter.get(), 100ms);
  waiter->Cancel();
  testing::ExpectOutcome(waiting, AcquireOutcome::kCancelled);
  EXPECT_FALSE(waiter->Held());

  // The abandoned flock must not keep the lock once the holder lets go.
  holder->Release();
  auto third = MakeLock("third");
  auto next = AcquireAsync(third.get());
  testing::ExpectOutcome(next, AcquireOutcome::kAcquired);
}

TEST_F(FileLockTest, RemovingTheLockFileLosesTheLock) {
  auto lock = MakeLock("holder", 10ms);
  std::promise<Status> lost;
  ASSERT_EQ(*lock->Acquire([&lost](const Status& why) { lost.set_value(why); }),
            AcquireOutcome::kAcquired);
  std::filesystem::remove(path_);
  auto future = lost.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  Status why = future.get();
  EXPECT_EQ(why.code(), ErrorCode::kUnrecoverable);
  EXPECT_NE(why.message().find("removed or replaced"), std::string::npos) << why.message();
  EXPECT_FALSE(lock->Held());
}

TEST_F(FileLockTest, AcquireFailsWhenTheLockFileCannotBeCreated) {
  FileLock lock(FileLockOptions{dir_ + "/missing/bbs.db.lock", "x", 5000ms},
                Logger(LogSink::Null(), "test"));
  auto outcome = lock.Acquire(nullptr);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("cannot open lock file"), std::string::npos);
}

TEST(ProcessLocalLockTest, IsAlwaysFreeUntilCancelled) {
  ProcessLocalLock lock;
  EXPECT_EQ(*lock.Acquire(nullptr), AcquireOutcome::kAcquired);
  EXPECT_TRUE(lock.Held());
  ProcessLocalLock cancelled;
  cancelled.Cancel();
  EXPECT_EQ(*cancelled.Acquire(nullptr), AcquireOutcome::kCancelled);
}

}  // namespace
}  // namespace bbs::lock
