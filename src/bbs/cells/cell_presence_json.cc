#include "bbs/cells/cell_presence_json.h"

#include "bbs/base/go_json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbs::cells {
namespace {

// ---- Encoding, byte for byte as Go's encoding/json. ----

void AppendString(std::string& out, std::string_view text) { AppendGoJsonString(out, text); }

void AppendInt(std::string& out, int64_t value) { AppendGoJsonInt(out, value); }

template <typename Strings>
void AppendStringArray(std::string& out, const Strings& values) {
  out += '[';
  bool first = true;
  for (const std::string& value : values) {
    if (!first) out += ',';
    first = false;
    AppendString(out, value);
  }
  out += ']';
}

void AppendKey(std::string& out, const char* key, bool* first) {
  if (!*first) out += ',';
  *first = false;
  out += '"';
  out += key;
  out += "\":";
}

// ---- Decoding, as leniently as Go's encoding/json into the CellPresence struct. ----

using Json = nlohmann::ordered_json;

Status TypeError(std::string_view field, std::string_view want) {
  return Status(ErrorCode::kInvalidJson, "json: cannot unmarshal into field " + std::string(field) +
                                             " of type " + std::string(want));
}

// ASCII case-insensitive equality (Go also folds U+212A and U+017F; no CellPresence key has a
// 'k' or 's' where that could matter beyond ASCII).
bool KeyIs(std::string_view key, std::string_view name) {
  return key.size() == name.size() &&
         std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// A null leaves `out` as it is.
Status DecodeString(const Json& value, std::string_view field, std::string* out) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_string()) return TypeError(field, "string");
  *out = value.get_ref<const std::string&>();
  return Status::Ok();
}

Status DecodeInt32(const Json& value, std::string_view field, int32_t* out) {
  if (value.is_null()) return Status::Ok();
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    int64_t v = value.get<int64_t>();
    if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      *out = static_cast<int32_t>(v);
      return Status::Ok();
    }
  } else if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      *out = static_cast<int32_t>(v);
      return Status::Ok();
    }
  }
  return TypeError(field, "int32");
}

// An array of strings; null elements become "".
template <typename Add>
Status DecodeStringArray(const Json& value, std::string_view field, Add add) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_array()) return TypeError(field, "[]string");
  for (const Json& element : value) {
    std::string text;
    if (Status s = DecodeString(element, field, &text); !s.ok()) return s;
    add(std::move(text));
  }
  return Status::Ok();
}

Status DecodeCapacity(const Json& value, models::CellCapacity* out) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_object()) return TypeError("capacity", "CellCapacity");
  int32_t memory_mb = 0, disk_mb = 0, containers = 0;
  for (const auto& [key, item] : value.items()) {
    Status s;
    if (KeyIs(key, "memory_mb")) {
      s = DecodeInt32(item, "capacity.memory_mb", &memory_mb);
    } else if (KeyIs(key, "disk_mb")) {
      s = DecodeInt32(item, "capacity.disk_mb", &disk_mb);
    } else if (KeyIs(key, "containers")) {
      s = DecodeInt32(item, "capacity.containers", &containers);
    }
    if (!s.ok()) return s;
  }
  out->set_memory_mb(memory_mb);
  out->set_disk_mb(disk_mb);
  out->set_containers(containers);
  return Status::Ok();
}

Status DecodeProvider(const Json& value, models::Provider* out) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_object()) return TypeError("rootfs_provider_list", "Provider");
  for (const auto& [key, item] : value.items()) {
    Status s;
    if (KeyIs(key, "name")) {
      s = DecodeString(item, "rootfs_provider_list.name", out->mutable_name());
    } else if (KeyIs(key, "properties")) {
      out->clear_properties();
      s = DecodeStringArray(item, "rootfs_provider_list.properties",
                            [&](std::string p) { out->add_properties(std::move(p)); });
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status DecodeAnnotations(const Json& value, models::CellPresence* out) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_object()) return TypeError("annotations", "map[string]string");
  for (const auto& [key, item] : value.items()) {
    std::string text;
    if (Status s = DecodeString(item, "annotations", &text); !s.ok()) return s;
    (*out->mutable_annotations())[key] = std::move(text);
  }
  return Status::Ok();
}

