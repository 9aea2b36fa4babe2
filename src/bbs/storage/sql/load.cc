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

void DecodeRows(std::vector<DesiredRow>& desired, std::vector<ActualRow>& actual,
                std::vector<TaskRow>& tasks, const encryption::Encoder& encoder,
                const Logger& logger, Snapshot* snapshot, std::vector<Mutation>* undecodable) {
  {
    std::vector<std::string> guids;
    guids.reserve(desired.size());
    for (const auto& row : desired) {
      guids.push_back(row.process_guid);
    }
    std::vector<records::DesiredLRPRecord> records;
    // Each row is released as soon as it is decoded, and the row vectors once a table is
    // done, so the encrypted text and the decoded records are not all in memory at once.
    auto statuses = DecodeParallel(desired, &records, [&](DesiredRow& row, auto* rec) {
      Status s = DecodeDesired(row, encoder, rec);
      row = DesiredRow{};
      return s;
    });
    std::vector<DesiredRow>().swap(desired);
    snapshot->desired_lrps.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      if (!statuses[i].ok()) {
        logger.Error("failed-to-decode-desired-lrp", statuses[i].message(),
                     {{"process_guid", guids[i]}});
        undecodable->push_back(DeleteDesiredLrp{guids[i]});
        continue;
      }
      snapshot->desired_lrps.push_back(std::move(records[i]));
    }
  }
  {
    std::vector<DeleteActualLrp> keys;
    keys.reserve(actual.size());
    for (const auto& row : actual) {
      keys.push_back({row.process_guid, static_cast<int32_t>(row.instance_index),
                      static_cast<models::ActualLRP::Presence>(row.presence)});
    }
    std::vector<models::ActualLRP> lrps;
    auto statuses = DecodeParallel(actual, &lrps, [&](ActualRow& row, auto* lrp) {
      Status s = DecodeActual(row, encoder, lrp);
      row = ActualRow{};
      return s;
    });
    std::vector<ActualRow>().swap(actual);
    snapshot->actual_lrps.reserve(lrps.size());
    for (size_t i = 0; i < lrps.size(); ++i) {
      if (!statuses[i].ok()) {
        logger.Error("failed-to-decode-actual-lrp", statuses[i].message(),
                     {{"process_guid", keys[i].process_guid},
                      {"index", keys[i].index},
                      {"presence", static_cast<int>(keys[i].presence)}});
        undecodable->push_back(keys[i]);
        continue;
      }
      snapshot->actual_lrps.push_back(std::move(lrps[i]));
    }
  }
  {
    std::vector<std::string> guids;
    guids.reserve(tasks.size());
    for (const auto& row : tasks) {
      guids.push_back(row.guid);
    }
    std::vector<models::Task> decoded;
    auto statuses = DecodeParallel(tasks, &decoded, [&](TaskRow& row, auto* task) {
      Status s = DecodeTask(row, encoder, task);
      row = TaskRow{};
      return s;
    });
    std::vector<TaskRow>().swap(tasks);
    snapshot->tasks.reserve(decoded.size());
    for (size_t i = 0; i < decoded.size(); ++i) {
      if (!statuses[i].ok()) {
        logger.Error("failed-to-decode-task", statuses[i].message(), {{"task_guid", guids[i]}});
        undecodable->push_back(DeleteTask{guids[i]});
        continue;
      }
      snapshot->tasks.push_back(std::move(decoded[i]));
    }
  }
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
