#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "bbs/base/status.h"
#include "models/actual_lrp.pb.h"
#include "models/task.pb.h"
#include "records/records.pb.h"

namespace bbs::storage {

// --- Mutations: the only way state changes in a Store. Puts are upserts by primary key. ---

struct PutDomain {
  std::string domain;
  int64_t expire_time = 0;  // Unix ns; INT64_MAX = never expires
};
struct DeleteDomain {
  std::string domain;
};
// Primary key: record.scheduling_info().desired_lrp_key().process_guid().
struct PutDesiredLrp {
  records::DesiredLRPRecord record;
};
struct DeleteDesiredLrp {
  std::string process_guid;
};
// Primary key: (actual_lrp_key.process_guid, actual_lrp_key.index, presence).
struct PutActualLrp {
  models::ActualLRP lrp;
};
struct DeleteActualLrp {
  std::string process_guid;
  int32_t index = 0;
  models::ActualLRP::Presence presence = models::ActualLRP::ORDINARY;
};
// Primary key: task.task_guid().
struct PutTask {
  models::Task task;
};
struct DeleteTask {
  std::string task_guid;
};

using Mutation = std::variant<PutDomain, DeleteDomain, PutDesiredLrp, DeleteDesiredLrp,
                              PutActualLrp, DeleteActualLrp, PutTask, DeleteTask>;

// Everything a Store holds, as loaded at start-up. Order within each vector is unspecified.
struct Snapshot {
  std::vector<PutDomain> domains;
  // Without their run info (field run_info is empty): it stays in the store and is read on
  // demand with Store::ReadRunInfos / ReadAllRunInfos.
  std::vector<records::DesiredLRPRecord> desired_lrps;
  std::vector<models::ActualLRP> actual_lrps;
  std::vector<models::Task> tasks;
  // Optional, set by the caller of Store::Load: a store that decodes in batches calls it with
  // its snapshot so far after each batch; the callee takes the records (and clears the
  // vectors), so the decoded records need not all be in memory at once. What is left in the
  // snapshot when Load returns was not handed over. Stores may ignore it. A store may call it
  // from several threads at once (each with its own part), so it must be thread-safe.
  std::function<void(Snapshot* part)> on_batch;
  // Set by the store in a part handed to on_batch when it reuses the LRP records' storage for
  // its next batches: the callee then copies what it keeps of desired_lrps and actual_lrps (it
  // may change them) and leaves both vectors as they are; it still takes domains and tasks.
  bool lrps_reused = false;
};

// The run info of one stored desired LRP (records::DesiredLRPRecord.run_info: the serialised
// models::DesiredLRPRunInfo, decrypted).
struct StoredRunInfo {
  std::string process_guid;
  // nullopt: the stored value does not decode (wrong key, corrupt); the backend logged it.
  std::optional<std::string> run_info;
};

// Store persists BBS records. It holds no business logic: the state engine decides, the store
// records. Implementations must make Commit atomic (all mutations or none) and durable (a
// successful Commit survives kill -9 and, where the engine allows, power loss).
//
// Thread-safety: Load and Commit may be called from any thread, but never concurrently with
// each other (the state engine has a single committer). ReadRunInfos and ReadAllRunInfos may be
// called from any thread at any time after Open, concurrently with each other and with Commit
// (not with Load).
class Store {
 public:
  virtual ~Store() = default;

  // Reads every record. A record that cannot be decoded is skipped (and reported in the log by
  // the backend); Load fails only when the store itself cannot be read.
  virtual Status Load(Snapshot* out) = 0;

  // Applies `mutations` in order inside one transaction. A delete of a missing key is not an
  // error. On failure nothing is applied and the error is UnknownError (I/O) or Unrecoverable
  // (the schema is broken).
  virtual Status Commit(std::span<const Mutation> mutations) = 0;

  // Commits a group of changes: change i is mutations[change_ends[i - 1], change_ends[i]) (the
  // first starts at 0; the last end is mutations.size()). Each change is all-or-nothing; the
  // default makes the whole group one transaction (Commit). A backend whose transactions are
  // bounded (etcd) may split the group at change boundaries and document what it does with a
  // change that alone exceeds its bounds.
  virtual Status CommitChanges(std::span<const Mutation> mutations,
                               std::span<const size_t> change_ends) {
    (void)change_ends;
    return Commit(mutations);
  }

  // The run info of each desired LRP of `process_guids` that the store holds (committed), in
  // any order; a guid with no desired LRP is left out. A read sees every Commit that returned
  // before it started. On failure (the store cannot be read) the error is UnknownError. The
  // default (for test doubles) fails.
  virtual Result<std::vector<StoredRunInfo>> ReadRunInfos(
      std::span<const std::string> process_guids) {
    (void)process_guids;
    return UnknownError("this store does not read run infos");
  }
  // The run info of every desired LRP the store holds, in any order.
  virtual Result<std::vector<StoredRunInfo>> ReadAllRunInfos() {
    return UnknownError("this store does not read run infos");
  }
};

}  // namespace bbs::storage
