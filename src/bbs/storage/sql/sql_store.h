#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/lease_lock.h"
#include "bbs/storage/sql/rows.h"
#include "bbs/storage/store.h"

namespace bbs::storage::sql {

// The options every client-server SQL backend (PostgreSQL, MySQL) takes.
struct SqlStoreOptions {
  std::chrono::nanoseconds connection_timeout = std::chrono::minutes(10);
  std::chrono::nanoseconds max_connection_lifetime{0};  // 0 = unlimited
  std::string ca_cert_file;                             // non-empty: TLS, verified against this CA
  bool verify_identity = true;
  std::chrono::milliseconds retry_delay{500};
  // Set with the lease lock: every Commit checks the lease epoch in its own transaction and
  // fails with Unrecoverable when another process took over (docs/ha.md).
  std::shared_ptr<const LeaseFence> fence;
  // Called with the duration of the migrations and of the encryptor once each finished (the
  // daemon logs bbs.migration-manager.finished-migrations / bbs.encryptor.encryption-finished).
  std::function<void(std::chrono::nanoseconds)> on_migrations_finished;
  std::function<void(std::chrono::nanoseconds)> on_encryption_finished;
};

// The rows of the three record tables.
struct RowSet {
  std::vector<DesiredRow> desired;
  std::vector<ActualRow> actual;
  std::vector<TaskRow> tasks;
};

// A desired_lrps row's run_info column (`encoded`, an encrypted serialised model) as the run
// info Store::ReadRunInfos returns: decrypted with whatever key its label names (so rows not
// yet re-encrypted read too); an empty column is an empty run info. A value that does not
// decode is logged ("failed-to-decode-run-info") and returned as nullopt.
StoredRunInfo DecodeRunInfoColumn(std::string process_guid, std::string_view encoded,
                                  const encryption::Encoder& encoder, const Logger& logger);
// DecodeRunInfoColumn of every (process guid, run_info column) pair, in order; each column's
// text is freed once decoded.
std::vector<StoredRunInfo> DecodeRunInfoColumns(
    std::vector<std::pair<std::string, std::string>> encoded, const encryption::Encoder& encoder,
    const Logger& logger);

// The encryptor (spec/behavior.md §10.3), the same for every SQL backend: when the stored key
// label differs from the active one, every row is re-encrypted with the active key inside one
// transaction and the label is written. A label that no key has is Unrecoverable; a row that
// does not decode keeps its old encoding; any other failure is logged ("encryption-failed") and
// left to the next start. Logs the counts at debug ("reencrypted-rows").
struct EncryptorSteps {
  std::function<Result<std::optional<std::string>>()> read_label;  // the stored label, if any
  std::function<Status(RowSet*)> begin;         // opens the transaction, reads every row
  std::function<Status(const RowSet&)> finish;  // writes the rows and the active label, commits
  std::function<Status(const Status&)> abort;   // rolls back; returns what Open reports
};
Status RunEncryptor(const EncryptorSteps& steps, const encryption::Encoder& encoder,
                    const Logger& logger);

// What the PostgreSQL and MySQL stores share (spec/behavior.md §10): Open's steps (connect,
// migrate, re-encrypt), the walk through the migration list, the encryptor, and Load and Commit
// with their retries (§10.5). A backend supplies its dialect through the protected hooks: how
// to connect, run statements and read rows. One connection; thread-compatible.
class SqlStore : public Store {
 public:
  Status Load(Snapshot* out) final;
  Status Commit(std::span<const Mutation> mutations) final;

 protected:
  static constexpr int kTries = 3;

  SqlStore(Logger logger, std::shared_ptr<const encryption::Encoder> encoder);

  // Connects, migrates and runs the encryptor, timing the last two for the options' callbacks.
  // The first failure is logged ("failed-to-open") and returned.
  Status Open();

  const Logger& logger() const { return logger_; }
  const encryption::Encoder& encoder() const { return *encoder_; }

  // Reads the three record tables inside the caller's transaction.
  Status ReadRows(RowSet* rows);

  // --- The dialect ---
  virtual const SqlStoreOptions& sql_options() const = 0;
  virtual Status Connect() = 0;
  // One transaction of the batch; kDeadlock when it may be retried.
  virtual Status CommitOnce(std::span<const Mutation> mutations) = 0;
  // One consistent read of every table; kDeadlock when it may be retried.
  virtual Status LoadOnce(Snapshot* out, std::vector<Mutation>* undecodable) = 0;
  virtual Status ReadDesiredRows(std::vector<DesiredRow>* out) = 0;
  virtual Status ReadActualRows(std::vector<ActualRow>* out) = 0;
  virtual Status ReadTaskRows(std::vector<TaskRow>* out) = 0;
  // The value of the configurations row `id`, nullopt when there is none.
  virtual Result<std::optional<std::string>> ReadConfiguration(const std::string& id) = 0;
  // Creates the configurations table if it is missing.
  virtual Status CreateConfigurations() = 0;
  // Creates the final schema on an empty database and records `version`.
  virtual Status CreateSchema(int64_t version) = 0;
  // Applies migration `index` of the dialect's list (version kMigrationVersions[index + 1])
  // and records its version. The caller reports a failure as Unrecoverable.
  virtual Status ApplyMigration(size_t index) = 0;
  // Opens the encryptor's transaction and reads every row into `rows`.
  virtual Status BeginReencryption(RowSet* rows) = 0;
  // Writes the re-encrypted `rows` and the active key label, and commits.
  virtual Status FinishReencryption(const RowSet& rows) = 0;
  // Rolls back after `failure`; returns what Open reports (OK: upstream logs and retries at
  // the next start).
  virtual Status AbortReencryption(const Status& failure) = 0;

  // Copies the metric tags out of each desired LRP's run info into the metric_tags column
  // (migration 1722634733): `rows` are (process_guid, run_info) of the rows without tags;
  // `update` writes (process_guid, encoded tags).
  Status CopyMetricTagsOutOfRunInfo(
      const std::vector<std::pair<std::string, std::string>>& rows,
      const std::function<Status(const std::string&, const std::string&)>& update);

 private:
  Status Migrate();
  Status RunEncryptor();

  Logger logger_;
  std::shared_ptr<const encryption::Encoder> encoder_;
};

}  // namespace bbs::storage::sql
