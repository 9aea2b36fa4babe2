#include "bbs/storage/sql/sql_store.h"

#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "bbs/storage/sql/load.h"

namespace bbs::storage::sql {

SqlStore::SqlStore(Logger logger, std::shared_ptr<const encryption::Encoder> encoder)
    : logger_(std::move(logger)), encoder_(std::move(encoder)) {}

Status SqlStore::Open() {
  const SqlStoreOptions& options = sql_options();
  struct Step {
    Status (SqlStore::*run)();
    const std::function<void(std::chrono::nanoseconds)>* finished;
  };
  const Step steps[] = {{&SqlStore::Connect, nullptr},
                        {&SqlStore::Migrate, &options.on_migrations_finished},
                        {&SqlStore::RunEncryptor, &options.on_encryption_finished}};
  for (const Step& step : steps) {
    auto start = std::chrono::steady_clock::now();
    Status status = (this->*step.run)();
    if (!status.ok()) {
      logger_.Error("failed-to-open", status.message());
      return status;
    }
    if (step.finished != nullptr && *step.finished) {
      (*step.finished)(std::chrono::steady_clock::now() - start);
    }
  }
  return Status::Ok();
}

Status SqlStore::Load(Snapshot* out) {
  return LoadWithRetries(
      kTries, sql_options().retry_delay, logger_,
      [this](Snapshot* snapshot, std::vector<Mutation>* undecodable) {
        return LoadOnce(snapshot, undecodable);
      },
      [this](std::span<const Mutation> mutations) { return Commit(mutations); }, out);
}

Status SqlStore::Commit(std::span<const Mutation> mutations) {
  return CommitWithRetries(
      kTries, sql_options().retry_delay, logger_,
      [this](std::span<const Mutation> batch) { return CommitOnce(batch); }, mutations);
}

Status SqlStore::ReadRows(RowSet* rows) {
  Status status = ReadDesiredRows(&rows->desired);
  if (status.ok()) {
    status = ReadActualRows(&rows->actual);
  }
  if (status.ok()) {
    status = ReadTaskRows(&rows->tasks);
  }
  return status;
}

Status SqlStore::Migrate() {
  if (Status s = CreateConfigurations(); !s.ok()) {
    return s;
  }
  auto stored = ReadConfiguration("version");
  if (!stored.ok()) {
    return stored.status();
  }
  auto checked = StoredVersion(stored.value());
  if (!checked.ok()) {
    return checked.status();
  }
  int64_t version = checked.value();
  if (version < kMigrationVersions[0]) {
    // The init migration: the final schema at once (upstream replays every step from here).
    if (Status s = CreateSchema(kLatestVersion); !s.ok()) {
      return s;
    }
    logger_.Info("created-schema", {{"version", kLatestVersion}});
    return Status::Ok();
  }
  for (size_t i = 1; i < std::size(kMigrationVersions); ++i) {
    int64_t target = kMigrationVersions[i];
    if (target <= version) {
      continue;
    }
    if (Status s = ApplyMigration(i - 1); !s.ok()) {
      return Status(ErrorCode::kUnrecoverable,
                    fmt::format("migration {} failed: {}", target, s.message()));
    }
    logger_.Info("migrated", {{"version", target}});
  }
  return Status::Ok();
}

Status SqlStore::CopyMetricTagsOutOfRunInfo(
    const std::vector<std::pair<std::string, std::string>>& rows,
    const std::function<Status(const std::string&, const std::string&)>& update) {
  for (const auto& [guid, encoded] : rows) {
    models::DesiredLRPRunInfo run_info;
    if (!encoder_->DecodeModel(encoded, &run_info).ok()) {
      logger_.Error("failed-to-decode-run-info", "skipped", {{"process_guid", guid}});
      continue;
    }
    if (Status s =
            update(guid, encoder_->EncodeValue(DesiredMetricTagsJson(run_info.metric_tags())));
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Status SqlStore::RunEncryptor() {
  return sql::RunEncryptor({[this] { return ReadConfiguration("encryption_key_label"); },
                            [this](RowSet* rows) { return BeginReencryption(rows); },
                            [this](const RowSet& rows) { return FinishReencryption(rows); },
                            [this](const Status& failure) { return AbortReencryption(failure); }},
                           *encoder_, logger_);
}

StoredRunInfo DecodeRunInfoColumn(std::string process_guid, std::string_view encoded,
                                  const encryption::Encoder& encoder, const Logger& logger) {
  StoredRunInfo out{std::move(process_guid), std::string()};
  if (encoded.empty()) {
    return out;
  }
  Result<std::string> decoded = encoder.DecodeModelBytes(encoded);
  if (!decoded.ok()) {
    logger.Error("failed-to-decode-run-info", decoded.status().message(),
                 {{"process_guid", out.process_guid}});
    out.run_info.reset();
    return out;
  }
  out.run_info = std::move(decoded).value();
  return out;
}

std::vector<StoredRunInfo> DecodeRunInfoColumns(
    std::vector<std::pair<std::string, std::string>> encoded, const encryption::Encoder& encoder,
    const Logger& logger) {
  std::vector<StoredRunInfo> out;
  out.reserve(encoded.size());
  for (auto& [guid, text] : encoded) {
    out.push_back(DecodeRunInfoColumn(std::move(guid), text, encoder, logger));
    std::string().swap(text);
  }
  return out;
}

Status RunEncryptor(const EncryptorSteps& steps, const encryption::Encoder& encoder,
                    const Logger& logger) {
  auto start = std::chrono::steady_clock::now();
  auto stored = steps.read_label();
  if (!stored.ok()) {
    return stored.status();
  }
  if (stored.value().has_value() && !encoder.HasLabel(*stored.value())) {
    return Status(ErrorCode::kUnrecoverable,
                  fmt::format("Existing encryption key version ({}) is not among the known keys",
                              *stored.value()));
  }
  if (stored.value() == encoder.active_label()) {
    return Status::Ok();
  }
  RowSet rows;
  Status status = steps.begin(&rows);
  const size_t desired = rows.desired.size();
  const size_t actual = rows.actual.size();
  const size_t tasks = rows.tasks.size();
  // A row that does not decode keeps its old encoding (upstream skips it).
  size_t skipped = std::erase_if(
      rows.desired, [&](DesiredRow& r) { return !ReencryptDesired(&r, encoder).ok(); });
  skipped +=
      std::erase_if(rows.actual, [&](ActualRow& r) { return !ReencryptActual(&r, encoder).ok(); });
  skipped +=
      std::erase_if(rows.tasks, [&](TaskRow& r) { return !ReencryptTask(&r, encoder).ok(); });
  if (status.ok()) {
    status = steps.finish(rows);
  }
  if (!status.ok()) {
    logger.Error("encryption-failed", status.message());
    return steps.abort(status);
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  // The one info line is the daemon's bbs.encryptor.encryption-finished (behavior.md §12.2);
  // this is only the detail of what was rewritten.
  logger.Debug(
      "reencrypted-rows",
      {{"desired_lrps", desired},
       {"actual_lrps", actual},
       {"tasks", tasks},
       {"undecodable", skipped},
       {"duration_ns", std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()}});
  return Status::Ok();
}

}  // namespace bbs::storage::sql