Status DecodeField(std::string_view key, const Json& item, models::CellPresence* p) {
  // Go decodes a repeated key again: the last occurrence wins, arrays are replaced.
  if (KeyIs(key, "cell_id")) return DecodeString(item, "cell_id", p->mutable_cell_id());
  if (KeyIs(key, "rep_address")) {
    return DecodeString(item, "rep_address", p->mutable_rep_address());
  }
  if (KeyIs(key, "zone")) return DecodeString(item, "zone", p->mutable_zone());
  if (KeyIs(key, "rep_url")) return DecodeString(item, "rep_url", p->mutable_rep_url());
  if (KeyIs(key, "capacity")) {
    if (item.is_null()) return Status::Ok();
    return DecodeCapacity(item, p->mutable_capacity());
  }
  if (KeyIs(key, "rootfs_provider_list")) {
    if (item.is_null()) return Status::Ok();
    if (!item.is_array()) return TypeError("rootfs_provider_list", "[]Provider");
    p->clear_rootfs_providers();
    for (const Json& element : item) {
      if (Status s = DecodeProvider(element, p->add_rootfs_providers()); !s.ok()) return s;
    }
    return Status::Ok();
  }
  if (KeyIs(key, "placement_tags")) {
    if (!item.is_null()) p->clear_placement_tags();
    return DecodeStringArray(item, "placement_tags",
                             [&](std::string t) { p->add_placement_tags(std::move(t)); });
  }
  if (KeyIs(key, "optional_placement_tags")) {
    if (!item.is_null()) p->clear_optional_placement_tags();
    return DecodeStringArray(item, "optional_placement_tags",
                             [&](std::string t) { p->add_optional_placement_tags(std::move(t)); });
  }
  if (KeyIs(key, "annotations")) return DecodeAnnotations(item, p);
  return Status::Ok();
}

}  // namespace

std::string EncodeCellPresenceJson(const models::CellPresence& presence) {
  std::string out;
  out.reserve(256);
  bool first = true;
  out += '{';
  AppendKey(out, "cell_id", &first);
  AppendString(out, presence.cell_id());
  AppendKey(out, "rep_address", &first);
  AppendString(out, presence.rep_address());
  AppendKey(out, "zone", &first);
  AppendString(out, presence.zone());
  if (presence.has_capacity()) {
    const models::CellCapacity& c = presence.capacity();
    AppendKey(out, "capacity", &first);
    out += "{\"memory_mb\":";
    AppendInt(out, c.memory_mb());
    out += ",\"disk_mb\":";
    AppendInt(out, c.disk_mb());
    out += ",\"containers\":";
    AppendInt(out, c.containers());
    out += '}';
  }
  if (presence.rootfs_providers_size() > 0) {
    AppendKey(out, "rootfs_provider_list", &first);
    out += '[';
    for (int i = 0; i < presence.rootfs_providers_size(); ++i) {
      const models::Provider& provider = presence.rootfs_providers(i);
      if (i > 0) out += ',';
      out += "{\"name\":";
      AppendString(out, provider.name());
      if (provider.properties_size() > 0) {
        out += ",\"properties\":";
        AppendStringArray(out, provider.properties());
      }
      out += '}';
    }
    out += ']';
  }
  if (presence.placement_tags_size() > 0) {
    AppendKey(out, "placement_tags", &first);
    AppendStringArray(out, presence.placement_tags());
  }
  if (presence.optional_placement_tags_size() > 0) {
    AppendKey(out, "optional_placement_tags", &first);
    AppendStringArray(out, presence.optional_placement_tags());
  }
  AppendKey(out, "rep_url", &first);
  AppendString(out, presence.rep_url());
  if (!presence.annotations().empty()) {
    std::vector<std::pair<std::string_view, std::string_view>> sorted(
        presence.annotations().begin(), presence.annotations().end());
    std::sort(sorted.begin(), sorted.end());
    AppendKey(out, "annotations", &first);
    out += '{';
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i > 0) out += ',';
      AppendString(out, sorted[i].first);
      out += ':';
      AppendString(out, sorted[i].second);
    }
    out += '}';
  }
  out += '}';
  return out;
}

Result<models::CellPresence> DecodeCellPresenceJson(std::string_view json) {
  Json document = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return Status(ErrorCode::kInvalidJson, "invalid JSON in cell presence");
  }
  models::CellPresence presence;
  if (document.is_null()) return presence;
  if (!document.is_object()) return TypeError("(root)", "CellPresence");
  for (const auto& [key, item] : document.items()) {
    if (Status s = DecodeField(key, item, &presence); !s.ok()) return s;
  }
  return presence;
}

std::vector<models::CellPresence> CellSetFromPresences(const std::vector<LocketResource>& presences,
                                                       const Logger& logger) {
  std::map<std::string, models::CellPresence> by_cell_id;
  for (const LocketResource& resource : presences) {
    Result<models::CellPresence> presence = DecodeCellPresenceJson(resource.value);
    if (!presence.ok()) {
      logger.Error("failed-to-unmarshal-presence", presence.status().message(),
                   {{"key", resource.key}});
      continue;
    }
    std::string cell_id = presence->cell_id();
    by_cell_id.insert_or_assign(std::move(cell_id), std::move(*presence));
  }
  std::vector<models::CellPresence> cells;
  cells.reserve(by_cell_id.size());
  for (auto& [cell_id, presence] : by_cell_id) cells.push_back(std::move(presence));
  return cells;
}

Result<models::CellPresence> CellPresenceFromResource(const LocketResource& resource) {
  Result<models::CellPresence> presence = DecodeCellPresenceJson(resource.value);
  if (!presence.ok()) return UnknownError(presence.status().message());
  return presence;
}

}  // namespace bbs::cells
