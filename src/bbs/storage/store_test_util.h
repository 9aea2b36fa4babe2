#pragma once

#include <filesystem>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/base/status_matchers.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/store.h"

namespace bbs {
// Lets gtest print a Status as "ResourceNotFound: ..." instead of its bytes.
inline void PrintTo(const Status& status, std::ostream* os) { *os << status.ToString(); }
}  // namespace bbs

// Helpers for the storage tests: fully populated records, a temp directory, matchers.
namespace bbs::storage::testing {

// Sets every field of `message` (recursively, nested messages to a bounded depth) to a value
// derived from `seed`: strings with quotes, a backslash and UTF-8; negative and extreme
// integers; the last value of each enum; two entries in repeated fields and maps near the top.
// In each oneof, the first member is set.
void FillAllFields(google::protobuf::Message* message, int seed);

// An encoder with one key ("test-key") active; `label` chooses another label name.
std::shared_ptr<const encryption::Encoder> TestEncoder(const std::string& label = "test-key");

// Records with every field set, then the primary key overwritten with the given values. Route
// values are JSON documents (the only kind the API lets through).
records::DesiredLRPRecord FullDesiredLrp(const std::string& process_guid, int seed);
models::ActualLRP FullActualLrp(const std::string& process_guid, int32_t index,
                                models::ActualLRP::Presence presence, int seed);
models::Task FullTask(const std::string& task_guid, int seed);

// Small records as the state engine writes them (for bulk tests).
models::ActualLRP SmallActualLrp(const std::string& process_guid, int32_t index);
models::Task SmallTask(const std::string& task_guid);

// Lookups in a snapshot by primary key; null if absent.
const PutDomain* FindDomain(const Snapshot& snapshot, const std::string& domain);
const records::DesiredLRPRecord* FindDesiredLrp(const Snapshot& snapshot,
                                                const std::string& process_guid);
const models::ActualLRP* FindActualLrp(const Snapshot& snapshot, const std::string& process_guid,
                                       int32_t index, models::ActualLRP::Presence presence);
const models::Task* FindTask(const Snapshot& snapshot, const std::string& task_guid);

// A fresh directory under the system temp directory, removed with everything in it.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A LogSink that keeps every line (debug level and up).
class CapturingSink final : public LogSink {
 public:
  CapturingSink() : LogSink(LogLevel::kDebug) {}
  void Write(const std::string& line) override;
  std::vector<std::string> lines() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

inline Logger NullLogger() { return Logger(LogSink::Null(), "bbs"); }

// The store `opened` holds, as a Store, or its error.
template <typename S>
Result<std::unique_ptr<Store>> AsStore(Result<std::unique_ptr<S>> opened) {
  if (!opened.ok()) {
    return opened.status();
  }
  return std::unique_ptr<Store>(std::move(opened).value());
}

// A reason to skip a test of a server backend when `location` (its test server's address from
// `variable`, set by scripts/servers/`script`) is empty, or "".
inline std::string UnlessServerSet(const std::string& location, const std::string& variable,
                                   const std::string& script) {
  return location.empty() ? variable + " is not set (scripts/servers/" + script + ")"
                          : std::string();
}

// Matches a message equal to `expected` per MessageDifferencer::Equals; explains the difference.
MATCHER_P(EqualsProto, expected, "equals " + expected.ShortDebugString()) {
  google::protobuf::util::MessageDifferencer differencer;
  std::string report;
  differencer.ReportDifferencesToString(&report);
  if (differencer.Compare(arg, expected)) {
    return true;
  }
  *result_listener << "differences:\n" << report;
  return false;
}

// The Status matchers every test shares (base/status_matchers.h).
using ::bbs::IsOk;
using ::bbs::StatusIs;

}  // namespace bbs::storage::testing
