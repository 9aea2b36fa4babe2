#include "bbs/storage/sql/load.h"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

namespace bbs::storage::sql {

Result<int64_t> StoredVersion(const std::optional<std::string>& stored) {
  int64_t version = 0;
  if (stored.has_value()) {
    auto parsed = ParseVersionJson(*stored);
    if (!parsed.ok()) {
      return parsed.status();
    }
    version = parsed.value();
  }
  if (version > kLatestVersion) {
    return Status(
        ErrorCode::kUnrecoverable,
        fmt::format("Existing DB version ({}) exceeds bbs version ({})", version, kLatestVersion));
  }
  return version;
}

namespace {

// Decodes `rows` into `out` with decode(Row&, Record*) (spread over the cores). Each row is
// released as soon as it is decoded, and `rows` once all are, so the encrypted text and the
// decoded records are not all in memory at once. A row that does not decode is reported to
// on_failure(key_of(row), status), its key taken before decoding.
template <typename Row, typename Record, typename KeyOf, typename Decode, typename OnFailure>
void DecodeTable(std::vector<Row>& rows, std::vector<Record>* out, const KeyOf& key_of,
                 const Decode& decode, const OnFailure& on_failure) {
  std::vector<decltype(key_of(std::declval<const Row&>()))> keys;
  keys.reserve(rows.size());
  for (const Row& row : rows) {
    keys.push_back(key_of(row));
  }
  std::vector<Record> records;
  auto statuses = DecodeParallel(rows, &records, [&](Row& row, Record* record) {
    Status s = decode(row, record);
    row = Row{};
    return s;
  });
  std::vector<Row>().swap(rows);
  out->reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (!statuses[i].ok()) {
      on_failure(keys[i], statuses[i]);
      continue;
    }
    out->push_back(std::move(records[i]));
  }
}

}  // namespace

void DecodeRows(std::vector<DesiredRow>& desired, std::vector<ActualRow>& actual,
                std::vector<TaskRow>& tasks, const encryption::Encoder& encoder,
                const Logger& logger, Snapshot* snapshot, std::vector<Mutation>* undecodable) {
  DecodeTable(
      desired, &snapshot->desired_lrps, [](const DesiredRow& row) { return row.process_guid; },
      [&](DesiredRow& row, records::DesiredLRPRecord* record) {
        return DecodeDesired(row, encoder, record);
      },
      [&](const std::string& guid, const Status& status) {
        logger.Error("failed-to-decode-desired-lrp", status.message(), {{"process_guid", guid}});
        undecodable->push_back(DeleteDesiredLrp{guid});
      });
  DecodeTable(
      actual, &snapshot->actual_lrps,
      [](const ActualRow& row) {
        return DeleteActualLrp{row.process_guid, static_cast<int32_t>(row.instance_index),
                               static_cast<models::ActualLRP::Presence>(row.presence)};
      },
      [&](ActualRow& row, models::ActualLRP* lrp) { return DecodeActual(row, encoder, lrp); },
      [&](const DeleteActualLrp& key, const Status& status) {
        logger.Error("failed-to-decode-actual-lrp", status.message(),
                     {{"process_guid", key.process_guid},
                      {"index", key.index},
                      {"presence", static_cast<int>(key.presence)}});
        undecodable->push_back(key);
      });
  DecodeTable(
      tasks, &snapshot->tasks, [](const TaskRow& row) { return row.guid; },
      [&](TaskRow& row, models::Task* task) { return DecodeTask(row, encoder, task); },
      [&](const std::string& guid, const Status& status) {
        logger.Error("failed-to-decode-task", status.message(), {{"task_guid", guid}});
        undecodable->push_back(DeleteTask{guid});
      });
}

