#include "bbs/storage/etcd/etcd_store.h"

#include <charconv>
#include <chrono>
#include <climits>
#include <future>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <google/protobuf/message_lite.h>
#include <google/protobuf/unknown_field_set.h>
#include <nlohmann/json.hpp>

namespace bbs::storage::etcd {
namespace {

// Fields appended to the serialized DesiredLRPSchedulingInfo for the record's columns that the
// seed's schedule node did not have. The seed's decoder skips them as unknown fields.
constexpr int kMetricTagsField = 1001;      // records.MetricTags, length-delimited
constexpr int kUpdateStrategyField = 1002;  // varint
// etcd's upper bound on a lease TTL, in seconds.
constexpr int64_t kMaxLeaseTtl = 9'000'000'000;
// Room left in a transaction for etcd's own framing of the request.
constexpr int64_t kTxnOverheadBytes = 16 * 1024;
// Per-operation framing inside a transaction (tags, lengths, lease).
constexpr int64_t kOpOverheadBytes = 32;

// The last segment of an actual LRP's key, by presence (the seed's layout).
struct PresenceSegment {
  models::ActualLRP::Presence presence;
  std::string_view name;
};
constexpr PresenceSegment kPresenceSegments[] = {
    {models::ActualLRP::ORDINARY, "instance"},
    {models::ActualLRP::EVACUATING, "evacuating"},
    {models::ActualLRP::SUSPECT, "suspect"},
};

// Any other presence is stored as an ordinary instance.
std::string_view PresenceName(models::ActualLRP::Presence presence) {
  for (const PresenceSegment& segment : kPresenceSegments) {
    if (segment.presence == presence) return segment.name;
  }
  return "instance";
}

std::optional<models::ActualLRP::Presence> PresenceFromName(std::string_view name) {
  for (const PresenceSegment& segment : kPresenceSegments) {
    if (segment.name == name) return segment.presence;
  }
  return std::nullopt;
}

// The smallest key greater than every key starting with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

std::string SerializeSchedule(const records::DesiredLRPRecord& record) {
  std::string out = record.scheduling_info().SerializeAsString();
  if (!record.metric_tags().empty()) {
    records::MetricTags tags;
    tags.mutable_tags()->insert(record.metric_tags().begin(), record.metric_tags().end());
    std::string bytes = tags.SerializeAsString();
    AppendVarint(&out, (uint64_t{kMetricTagsField} << 3) | 2);
    AppendVarint(&out, bytes.size());
    out += bytes;
  }
  if (record.update_strategy() != 0) {
    AppendVarint(&out, uint64_t{kUpdateStrategyField} << 3);
    AppendVarint(&out, static_cast<uint64_t>(static_cast<int64_t>(record.update_strategy())));
  }
  return out;
}

bool ParseSchedule(const std::string& bytes, records::DesiredLRPRecord* record) {
  models::DesiredLRPSchedulingInfo* info = record->mutable_scheduling_info();
  if (!info->ParseFromString(bytes)) {
    return false;
  }
  const google::protobuf::UnknownFieldSet& unknown = info->GetReflection()->GetUnknownFields(*info);
  for (int i = 0; i < unknown.field_count(); ++i) {
    const google::protobuf::UnknownField& field = unknown.field(i);
    if (field.number() == kMetricTagsField &&
        field.type() == google::protobuf::UnknownField::TYPE_LENGTH_DELIMITED) {
      records::MetricTags tags;
      if (!tags.ParseFromString(field.length_delimited())) {
        return false;
      }
      record->mutable_metric_tags()->insert(tags.tags().begin(), tags.tags().end());
    } else if (field.number() == kUpdateStrategyField &&
               field.type() == google::protobuf::UnknownField::TYPE_VARINT) {
      record->set_update_strategy(
          static_cast<models::DesiredLRP::UpdateStrategy>(static_cast<int>(field.varint())));
    }
  }
  info->GetReflection()->MutableUnknownFields(info)->Clear();
  return true;
}

int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// --- KeyLayout -----------------------------------------------------------------------------

std::string KeyLayout::Domain(std::string_view domain) const {
  return fmt::format("{}/v1/domain/{}", root, domain);
}
std::string KeyLayout::DesiredSchedule(std::string_view process_guid) const {
  return fmt::format("{}/v1/desired_lrp/schedule/{}", root, process_guid);
}
std::string KeyLayout::DesiredRun(std::string_view process_guid) const {
  return fmt::format("{}/v1/desired_lrp/run/{}", root, process_guid);
}
std::string KeyLayout::Actual(std::string_view process_guid, int32_t index,
                              models::ActualLRP::Presence presence) const {
  return fmt::format("{}/v1/actual/{}/{}/{}", root, process_guid, index, PresenceName(presence));
}
std::string KeyLayout::Task(std::string_view task_guid) const {
  return fmt::format("{}/v1/task/{}", root, task_guid);
}

// --- EtcdStore -----------------------------------------------------------------------------

struct EtcdStore::Op {
  std::string key;
  bool del = false;
  std::string value;
  int64_t ttl_seconds = 0;  // > 0: put with a lease of this TTL
  int64_t lease = 0;        // the granted lease
  bool joined = false;      // must share the transaction of the op before it
};

namespace {

EtcdStore::Op PutOp(std::string key, std::string value) {
  EtcdStore::Op op;
  op.key = std::move(key);
  op.value = std::move(value);
  return op;
}

EtcdStore::Op DeleteOp(std::string key) {
  EtcdStore::Op op;
  op.key = std::move(key);
  op.del = true;
  return op;
}

}  // namespace

Result<std::unique_ptr<EtcdStore>> EtcdStore::Open(Options options, Logger logger) {
  if (options.max_ops_per_txn < 1 || options.max_request_bytes < 2 * kTxnOverheadBytes ||
      options.page_size < 1) {
    return InvalidRequest("etcd store limits must be positive");
  }
  if (!options.encoder) {
    return InvalidRequest("the etcd store needs an encoder (encryption_keys, active_key_label)");
  }
  EtcdClientOptions client_options = options.client;
  client_options.retry_budget = options.connect_timeout;
  client_options.attempt_timeout =
      std::min(client_options.attempt_timeout, options.connect_timeout);
  auto probe = EtcdClient::Create(client_options, logger.Session("etcd-client"));
  if (!probe.ok()) {
    return probe.status();
  }
  etcdserverpb::StatusResponse status;
  if (Status s = (*probe)->MemberStatus(&status); !s.ok()) {
    return UnknownError(fmt::format("cannot reach etcd at {}: {}",
                                    fmt::join(options.client.endpoints, ","), s.message()));
  }
  probe->reset();
  auto client = EtcdClient::Create(options.client, logger.Session("etcd-client"));
  if (!client.ok()) {
    return client.status();
  }
  logger.Info("etcd-connected", {{"endpoints", options.client.endpoints},
                                 {"version", status.version()},
                                 {"root", options.root}});
  std::unique_ptr<EtcdStore> store(
      new EtcdStore(std::move(options), std::move(client).value(), std::move(logger)));
  if (Status s = store->EnsureVersion(); !s.ok()) {
    return s;
  }
  if (Status s = store->EnsureEncryptionKey(); !s.ok()) {
    return s;
  }
  return store;
}

EtcdStore::EtcdStore(Options options, std::unique_ptr<EtcdClient> client, Logger logger)
    : options_(std::move(options)),
      layout_{options_.root},
      client_(std::move(client)),
      encoder_(options_.encoder),
      logger_(std::move(logger)) {
  if (!options_.now) {
    options_.now = SystemNow;
  }
}

Status EtcdStore::EnsureVersion() {
  etcdserverpb::TxnRequest txn;
  etcdserverpb::Compare* absent = txn.add_compare();
  absent->set_key(layout_.Version());
  absent->set_target(etcdserverpb::Compare::VERSION);
  absent->set_result(etcdserverpb::Compare::EQUAL);
  absent->set_version(0);
  etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
  put->set_key(layout_.Version());
  put->set_value(nlohmann::json{{"CurrentVersion", kSchemaVersion}}.dump());
  txn.add_failure()->mutable_request_range()->set_key(layout_.Version());
  etcdserverpb::TxnResponse response;
  if (Status s = client_->Txn(txn, &response); !s.ok()) {
    return s;
  }
  if (response.succeeded()) {
    logger_.Info("etcd-version-created", {{"version", kSchemaVersion}});
  } else if (response.responses_size() == 1 &&
             response.responses(0).response_range().kvs_size() == 1) {
    const std::string& value = response.responses(0).response_range().kvs(0).value();
    auto json = nlohmann::json::parse(value, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      return Status(ErrorCode::kUnrecoverable,
                    fmt::format("etcd key {} does not hold a version record", layout_.Version()));
    }
    logger_.Info("etcd-version", {{"stored", json}});
  }
  return Status::Ok();
}

Status EtcdStore::EnsureEncryptionKey() {
  etcdserverpb::RangeRequest request;
  request.set_key(layout_.EncryptionKey());
  etcdserverpb::RangeResponse response;
  if (Status s = client_->Range(request, &response); !s.ok()) {
    return s;
  }
  const std::string& active = encoder_->active_label();
  std::string stored;
  if (response.kvs_size() == 1) {
    stored = response.kvs(0).value();
    if (!encoder_->HasLabel(stored)) {
      return Status(
          ErrorCode::kUnrecoverable,
          fmt::format("Existing encryption key version ({}) is not among the known keys", stored));
    }
    if (stored == active) {
      return Status::Ok();
    }
  }
  logger_.Info("etcd-reencryption-started", {{"stored_label", stored}, {"active_label", active}});
  auto rewritten = Reencrypt();
  if (!rewritten.ok()) {
    // The label stays as it was: the next start tries again.
    logger_.Error("etcd-reencryption-failed", rewritten.status().message());
    return rewritten.status();
  }
  etcdserverpb::PutRequest put;
  put.set_key(layout_.EncryptionKey());
  put.set_value(active);
  etcdserverpb::TxnRequest txn;
  *txn.add_success()->mutable_request_put() = std::move(put);
  etcdserverpb::TxnResponse txn_response;
  if (Status s = client_->Txn(txn, &txn_response); !s.ok()) {
    return s;
  }
  logger_.Info("etcd-reencryption-finished", {{"active_label", active}, {"rewritten", *rewritten}});
  return Status::Ok();
}

Result<size_t> EtcdStore::Reencrypt() {
  const std::string& active = encoder_->active_label();
  size_t rewritten = 0;
  for (const char* name : {"desired_lrp/schedule/", "desired_lrp/run/", "actual/", "task/"}) {
    const std::string section = layout_.Records() + name;
    const std::string end = PrefixEnd(section);
    std::string from = section;
    for (;;) {
      etcdserverpb::RangeRequest request;
      request.set_key(from);
      request.set_range_end(end);
      request.set_limit(options_.page_size);
      etcdserverpb::RangeResponse response;
      if (Status s = client_->Range(request, &response); !s.ok()) {
        return s;
      }
      std::vector<Op> ops;
      for (const mvccpb::KeyValue& kv : response.kvs()) {
        auto label = encryption::Encoder::LabelOf(kv.value());
        if (label.ok() && *label == active) {
          continue;
        }
        auto model = encoder_->DecodeModelBytes(kv.value());
        if (!model.ok()) {
          logger_.Error("etcd-reencryption-skipped", model.status().message(), {{"key", kv.key()}});
          continue;
        }
        Op op = PutOp(kv.key(), encoder_->EncodeModelBytes(*model));
        op.lease = kv.lease();
        ops.push_back(std::move(op));
      }
      if (Status s = WriteOps(ops); !s.ok()) {
        return s;
      }
      rewritten += ops.size();
      if (!response.more() || response.kvs_size() == 0) {
        break;
      }
      from = response.kvs(response.kvs_size() - 1).key();
      from.push_back('\0');
    }
  }
  return rewritten;
}

void EtcdStore::SetFence(std::string key, int64_t create_revision) {
  fence_key_ = std::move(key);
  fence_revision_ = create_revision;
}

void EtcdStore::ClearFence() {
  fence_key_.clear();
  fence_revision_ = 0;
}

Status EtcdStore::Coalesce(std::span<const Mutation> mutations, std::vector<Op>* ops) {
  std::unordered_map<std::string, size_t> index_of;
  index_of.reserve(mutations.size() * 2);
  auto add = [&](Op op) {
    auto [it, inserted] = index_of.try_emplace(op.key, ops->size());
    if (inserted) {
      ops->push_back(std::move(op));
    } else {
      (*ops)[it->second] = std::move(op);
    }
  };
  auto put = [&](std::string key, const std::string& model) -> Status {
    add(PutOp(std::move(key), encoder_->EncodeModelBytes(model)));
    return Status::Ok();
  };
  const int64_t now = options_.now();
  for (const Mutation& mutation : mutations) {
    Status s = std::visit(
        [&](const auto& m) -> Status {
          using M = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<M, PutDomain>) {
            Op op = PutOp(layout_.Domain(m.domain), std::to_string(m.expire_time));
            if (m.expire_time != INT64_MAX && m.expire_time > now) {
              int64_t ttl = (m.expire_time - now + 999'999'999) / 1'000'000'000;
              op.ttl_seconds = ttl <= kMaxLeaseTtl ? ttl : 0;
            }
            add(std::move(op));
            return Status::Ok();
          } else if constexpr (std::is_same_v<M, DeleteDomain>) {
            add(DeleteOp(layout_.Domain(m.domain)));
            return Status::Ok();
          } else if constexpr (std::is_same_v<M, PutDesiredLrp>) {
            const std::string& guid = m.record.scheduling_info().desired_lrp_key().process_guid();
            if (Status s = put(layout_.DesiredSchedule(guid), SerializeSchedule(m.record));
                !s.ok()) {
              return s;
            }
            Op run =
                PutOp(layout_.DesiredRun(guid), encoder_->EncodeModelBytes(m.record.run_info()));
            run.joined = true;
            add(std::move(run));
            return Status::Ok();
          } else if constexpr (std::is_same_v<M, DeleteDesiredLrp>) {
            add(DeleteOp(layout_.DesiredSchedule(m.process_guid)));
            Op run = DeleteOp(layout_.DesiredRun(m.process_guid));
            run.joined = true;
            add(std::move(run));
            return Status::Ok();
          } else if constexpr (std::is_same_v<M, PutActualLrp>) {
            const auto& key = m.lrp.actual_lrp_key();
            return put(layout_.Actual(key.process_guid(), key.index(), m.lrp.presence()),
                       m.lrp.SerializeAsString());
          } else if constexpr (std::is_same_v<M, DeleteActualLrp>) {
            add(DeleteOp(layout_.Actual(m.process_guid, m.index, m.presence)));
            return Status::Ok();
          } else if constexpr (std::is_same_v<M, PutTask>) {
            return put(layout_.Task(m.task.task_guid()), m.task.SerializeAsString());
          } else {
            static_assert(std::is_same_v<M, DeleteTask>);
            add(DeleteOp(layout_.Task(m.task_guid)));
            return Status::Ok();
          }
        },
        mutation);
    if (!s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

Status EtcdStore::GrantLeases(std::vector<Op>* ops) {
  std::map<int64_t, int64_t> lease_by_ttl;
  for (Op& op : *ops) {
    if (op.del || op.ttl_seconds <= 0) {
      continue;
    }
    auto [it, inserted] = lease_by_ttl.try_emplace(op.ttl_seconds, 0);
    if (inserted) {
      etcdserverpb::LeaseGrantRequest request;
      request.set_ttl(op.ttl_seconds);
      etcdserverpb::LeaseGrantResponse response;
      if (Status s = client_->LeaseGrant(request, &response); !s.ok()) {
        return s;
      }
      if (!response.error().empty()) {
        return UnknownError("etcd lease grant: " + response.error());
      }
      it->second = response.id();
    }
    op.lease = it->second;
  }
  return Status::Ok();
}

int64_t EtcdStore::TxnBudget(const std::string& fence_key) const {
  return options_.max_request_bytes - kTxnOverheadBytes - static_cast<int64_t>(fence_key.size());
}

bool EtcdStore::CurrentFence(std::string* key, int64_t* revision, Status* why) const {
  if (options_.fence) {
    *key = layout_.LockKey();
    *revision = options_.fence->epoch.load();
    if (*revision == 0) {
      *why = Status(ErrorCode::kUnrecoverable,
                    fmt::format("etcd lock key {} is not held by this bbs ({}): it lost its lock "
                                "and must not write",
                                *key, options_.fence->owner));
      return false;
    }
    return true;
  }
  *key = fence_key_;
  *revision = fence_revision_;
  return true;
}

Status EtcdStore::WriteTxn(std::span<const Op> ops, const std::string& fence_key,
                           int64_t fence_revision) {
  etcdserverpb::TxnRequest txn;
  if (!fence_key.empty()) {
    etcdserverpb::Compare* fence = txn.add_compare();
    fence->set_key(fence_key);
    fence->set_target(etcdserverpb::Compare::CREATE);
    fence->set_result(etcdserverpb::Compare::EQUAL);
    fence->set_create_revision(fence_revision);
  }
  for (const Op& op : ops) {
    if (op.del) {
      txn.add_success()->mutable_request_delete_range()->set_key(op.key);
    } else {
      etcdserverpb::PutRequest* put = txn.add_success()->mutable_request_put();
      put->set_key(op.key);
      put->set_value(op.value);
      put->set_lease(op.lease);
    }
  }
  etcdserverpb::TxnResponse response;
  if (Status s = client_->Txn(txn, &response); !s.ok()) {
    return s;
  }
  if (!response.succeeded()) {
    return Status(ErrorCode::kUnrecoverable,
                  fmt::format("etcd lock key {} no longer has create revision {}: this bbs lost "
                              "its lock and must not write",
                              fence_key, fence_revision));
  }
  return Status::Ok();
}

Status EtcdStore::Commit(std::span<const Mutation> mutations) {
  const size_t end = mutations.size();
  return CommitChanges(mutations, std::span<const size_t>(&end, 1));
}

namespace {

int64_t OpBytes(const EtcdStore::Op& op) {
  return static_cast<int64_t>(op.key.size() + op.value.size()) + kOpOverheadBytes;
}

// Appends `ops` to `txn`, keeping the last op per key (`index` maps the keys of `txn`).
void MergeInto(std::vector<EtcdStore::Op>* txn, std::unordered_map<std::string, size_t>* index,
               std::vector<EtcdStore::Op>&& ops) {
  for (EtcdStore::Op& op : ops) {
    auto [it, inserted] = index->try_emplace(op.key, txn->size());
    if (inserted) {
      txn->push_back(std::move(op));
    } else {
      (*txn)[it->second] = std::move(op);
    }
  }
}

}  // namespace

Status EtcdStore::CommitChanges(std::span<const Mutation> mutations,
                                std::span<const size_t> change_ends) {
  if (mutations.empty()) {
    return Status::Ok();
  }
  std::string fence_key;
  int64_t fence_revision = 0;
  if (Status why; !CurrentFence(&fence_key, &fence_revision, &why)) {
    return why;
  }
  const int64_t budget = TxnBudget(fence_key);
  const size_t max_ops = static_cast<size_t>(options_.max_ops_per_txn);

  // Each change's ops, all checked (and leased) before anything is written.
  std::vector<std::vector<Op>> changes;
  changes.reserve(change_ends.size());
  size_t begin = 0;
  for (size_t end : change_ends) {
    end = std::min(end, mutations.size());
    if (end <= begin) {
      continue;
    }
    std::vector<Op>& ops = changes.emplace_back();
    if (Status s = Coalesce(mutations.subspan(begin, end - begin), &ops); !s.ok()) {
      return s;
    }
    for (const Op& op : ops) {
      if (OpBytes(op) > budget) {
        return UnknownError(fmt::format(
            "etcd key {} with a {}-byte value exceeds etcd's request size limit of {} bytes",
            op.key, op.value.size(), options_.max_request_bytes));
      }
    }
    if (Status s = GrantLeases(&ops); !s.ok()) {
      return s;
    }
    begin = end;
  }
  if (begin < mutations.size()) {
    return InvalidRequest("etcd commit: change_ends do not cover every mutation");
  }

  // Pack whole changes into transactions; split only a change that alone does not fit.
  std::vector<std::vector<Op>> txns;
  std::vector<Op> current;
  std::unordered_map<std::string, size_t> current_keys;
  int64_t current_bytes = 0;
  size_t split_changes = 0;
  auto flush = [&] {
    if (!current.empty()) {
      txns.push_back(std::move(current));
    }
    current.clear();
    current_keys.clear();
    current_bytes = 0;
  };
  for (std::vector<Op>& ops : changes) {
    int64_t bytes = 0;
    for (const Op& op : ops) {
      bytes += OpBytes(op);
    }
    if (ops.size() <= max_ops && bytes <= budget) {
      if (current.size() + ops.size() > max_ops || current_bytes + bytes > budget) {
        flush();
      }
      current_bytes += bytes;
      MergeInto(&current, &current_keys, std::move(ops));
      continue;
    }
    // Too large for one transaction: in order, never splitting a joined pair.
    flush();
    ++split_changes;
    std::vector<Op> part;
    int64_t part_bytes = 0;
    for (size_t i = 0; i < ops.size();) {
      size_t n = 1;
      while (i + n < ops.size() && ops[i + n].joined) {
        ++n;
      }
      int64_t unit_bytes = 0;
      for (size_t j = i; j < i + n; ++j) {
        unit_bytes += OpBytes(ops[j]);
      }
      if (!part.empty() && (part.size() + n > max_ops || part_bytes + unit_bytes > budget)) {
        txns.push_back(std::move(part));
        part.clear();
        part_bytes = 0;
      }
      for (size_t j = i; j < i + n; ++j) {
        part.push_back(std::move(ops[j]));
      }
      part_bytes += unit_bytes;
      i += n;
    }
    if (!part.empty()) {
      txns.push_back(std::move(part));
    }
  }
  flush();
  if (split_changes > 0) {
    logger_.Info("etcd-change-split", {{"changes", split_changes}, {"transactions", txns.size()}});
  }

  for (size_t i = 0; i < txns.size(); ++i) {
    Status s = WriteTxn(txns[i], fence_key, fence_revision);
    if (s.ok()) {
      continue;
    }
    if (i == 0) {
      return s;
    }
    logger_.Error("etcd-commit-partially-applied", s.message(),
                  {{"applied_transactions", i}, {"transactions", txns.size()}});
    return Status(ErrorCode::kUnrecoverable,
                  fmt::format("etcd commit partially applied ({} of {} transactions): {}", i,
                              txns.size(), s.message()));
  }
  return Status::Ok();
}

Status EtcdStore::WriteOps(std::span<const Op> ops) {
  std::string fence_key;
  int64_t fence_revision = 0;
  if (Status why; !CurrentFence(&fence_key, &fence_revision, &why)) {
    return why;
  }
  const int64_t budget = TxnBudget(fence_key);
  size_t begin = 0;
  while (begin < ops.size()) {
    size_t end = begin;
    int64_t bytes = 0;
    while (end < ops.size() && end - begin < static_cast<size_t>(options_.max_ops_per_txn)) {
      int64_t op_bytes = OpBytes(ops[end]);
      if (end > begin && bytes + op_bytes > budget) {
        break;
      }
      bytes += op_bytes;
      ++end;
    }
    if (Status s = WriteTxn(ops.subspan(begin, end - begin), fence_key, fence_revision); !s.ok()) {
      return s;
    }
    begin = end;
  }
  return Status::Ok();
}

Status EtcdStore::Load(Snapshot* out) {
  *out = Snapshot{};
  const std::string prefix = layout_.Records();
  struct DesiredHalves {
    std::optional<records::DesiredLRPRecord> schedule;
    std::optional<std::string> run;
  };
  std::unordered_map<std::string, DesiredHalves> desired;
  int64_t revision = 0;
  size_t skipped = 0;
  // One range read per page at one revision; the next page is read while this one is decoded.
  struct Page {
    Status status;
    etcdserverpb::RangeResponse response;
  };
  auto fetch = [this](std::string key, std::string end, int64_t at, bool keys_only) {
    auto page = std::make_unique<Page>();
    etcdserverpb::RangeRequest request;
    request.set_key(std::move(key));
    request.set_range_end(end);
    request.set_limit(options_.page_size);
    request.set_revision(at);
    request.set_keys_only(keys_only);
    page->status = client_->Range(request, &page->response);
    return page;
  };
  // Each section is read on its own: etcd 3.4 walks its index from a range's start key to its
  // end for every read, so paging through everything at once costs O(keys^2 / page size).
  // The run keys are read without their values (the run info stays in etcd: ReadRunInfos).
  const std::string run_section = prefix + "desired_lrp/run/";
  for (const char* name :
       {"domain/", "desired_lrp/schedule/", "desired_lrp/run/", "actual/", "task/"}) {
    const std::string section = prefix + name;
    const std::string end = PrefixEnd(section);
    const bool keys_only = section == run_section;
    std::unique_ptr<Page> page = fetch(section, end, revision, keys_only);
    for (;;) {
      if (!page->status.ok()) {
        return page->status;
      }
      const etcdserverpb::RangeResponse& response = page->response;
      if (revision == 0) {
        revision = response.header().revision();
      }
      std::future<std::unique_ptr<Page>> ahead;
      if (response.more() && response.kvs_size() > 0) {
        std::string next = response.kvs(response.kvs_size() - 1).key();
        next.push_back('\0');
        ahead = std::async(std::launch::async, fetch, std::move(next), end, revision, keys_only);
      }
      for (const mvccpb::KeyValue& kv : response.kvs()) {
        std::string_view rest(kv.key());
        rest.remove_prefix(prefix.size());
        auto skip = [&](std::string_view why) {
          ++skipped;
          logger_.Error("etcd-record-skipped", why, {{"key", kv.key()}});
        };
        auto decode = [&](std::string* model) {
          auto decoded = encoder_->DecodeModelBytes(kv.value());
          if (!decoded.ok()) {
            skip(decoded.status().message());
            return false;
          }
          *model = std::move(decoded).value();
          return true;
        };
        // Decodes the value into `message`; skips the record when it is not such a message.
        auto parse = [&](google::protobuf::MessageLite* message, std::string_view not_one) {
          std::string bytes;
          if (!decode(&bytes)) return false;
          if (!message->ParseFromString(bytes)) {
            skip(not_one);
            return false;
          }
          return true;
        };
        std::string model;
        if (rest.starts_with("domain/")) {
          rest.remove_prefix(7);
          PutDomain domain{std::string(rest), INT64_MAX};
          const std::string& value = kv.value();
          if (!value.empty()) {
            auto [p, ec] =
                std::from_chars(value.data(), value.data() + value.size(), domain.expire_time);
            if (ec != std::errc() || p != value.data() + value.size()) {
              skip("domain value is not an expiry time");
              continue;
            }
          }
          out->domains.push_back(std::move(domain));
        } else if (rest.starts_with("desired_lrp/schedule/")) {
          rest.remove_prefix(21);
          if (!decode(&model)) continue;
          records::DesiredLRPRecord record;
          if (!ParseSchedule(model, &record)) {
            skip("not a DesiredLRPSchedulingInfo");
            continue;
          }
          desired[std::string(rest)].schedule = std::move(record);
        } else if (rest.starts_with("desired_lrp/run/")) {
          rest.remove_prefix(16);
          desired[std::string(rest)].run = std::string();  // present; the value stays in etcd
        } else if (rest.starts_with("actual/") &&
                   PresenceFromName(rest.substr(rest.rfind('/') + 1)).has_value()) {
          models::ActualLRP lrp;
          if (!parse(&lrp, "not an ActualLRP")) continue;
          out->actual_lrps.push_back(std::move(lrp));
        } else if (rest.starts_with("task/")) {
          models::Task task;
          if (!parse(&task, "not a Task")) continue;
          out->tasks.push_back(std::move(task));
        } else {
          logger_.Debug("etcd-key-ignored", {{"key", kv.key()}});
        }
      }
      if (!ahead.valid()) {
        break;
      }
      page = ahead.get();
    }
  }
  out->desired_lrps.reserve(desired.size());
  for (auto& [guid, halves] : desired) {
    if (!halves.schedule || !halves.run) {
      ++skipped;
      logger_.Error("etcd-record-skipped", "desired LRP has only one of its schedule/run keys",
                    {{"process_guid", guid}});
      continue;
    }
    out->desired_lrps.push_back(std::move(*halves.schedule));
  }
  if (skipped > 0) {
    logger_.Info("etcd-load-skipped-records", {{"count", skipped}});
  }
  return Status::Ok();
}

// --- Run-info reads ---

StoredRunInfo EtcdStore::DecodeRunValue(std::string process_guid, std::string_view value) const {
  StoredRunInfo out{std::move(process_guid), std::string()};
  auto decoded = encoder_->DecodeModelBytes(value);
  if (!decoded.ok()) {
    logger_.Error("failed-to-decode-run-info", decoded.status().message(),
                  {{"process_guid", out.process_guid}});
    out.run_info.reset();
    return out;
  }
  out.run_info = std::move(decoded).value();
  return out;
}

Result<std::vector<StoredRunInfo>> EtcdStore::ReadRunInfos(
    std::span<const std::string> process_guids) {
  std::vector<StoredRunInfo> out;
  out.reserve(process_guids.size());
  const size_t chunk = static_cast<size_t>(std::max(1, options_.max_ops_per_txn));
  for (size_t begin = 0; begin < process_guids.size(); begin += chunk) {
    size_t end = std::min(process_guids.size(), begin + chunk);
    // One transaction of range reads (no compares): the keys of a chunk at one revision.
    etcdserverpb::TxnRequest txn;
    for (size_t i = begin; i < end; ++i) {
      txn.add_success()->mutable_request_range()->set_key(layout_.DesiredRun(process_guids[i]));
    }
    etcdserverpb::TxnResponse response;
    if (Status s = client_->Txn(txn, &response); !s.ok()) {
      logger_.Error("failed-to-read-run-info", s.message());
      return UnknownError(s.message());
    }
    for (int i = 0; i < response.responses_size(); ++i) {
      const auto& kvs = response.responses(i).response_range().kvs();
      if (kvs.empty()) continue;
      out.push_back(DecodeRunValue(process_guids[begin + static_cast<size_t>(i)], kvs[0].value()));
    }
  }
  return out;
}

Result<std::vector<StoredRunInfo>> EtcdStore::ReadAllRunInfos() {
  const std::string section = layout_.Records() + "desired_lrp/run/";
  const std::string end = PrefixEnd(section);
  std::vector<StoredRunInfo> out;
  std::string key = section;
  int64_t revision = 0;
  for (;;) {
    etcdserverpb::RangeRequest request;
    request.set_key(key);
    request.set_range_end(end);
    request.set_limit(options_.page_size);
    request.set_revision(revision);
    etcdserverpb::RangeResponse response;
    if (Status s = client_->Range(request, &response); !s.ok()) {
      logger_.Error("failed-to-read-run-info", s.message());
      return UnknownError(s.message());
    }
    if (revision == 0) {
      revision = response.header().revision();
    }
    for (const mvccpb::KeyValue& kv : response.kvs()) {
      out.push_back(DecodeRunValue(kv.key().substr(section.size()), kv.value()));
    }
    if (!response.more() || response.kvs_size() == 0) {
      break;
    }
    key = response.kvs(response.kvs_size() - 1).key();
    key.push_back('\0');
  }
  return out;
}

}  // namespace bbs::storage::etcd
