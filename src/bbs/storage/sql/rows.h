#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bbs/base/status.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/store.h"

// The column values of upstream's SQL rows (spec/behavior.md §10.1-10.2), shared by every SQL
// backend: records are turned into rows here, and each backend only binds and reads columns.
// Encrypted columns hold encoded values (routes, metric tags, internal routes) or serialised
// models (run_info, volume_placement, net_info, task_definition); JSON is written the way Go's
// encoding/json writes it. Pure functions; thread-safe.
namespace bbs::storage::sql {

struct DesiredRow {
  std::string process_guid;
  std::string domain;
  std::string log_guid;
  std::string annotation;
  int64_t instances = 0;
  int64_t memory_mb = 0;
  int64_t disk_mb = 0;
  int64_t max_pids = 0;
  std::string rootfs;
  std::string routes;            // encrypted JSON object
  std::string volume_placement;  // encrypted envelope
  std::string modification_tag_epoch;
  int64_t modification_tag_index = 0;
  std::string run_info;                       // encrypted envelope
  std::optional<std::string> placement_tags;  // plain JSON array
  std::optional<std::string> metric_tags;     // encrypted JSON object; NULL on old rows
  int64_t update_strategy = 0;
};

struct ActualRow {
  std::string process_guid;
  int64_t instance_index = 0;
  int64_t presence = 0;
  bool evacuating = false;
  std::string domain;
  std::string state;
  std::string instance_guid;
  std::string cell_id;
  std::string placement_error;
  int64_t since = 0;
  std::string net_info;  // encrypted envelope
  std::string modification_tag_epoch;
  int64_t modification_tag_index = 0;
  int64_t crash_count = 0;
  std::string crash_reason;
  std::optional<std::string> internal_routes;  // encrypted JSON array
  std::optional<std::string> metric_tags;      // encrypted JSON object
  bool routable = false;
  std::string availability_zone;
};

struct TaskRow {
  std::string guid;
  std::string domain;
  int64_t updated_at = 0;
  int64_t created_at = 0;
  int64_t first_completed_at = 0;
  int64_t state = 0;
  std::string cell_id;
  std::optional<std::string> result;
  bool failed = false;
  std::string failure_reason;
  std::string task_definition;  // encrypted envelope
  int64_t rejection_count = 0;
  std::string rejection_reason;
};

// Records -> rows. Fails with InvalidJson if a route value is not a JSON document (the API
// layer normalises routes, so only a caller bypassing it gets there).
Result<DesiredRow> EncodeDesired(const records::DesiredLRPRecord& record,
                                 const encryption::Encoder& encoder);
ActualRow EncodeActual(const models::ActualLRP& lrp, const encryption::Encoder& encoder);
TaskRow EncodeTask(const models::Task& task, const encryption::Encoder& encoder);

// Rows -> records. On failure the Status (kDeserialize or kInvalidJson) names the column; the
// caller deletes the row and logs (§10.2). `row` is consumed.
Status DecodeDesired(DesiredRow& row, const encryption::Encoder& encoder,
                     records::DesiredLRPRecord* out);
Status DecodeActual(ActualRow& row, const encryption::Encoder& encoder, models::ActualLRP* out);
Status DecodeTask(TaskRow& row, const encryption::Encoder& encoder, models::Task* out);

// Re-encrypts every encrypted column of a row with the active key (the encryptor, §10.3).
// Empty and NULL columns stay as they are.
Status ReencryptDesired(DesiredRow* row, const encryption::Encoder& encoder);
Status ReencryptActual(ActualRow* row, const encryption::Encoder& encoder);
Status ReencryptTask(TaskRow* row, const encryption::Encoder& encoder);

// The configurations row "version": {"CurrentVersion":N}.
std::string VersionJson(int64_t version);
// The version in `json`, or InvalidRecord-free failure (kUnrecoverable) if it is not one.
Result<int64_t> ParseVersionJson(std::string_view json);

// Go's json encodings of the blob plaintexts (exposed for the fixture tests).
Result<std::string> RoutesJson(const models::ProtoRoutes& routes);
std::string DesiredMetricTagsJson(
    const google::protobuf::Map<std::string, models::MetricTagValue>& tags);
std::string ActualMetricTagsJson(const google::protobuf::Map<std::string, std::string>& tags);
std::string InternalRoutesJson(
    const google::protobuf::RepeatedPtrField<models::ActualLRPInternalRoute>& routes);
std::string PlacementTagsJson(const google::protobuf::RepeatedPtrField<std::string>& tags);

}  // namespace bbs::storage::sql

#include <algorithm>
#include <thread>
#include <vector>

namespace bbs::storage::sql {

// Decodes rows[i] into (*out)[i] with `decode(Row&, Record*) -> Status`, spread over the
// machine's cores (decryption dominates start-up). Returns one Status per row.
template <typename Row, typename Record, typename Decode>
std::vector<Status> DecodeParallel(std::vector<Row>& rows, std::vector<Record>* out,
                                   const Decode& decode) {
  out->clear();
  out->resize(rows.size());
  std::vector<Status> statuses(rows.size());
  size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  if (rows.size() < 1024) {
    threads = 1;
  }
  auto work = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      statuses[i] = decode(rows[i], &(*out)[i]);
    }
  };
  std::vector<std::thread> pool;
  size_t chunk = (rows.size() + threads - 1) / threads;
  for (size_t t = 1; t < threads; ++t) {
    size_t begin = std::min(rows.size(), t * chunk);
    size_t end = std::min(rows.size(), begin + chunk);
    pool.emplace_back(work, begin, end);
  }
  work(0, std::min(rows.size(), chunk));
  for (auto& thread : pool) {
    thread.join();
  }
  return statuses;
}

// Upstream's migration versions (§10.4), ascending. A database at the last one has the final
// schema of §10.1.
inline constexpr int64_t kMigrationVersions[] = {
    1461790966, 1471030898, 1472757022, 1474908092, 1474993971, 1481761088, 1502289152,
    1522700600, 1523050077, 1528928964, 1529530809, 1643660541, 1674146125, 1676360874,
    1686692176, 1698182853, 1722634733, 1764949919, 1772581987,
};
inline constexpr int64_t kLatestVersion = 1772581987;

}  // namespace bbs::storage::sql
