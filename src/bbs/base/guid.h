#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

namespace bbs {

// Makes GUIDs for modification-tag epochs and instances. Thread-safe.
class GuidGenerator {
 public:
  virtual ~GuidGenerator() = default;
  // A new random UUID v4 in its canonical 36-character form.
  virtual std::string NewGuid() = 0;
};

// Random UUID v4 from a cryptographically seeded generator.
class RandomGuidGenerator final : public GuidGenerator {
 public:
  RandomGuidGenerator();
  ~RandomGuidGenerator() override;
  std::string NewGuid() override;

 private:
  struct Impl;
  std::mutex mu_;
  std::unique_ptr<Impl> impl_;
};

// Deterministic "guid-1", "guid-2", ... for tests.
class SequentialGuidGenerator final : public GuidGenerator {
 public:
  explicit SequentialGuidGenerator(std::string prefix = "guid-") : prefix_(std::move(prefix)) {}
  std::string NewGuid() override { return prefix_ + std::to_string(++next_); }

 private:
  std::string prefix_;
  std::atomic<int> next_{0};
};

}  // namespace bbs
