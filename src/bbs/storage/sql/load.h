#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "bbs/base/logger.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/rows.h"
#include "bbs/storage/store.h"

// The engine-independent half of an SQL backend's start-up (version check, row mapping, decode):
// the backend runs the statements with its own client library, and this turns results into a
// Snapshot.
namespace bbs::storage::sql {

// The SELECTs of the three tables, in the column order the Read*Row functions below expect
// (the same text in every dialect).
inline constexpr const char* kSelectDesired =
    "SELECT process_guid, domain, log_guid, annotation, instances, memory_mb, disk_mb, "
    "max_pids, rootfs, routes, volume_placement, modification_tag_epoch, modification_tag_index, "
    "run_info, placement_tags, metric_tags, update_strategy FROM desired_lrps";
// The same columns for the start-up load, without the run info (an empty column: read on demand
// by Store::ReadRunInfos).
inline constexpr const char* kLoadDesired =
    "SELECT process_guid, domain, log_guid, annotation, instances, memory_mb, disk_mb, "
    "max_pids, rootfs, routes, volume_placement, modification_tag_epoch, modification_tag_index, "
    "'', placement_tags, metric_tags, update_strategy FROM desired_lrps";
inline constexpr const char* kSelectActual =
    "SELECT process_guid, instance_index, presence, evacuating, domain, state, instance_guid, "
    "cell_id, placement_error, since, net_info, modification_tag_epoch, modification_tag_index, "
    "crash_count, crash_reason, internal_routes, metric_tags, routable, availability_zone "
    "FROM actual_lrps";
inline constexpr const char* kSelectTasks =
    "SELECT guid, domain, updated_at, created_at, first_completed_at, state, cell_id, result, "
    "failed, failure_reason, task_definition, rejection_count, rejection_reason FROM tasks";

// The columns of a row struct in the order of its SELECT above: the member each one fills (its
// type says how the column is read).
template <typename Row>
using ColumnMember = std::variant<std::string Row::*, int64_t Row::*,
                                  std::optional<std::string> Row::*, bool Row::*>;
inline constexpr ColumnMember<DesiredRow> kDesiredColumns[] = {&DesiredRow::process_guid,
                                                               &DesiredRow::domain,
                                                               &DesiredRow::log_guid,
                                                               &DesiredRow::annotation,
                                                               &DesiredRow::instances,
                                                               &DesiredRow::memory_mb,
                                                               &DesiredRow::disk_mb,
                                                               &DesiredRow::max_pids,
                                                               &DesiredRow::rootfs,
                                                               &DesiredRow::routes,
                                                               &DesiredRow::volume_placement,
                                                               &DesiredRow::modification_tag_epoch,
                                                               &DesiredRow::modification_tag_index,
                                                               &DesiredRow::run_info,
                                                               &DesiredRow::placement_tags,
                                                               &DesiredRow::metric_tags,
                                                               &DesiredRow::update_strategy};
inline constexpr ColumnMember<ActualRow> kActualColumns[] = {&ActualRow::process_guid,
                                                             &ActualRow::instance_index,
                                                             &ActualRow::presence,
                                                             &ActualRow::evacuating,
                                                             &ActualRow::domain,
                                                             &ActualRow::state,
                                                             &ActualRow::instance_guid,
                                                             &ActualRow::cell_id,
                                                             &ActualRow::placement_error,
                                                             &ActualRow::since,
                                                             &ActualRow::net_info,
                                                             &ActualRow::modification_tag_epoch,
                                                             &ActualRow::modification_tag_index,
                                                             &ActualRow::crash_count,
                                                             &ActualRow::crash_reason,
                                                             &ActualRow::internal_routes,
                                                             &ActualRow::metric_tags,
                                                             &ActualRow::routable,
                                                             &ActualRow::availability_zone};
inline constexpr ColumnMember<TaskRow> kTaskColumns[] = {&TaskRow::guid,
                                                         &TaskRow::domain,
                                                         &TaskRow::updated_at,
                                                         &TaskRow::created_at,
                                                         &TaskRow::first_completed_at,
                                                         &TaskRow::state,
                                                         &TaskRow::cell_id,
                                                         &TaskRow::result,
                                                         &TaskRow::failed,
                                                         &TaskRow::failure_reason,
                                                         &TaskRow::task_definition,
                                                         &TaskRow::rejection_count,
                                                         &TaskRow::rejection_reason};

// One result row of a SELECT above -> its row struct. `Columns` is the backend's cursor over
// one result row: Text(c), Int64(c), Optional(c) (NULL -> nullopt) and Boolean(c).
template <typename Columns, typename Row, size_t N>
void ReadRow(const Columns& row, const ColumnMember<Row> (&columns)[N], Row* r) {
  for (size_t c = 0; c < N; ++c) {
    const int column = static_cast<int>(c);
    std::visit(
        [&](auto member) {
          using Value = std::remove_reference_t<decltype(r->*member)>;
          // Assigned in place (Text may return a view): a reused row keeps its buffers.
          if constexpr (std::is_same_v<Value, std::string>) {
            r->*member = row.Text(column);
          } else if constexpr (std::is_same_v<Value, int64_t>) {
            r->*member = row.Int64(column);
          } else if constexpr (std::is_same_v<Value, bool>) {
            r->*member = row.Boolean(column);
          } else {
            auto value = row.Optional(column);
            if (!value.has_value()) {
              (r->*member).reset();
            } else if ((r->*member).has_value()) {
              *(r->*member) = std::move(*value);
            } else {
              (r->*member).emplace(std::move(*value));
            }
          }
        },
        columns[c]);
  }
}
template <typename Columns>
void ReadDesiredRow(const Columns& row, DesiredRow* r) {
  ReadRow(row, kDesiredColumns, r);
}
template <typename Columns>
void ReadActualRow(const Columns& row, ActualRow* r) {
  ReadRow(row, kActualColumns, r);
}
template <typename Columns>
void ReadTaskRow(const Columns& row, TaskRow* r) {
  ReadRow(row, kTaskColumns, r);
}

// The schema version in the configurations row's value (`stored`; no row is version 0), or
// kUnrecoverable if the value is not a version or is newer than this bbs knows (§10.4).
Result<int64_t> StoredVersion(const std::optional<std::string>& stored);

// Decodes the rows into `snapshot` (spread over the cores). A row that does not decode is
// logged ("failed-to-decode-…") and its delete appended to `undecodable` (§10.2). Rows are
// consumed: each is released once decoded and the three vectors are left empty, so the
// encrypted text is gone before the model is built.
void DecodeRows(std::vector<DesiredRow>& desired, std::vector<ActualRow>& actual,
                std::vector<TaskRow>& tasks, const encryption::Encoder& encoder,
                const Logger& logger, Snapshot* snapshot, std::vector<Mutation>* undecodable);

// The start-up decode of an SQL backend as a pipeline: the backend's reading thread fills
// batches of rows (Acquire, fill, Submit) while `workers` threads decode the submitted batches
// and hand each one to `on_batch`, so reading, decrypting and building the model run on every
// core at once. Rows and decoded records are reused from batch to batch: once warm, decoding a
// row allocates (almost) nothing, and nothing is freed per record.
//
// Each decoded batch is handed to on_batch(part) with part->lrps_reused set: the callee copies
// what it keeps of part->desired_lrps and part->actual_lrps (it may change them) and leaves
// them in place; it takes the tasks and domains. With several workers on_batch is called from
// several threads at once and batches arrive in no particular order; with one worker, in
// submission order. A row that does not decode is logged ("failed-to-decode-…") and its delete
// collected (§10.2); its key is read from the partly decoded record.
class BatchLoader {
 public:
  // The rows of one batch. Only the first *_count rows of each vector are in use; the rest are
  // kept (with their buffers) for the next batches.
  struct Rows {
    std::vector<DesiredRow> desired;
    std::vector<ActualRow> actual;
    std::vector<TaskRow> tasks;
    size_t desired_count = 0, actual_count = 0, task_count = 0;
    size_t size() const { return desired_count + actual_count + task_count; }
    DesiredRow& NextDesired() { return Next(desired, desired_count); }
    ActualRow& NextActual() { return Next(actual, actual_count); }
    TaskRow& NextTask() { return Next(tasks, task_count); }

