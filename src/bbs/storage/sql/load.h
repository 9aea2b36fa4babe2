#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
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
inline constexpr const char* kSelectActual =
    "SELECT process_guid, instance_index, presence, evacuating, domain, state, instance_guid, "
    "cell_id, placement_error, since, net_info, modification_tag_epoch, modification_tag_index, "
    "crash_count, crash_reason, internal_routes, metric_tags, routable, availability_zone "
    "FROM actual_lrps";
inline constexpr const char* kSelectTasks =
    "SELECT guid, domain, updated_at, created_at, first_completed_at, state, cell_id, result, "
    "failed, failure_reason, task_definition, rejection_count, rejection_reason FROM tasks";

// One result row of the SELECTs above -> a row struct. `Columns` is the backend's cursor over
// one result row: Text(c), Int64(c), Optional(c) (NULL -> nullopt) and Boolean(c).
template <typename Columns>
void ReadDesiredRow(const Columns& row, DesiredRow* r) {
  r->process_guid = row.Text(0);
  r->domain = row.Text(1);
  r->log_guid = row.Text(2);
  r->annotation = row.Text(3);
  r->instances = row.Int64(4);
  r->memory_mb = row.Int64(5);
  r->disk_mb = row.Int64(6);
  r->max_pids = row.Int64(7);
  r->rootfs = row.Text(8);
  r->routes = row.Text(9);
  r->volume_placement = row.Text(10);
  r->modification_tag_epoch = row.Text(11);
  r->modification_tag_index = row.Int64(12);
  r->run_info = row.Text(13);
  r->placement_tags = row.Optional(14);
  r->metric_tags = row.Optional(15);
  r->update_strategy = row.Int64(16);
}

template <typename Columns>
void ReadActualRow(const Columns& row, ActualRow* r) {
  r->process_guid = row.Text(0);
  r->instance_index = row.Int64(1);
  r->presence = row.Int64(2);
  r->evacuating = row.Boolean(3);
  r->domain = row.Text(4);
  r->state = row.Text(5);
  r->instance_guid = row.Text(6);
  r->cell_id = row.Text(7);
  r->placement_error = row.Text(8);
  r->since = row.Int64(9);
  r->net_info = row.Text(10);
  r->modification_tag_epoch = row.Text(11);
  r->modification_tag_index = row.Int64(12);
  r->crash_count = row.Int64(13);
  r->crash_reason = row.Text(14);
  r->internal_routes = row.Optional(15);
  r->metric_tags = row.Optional(16);
  r->routable = row.Boolean(17);
  r->availability_zone = row.Text(18);
}

template <typename Columns>
void ReadTaskRow(const Columns& row, TaskRow* r) {
  r->guid = row.Text(0);
  r->domain = row.Text(1);
  r->updated_at = row.Int64(2);
  r->created_at = row.Int64(3);
  r->first_completed_at = row.Int64(4);
  r->state = row.Int64(5);
  r->cell_id = row.Text(6);
  r->result = row.Optional(7);
  r->failed = row.Boolean(8);
  r->failure_reason = row.Text(9);
  r->task_definition = row.Text(10);
  r->rejection_count = row.Int64(11);
  r->rejection_reason = row.Text(12);
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
