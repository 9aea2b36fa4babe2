#include "bbs/storage/sql/load.h"

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
