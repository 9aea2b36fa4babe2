// Fuzz target: the stored-row decoder of the SQL backends. The encoding/encryption envelope of
// storage/encryption (DecodeValue, DecodeModelBytes, LabelOf: "02" + base64 of [label length]
// [label][nonce][AES-256-GCM ciphertext||tag], models behind [0x02][0x00]) and the row decoders
// of storage/sql/rows (DecodeDesired, DecodeActual, DecodeTask, Reencrypt*, ParseVersionJson).
//
// Input: one mode byte, then fields, each a 2-byte little-endian length and its bytes (a field
// cut short by the end of the input is what is left; missing fields are empty).
//   mode & 3:  0 desired row, 1 actual row, 2 task row, 3 version JSON
//   mode & 4:  raw: encrypted columns are taken as stored text, so the envelope parser sees the
//              fuzzer's bytes; otherwise they are the plaintext (JSON text, protobuf bytes) that
//              the harness encrypts with its key first, so the JSON and protobuf decoders
//              behind the envelope see the fuzzer's bytes.
//   mode & 8:  the optional columns are NULL
// A row that decodes must encode and decode again (what bbs reads it can write back).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/rows.h"

namespace {

using bbs::storage::encryption::Encoder;
namespace sql = bbs::storage::sql;

const Encoder& TheEncoder() {
  static const std::shared_ptr<const Encoder> encoder = [] {
    auto created = Encoder::Create({{"active", "passphrase-a"}, {"old", "passphrase-b"}}, "active");
    if (!created.ok()) std::abort();
    return *created;
  }();
  return *encoder;
}

class Fields {
 public:
  explicit Fields(std::string_view in) : in_(in) {}
  std::string Next() {
    if (in_.size() < 2) {
      std::string rest(in_);
      in_ = {};
      return rest;
    }
    size_t n =
        static_cast<uint8_t>(in_[0]) | (static_cast<size_t>(static_cast<uint8_t>(in_[1])) << 8);
    in_.remove_prefix(2);
    n = std::min(n, in_.size());
    std::string out(in_.substr(0, n));
    in_.remove_prefix(n);
    return out;
  }
  int64_t Int() {
    std::string bytes = Next();
    int64_t value = 0;
    for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
      value |= static_cast<int64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
    }
    return value;
  }

 private:
  std::string_view in_;
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "rows_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Encoder& encoder = TheEncoder();
  const uint8_t mode = data[0];
  Fields f(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  const bool raw = (mode & 4) != 0;
  const bool nulls = (mode & 8) != 0;
  auto value = [&](std::string text) { return raw ? text : encoder.EncodeValue(text); };
  auto model = [&](std::string bytes) { return raw ? bytes : encoder.EncodeModelBytes(bytes); };
  auto optional = [&](std::string text) -> std::optional<std::string> {
    if (nulls) return std::nullopt;
    return text;
  };

  switch (mode & 3) {
    case 0: {
      sql::DesiredRow row;
      row.process_guid = f.Next();
      row.domain = f.Next();
      row.log_guid = f.Next();
      row.annotation = f.Next();
      row.instances = f.Int();
      row.memory_mb = f.Int();
      row.disk_mb = f.Int();
      row.max_pids = f.Int();
      row.rootfs = f.Next();
      row.routes = value(f.Next());
      row.volume_placement = model(f.Next());
      row.modification_tag_epoch = f.Next();
      row.modification_tag_index = f.Int();
      row.run_info = model(f.Next());
      row.placement_tags = optional(f.Next());
      std::string tags = f.Next();
      row.metric_tags = nulls ? std::nullopt : std::optional<std::string>(value(tags));
      row.update_strategy = f.Int();
      sql::DesiredRow copy = row;
      (void)sql::ReencryptDesired(&copy, encoder);
      bbs::records::DesiredLRPRecord record;
      if (sql::DecodeDesired(row, encoder, &record).ok()) {
        auto again = sql::EncodeDesired(record, encoder);
        Check(again.ok(), "a decoded desired row does not encode");
        bbs::records::DesiredLRPRecord back;
        Check(sql::DecodeDesired(*again, encoder, &back).ok(),
              "a re-encoded desired row does not decode");
      }
      break;
    }
    case 1: {
      sql::ActualRow row;
      row.process_guid = f.Next();
      row.instance_index = f.Int();
      row.presence = f.Int();
      row.evacuating = (f.Int() & 1) != 0;
      row.domain = f.Next();
      row.state = f.Next();
      row.instance_guid = f.Next();
      row.cell_id = f.Next();
      row.placement_error = f.Next();
      row.since = f.Int();
      row.net_info = model(f.Next());
      row.modification_tag_epoch = f.Next();
      row.modification_tag_index = f.Int();
      row.crash_count = f.Int();
      row.crash_reason = f.Next();
      std::string routes = f.Next();
      row.internal_routes = nulls ? std::nullopt : std::optional<std::string>(value(routes));
      std::string tags = f.Next();
      row.metric_tags = nulls ? std::nullopt : std::optional<std::string>(value(tags));
      row.routable = (f.Int() & 1) != 0;
      row.availability_zone = f.Next();
      sql::ActualRow copy = row;
      (void)sql::ReencryptActual(&copy, encoder);
      models::ActualLRP lrp;
      if (sql::DecodeActual(row, encoder, &lrp).ok()) {
        sql::ActualRow again = sql::EncodeActual(lrp, encoder);
        models::ActualLRP back;
        Check(sql::DecodeActual(again, encoder, &back).ok(),
              "a re-encoded actual row does not decode");
      }
      break;
    }
    case 2: {
      sql::TaskRow row;
      row.guid = f.Next();
      row.domain = f.Next();
      row.updated_at = f.Int();
      row.created_at = f.Int();
      row.first_completed_at = f.Int();
      row.state = f.Int();
      row.cell_id = f.Next();
      row.result = optional(f.Next());
      row.failed = (f.Int() & 1) != 0;
      row.failure_reason = f.Next();
      row.task_definition = model(f.Next());
      row.rejection_count = f.Int();
      row.rejection_reason = f.Next();
      sql::TaskRow copy = row;
      (void)sql::ReencryptTask(&copy, encoder);
      models::Task task;
      if (sql::DecodeTask(row, encoder, &task).ok()) {
        sql::TaskRow again = sql::EncodeTask(task, encoder);
        models::Task back;
        Check(sql::DecodeTask(again, encoder, &back).ok(), "a re-encoded task row does not decode");
      }
      break;
    }
    case 3: {
      std::string text = f.Next();
      auto version = sql::ParseVersionJson(text);
      if (version.ok()) {
        auto back = sql::ParseVersionJson(sql::VersionJson(*version));
        Check(back.ok() && *back == *version, "a version does not round-trip");
      }
      // The envelope on its own, both ways in.
      (void)Encoder::LabelOf(text);
      (void)encoder.DecodeValue(text);
      (void)encoder.DecodeModelBytes(text);
      auto plain = encoder.DecodeValue(encoder.EncodeValue(text));
      Check(plain.ok() && *plain == text, "an encoded value does not decode to itself");
      break;
    }
  }
  return 0;
}