BatchLoader::BatchLoader(const encryption::Encoder& encoder, const Logger& logger,
                         std::function<void(Snapshot* part)> on_batch, size_t workers)
    : encoder_(encoder), logger_(logger), on_batch_(std::move(on_batch)) {
  workers = std::max<size_t>(workers, 1);
  // One batch per worker, one being filled and one queued: the reader never waits for a
  // decoder unless both are behind, and at most this many batches of row text exist.
  for (size_t i = 0; i < workers + 2; ++i) {
    batches_.push_back(std::make_unique<Rows>());
    free_.push_back(batches_.back().get());
  }
  for (size_t i = 0; i < workers; ++i) {
    threads_.emplace_back([this] { Work(); });
  }
}

BatchLoader::~BatchLoader() { Finish(); }

BatchLoader::Rows* BatchLoader::Acquire() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !free_.empty(); });
  Rows* rows = free_.back();
  free_.pop_back();
  return rows;
}

void BatchLoader::Submit(Rows* rows) {
  {
    std::lock_guard lock(mu_);
    if (rows->size() == 0) {
      free_.push_back(rows);
    } else {
      queued_.push_back(rows);
    }
  }
  changed_.notify_all();
}

void BatchLoader::Finish() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& thread : threads_) {
    thread.join();
  }
  threads_.clear();
}

namespace {

template <typename Row>
void ReleaseUnused(std::vector<Row>& rows, size_t used) {
  if (used == 0 && !rows.empty()) {
    std::vector<Row>().swap(rows);
  }
}

}  // namespace

void BatchLoader::Work() {
  Snapshot part;  // this worker's decoded records, reused from batch to batch
  std::vector<Mutation> undecodable;
  size_t handed[3] = {0, 0, 0};
  for (;;) {
    Rows* rows = nullptr;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) {
        break;
      }
      rows = queued_.front();
      queued_.pop_front();
    }
    Decode(*rows, &part, &undecodable, handed);
    // A table's rows are kept for reuse only while its scan lasts (the next batch of the same
    // table): a batch without rows of a table frees that table's rows.
    ReleaseUnused(rows->desired, rows->desired_count);
    ReleaseUnused(rows->actual, rows->actual_count);
    ReleaseUnused(rows->tasks, rows->task_count);
    rows->desired_count = rows->actual_count = rows->task_count = 0;
    {
      std::lock_guard lock(mu_);
      free_.push_back(rows);
    }
    changed_.notify_all();
  }
  std::lock_guard lock(mu_);
  for (int i = 0; i < 3; ++i) {
    handed_[i] += handed[i];
  }
  for (auto& m : undecodable) {
    undecodable_.push_back(std::move(m));
  }
}

namespace {

// Decodes rows[0, count) into `records` (resized to the rows that decoded), reusing the records
// already there; a row that fails is reported to on_failure(record, status), the record holding
// what was decoded before the failure (the key columns come first).
template <typename Row, typename Record, typename Decode, typename OnFailure>
void DecodeInto(std::vector<Row>& rows, size_t count, std::vector<Record>* records,
                const Decode& decode, const OnFailure& on_failure) {
  if (records->size() < count) {
    records->resize(count);
  }
  size_t kept = 0;
  for (size_t i = 0; i < count; ++i) {
    Record& record = (*records)[kept];
    if (Status s = decode(rows[i], &record); !s.ok()) {
      on_failure(record, s);
      continue;
    }
    ++kept;
  }
  records->resize(kept);
}

}  // namespace