   private:
    template <typename Row>
    static Row& Next(std::vector<Row>& rows, size_t& count) {
      if (count == rows.size()) rows.emplace_back();
      return rows[count++];
    }
  };

  // REQUIRES: workers >= 1; on_batch callable from `workers` threads at once.
  BatchLoader(const encryption::Encoder& encoder, const Logger& logger,
              std::function<void(Snapshot* part)> on_batch, size_t workers);
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  ~BatchLoader();  // Finish()

  // An empty batch to fill: blocks while every batch is being filled, queued or decoded.
  Rows* Acquire();
  // Queues a filled batch for decoding (an empty one is just released).
  void Submit(Rows* rows);
  // Waits until every submitted batch is decoded and handed over, and stops the workers.
  void Finish();

  // After Finish: records handed to on_batch (desired, actual, tasks) and the deletes of the
  // rows that did not decode.
  size_t desired_count() const { return handed_[0]; }
  size_t actual_count() const { return handed_[1]; }
  size_t task_count() const { return handed_[2]; }
  std::vector<Mutation>& undecodable() { return undecodable_; }

 private:
  void Work();
  void Decode(Rows& rows, Snapshot* part, std::vector<Mutation>* undecodable, size_t handed[3]);

  const encryption::Encoder& encoder_;
  const Logger& logger_;
  std::function<void(Snapshot*)> on_batch_;
  std::vector<std::unique_ptr<Rows>> batches_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Rows*> free_;            // guarded by mu_
  std::deque<Rows*> queued_;           // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  size_t handed_[3] = {0, 0, 0};       // guarded by mu_
  std::vector<Mutation> undecodable_;  // guarded by mu_
  std::vector<std::thread> threads_;
};

// The whole start-up load of an SQL backend: runs `load_once` (one read of every table) up to
// `tries` times while it fails with kDeadlock (a retryable conflict or lost connection),
// sleeping `retry_delay` in between; a last kDeadlock is reported as UnknownError. Then deletes
// the rows that did not decode through `commit` (§10.2) and logs "loaded".
Status LoadWithRetries(int tries, std::chrono::milliseconds retry_delay, const Logger& logger,
                       const std::function<Status(Snapshot*, std::vector<Mutation>*)>& load_once,
                       const std::function<Status(std::span<const Mutation>)>& commit,
                       Snapshot* out);

// A commit of an SQL backend: runs `commit_once` up to `tries` times while it fails with
// kDeadlock, logging each retry and sleeping `retry_delay` in between; a last kDeadlock is
// reported as UnknownError. An empty batch succeeds without calling `commit_once`.
Status CommitWithRetries(int tries, std::chrono::milliseconds retry_delay, const Logger& logger,
                         const std::function<Status(std::span<const Mutation>)>& commit_once,
                         std::span<const Mutation> mutations);

}  // namespace bbs::storage::sql
