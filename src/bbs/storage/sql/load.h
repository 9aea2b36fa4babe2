#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
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
          if constexpr (std::is_same_v<Value, std::string>) {
            r->*member = row.Text(column);
          } else if constexpr (std::is_same_v<Value, int64_t>) {
            r->*member = row.Int64(column);
          } else if constexpr (std::is_same_v<Value, bool>) {
            r->*member = row.Boolean(column);
          } else {
            r->*member = row.Optional(column);
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