void BatchLoader::Decode(Rows& rows, Snapshot* part, std::vector<Mutation>* undecodable,
                         size_t handed[3]) {
  DecodeInto(
      rows.desired, rows.desired_count, &part->desired_lrps,
      [&](DesiredRow& row, records::DesiredLRPRecord* record) {
        return DecodeDesired(row, encoder_, record);
      },
      [&](const records::DesiredLRPRecord& record, const Status& status) {
        const std::string& guid = record.scheduling_info().desired_lrp_key().process_guid();
        logger_.Error("failed-to-decode-desired-lrp", status.message(), {{"process_guid", guid}});
        undecodable->push_back(DeleteDesiredLrp{guid});
      });
  DecodeInto(
      rows.actual, rows.actual_count, &part->actual_lrps,
      [&](ActualRow& row, models::ActualLRP* lrp) { return DecodeActual(row, encoder_, lrp); },
      [&](const models::ActualLRP& lrp, const Status& status) {
        DeleteActualLrp key{lrp.actual_lrp_key().process_guid(), lrp.actual_lrp_key().index(),
                            lrp.presence()};
        logger_.Error("failed-to-decode-actual-lrp", status.message(),
                      {{"process_guid", key.process_guid},
                       {"index", key.index},
                       {"presence", static_cast<int>(key.presence)}});
        undecodable->push_back(std::move(key));
      });
  part->tasks.clear();
  DecodeInto(
      rows.tasks, rows.task_count, &part->tasks,
      [&](TaskRow& row, models::Task* task) { return DecodeTask(row, encoder_, task); },
      [&](const models::Task& task, const Status& status) {
        logger_.Error("failed-to-decode-task", status.message(), {{"task_guid", task.task_guid()}});
        undecodable->push_back(DeleteTask{task.task_guid()});
      });
  handed[0] += part->desired_lrps.size();
  handed[1] += part->actual_lrps.size();
  handed[2] += part->tasks.size();
  part->lrps_reused = true;
  on_batch_(part);
  part->domains.clear();
  part->tasks.clear();
}

Status LoadWithRetries(int tries, std::chrono::milliseconds retry_delay, const Logger& logger,
                       const std::function<Status(Snapshot*, std::vector<Mutation>*)>& load_once,
                       const std::function<Status(std::span<const Mutation>)>& commit,
                       Snapshot* out) {
  Status status;
  std::vector<Mutation> undecodable;
  for (int attempt = 1; attempt <= tries; ++attempt) {
    undecodable.clear();
    status = load_once(out, &undecodable);
    if (status.ok() || status.code() != ErrorCode::kDeadlock) {
      break;
    }
    if (attempt < tries) {
      std::this_thread::sleep_for(retry_delay);
    }
  }
  if (!status.ok()) {
    logger.Error("failed-to-load", status.message());
    return status.code() == ErrorCode::kDeadlock ? UnknownError(status.message()) : status;
  }
  if (!undecodable.empty()) {
    // Upstream deletes a row it cannot decode when it reads it (§10.2).
    if (Status s = commit(undecodable); !s.ok()) {
      logger.Error("failed-to-delete-undecodable-rows", s.message());
    }
  }
  logger.Info("loaded", {{"domains", out->domains.size()},
                         {"desired_lrps", out->desired_lrps.size()},
                         {"actual_lrps", out->actual_lrps.size()},
                         {"tasks", out->tasks.size()},
                         {"undecodable", undecodable.size()}});
  return Status::Ok();
}

Status CommitWithRetries(int tries, std::chrono::milliseconds retry_delay, const Logger& logger,
                         const std::function<Status(std::span<const Mutation>)>& commit_once,
                         std::span<const Mutation> mutations) {
  if (mutations.empty()) {
    return Status::Ok();
  }
  Status status;
  for (int attempt = 1; attempt <= tries; ++attempt) {
    status = commit_once(mutations);
    if (status.ok() || status.code() != ErrorCode::kDeadlock) {
      break;
    }
    logger.Error("commit-failed-retrying", status.message(), {{"attempt", attempt}});
    if (attempt < tries) {
      std::this_thread::sleep_for(retry_delay);
    }
  }
  if (!status.ok()) {
    logger.Error("failed-to-commit", status.message(), {{"count", mutations.size()}});
    if (status.code() == ErrorCode::kDeadlock) {
      status = UnknownError(status.message());
    }
  }
  return status;
}

}  // namespace bbs::storage::sql
