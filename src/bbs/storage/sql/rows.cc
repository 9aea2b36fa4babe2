#include "bbs/storage/sql/rows.h"

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bbs/base/go_json.h"

namespace bbs::storage::sql {
namespace {

using encryption::Encoder;
using nlohmann::json;

Status BadColumn(std::string_view column, const Status& why) {
  return Status(why.code(), fmt::format("{}: {}", column, why.message()));
}
Status BadJson(std::string_view column) {
  return Status(ErrorCode::kInvalidJson, fmt::format("{}: invalid JSON", column));
}

template <typename Map>
std::vector<const typename Map::value_type*> SortedEntries(const Map& map) {
  std::vector<const typename Map::value_type*> entries;
  entries.reserve(map.size());
  for (const auto& entry : map) {
    entries.push_back(&entry);
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return entries;
}

// Parses a decrypted JSON blob; "" and `null` are an empty value.
bool ParseJson(std::string_view text, json* out) {
  if (text.empty()) {
    *out = nullptr;
    return true;
  }
  *out = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  return !out->is_discarded();
}

// Decrypts an optional encoded JSON column into `out` (null when NULL or empty).
Status DecryptJson(const std::optional<std::string>& column, std::string_view name,
                   const Encoder& encoder, json* out) {
  if (!column.has_value() || column->empty()) {
    *out = nullptr;
    return Status::Ok();
  }
  thread_local std::string plain;  // reused from value to value (start-up decodes them all)
  if (Status s = encoder.DecodeValueInto(*column, &plain); !s.ok()) {
    return BadColumn(name, s);
  }
  if (!ParseJson(plain, out)) {
    return BadJson(name);
  }
  return Status::Ok();
}

// Decrypts the metric_tags column and hands each (name, value) of its JSON object to
// add(name, value), which returns false for a value of the wrong kind. NULL or JSON null is no
// tags.
template <typename Add>
Status DecryptMetricTags(const std::optional<std::string>& column, const Encoder& encoder,
                         const Add& add) {
  json value;
  if (Status s = DecryptJson(column, "metric_tags", encoder, &value); !s.ok()) {
    return s;
  }
  if (value.is_null()) {
    return Status::Ok();
  }
  if (!value.is_object()) {
    return BadJson("metric_tags");
  }
  for (auto& [name, tag] : value.items()) {
    if (!add(name, tag)) {
      return BadJson("metric_tags");
    }
  }
  return Status::Ok();
}

Status DecryptModel(const std::string& column, std::string_view name, const Encoder& encoder,
                    google::protobuf::MessageLite* out) {
  if (column.empty()) {
    out->Clear();
    return Status::Ok();
  }
  Status s = encoder.DecodeModel(column, out);
  return s.ok() ? s : BadColumn(name, s);
}

Status Reencrypt(std::string* column, const Encoder& encoder) {
  if (column->empty()) {
    return Status::Ok();
  }
  Result<std::string> plain = encoder.DecodeValue(*column);
  if (!plain.ok()) {
    return plain.status();
  }
  *column = encoder.EncodeValue(plain.value());
  return Status::Ok();
}
Status Reencrypt(std::optional<std::string>* column, const Encoder& encoder) {
  return column->has_value() ? Reencrypt(&**column, encoder) : Status::Ok();
}

// Upstream's INT columns are signed 32-bit; modification tag indexes are uint32 in the model.
int64_t TagIndexColumn(uint32_t index) { return static_cast<int32_t>(index); }
uint32_t TagIndexValue(int64_t column) { return static_cast<uint32_t>(column); }

// Splits a JSON object into its members, keeping each value's text exactly as written (route
// values are raw JSON upstream: key order and number spellings must survive). Validates first.
bool SplitJsonObject(std::string_view text,
                     std::vector<std::pair<std::string, std::string_view>>* out) {
  if (!json::accept(text)) {
    return false;
  }
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
  };
  // The end of the string literal starting at text[i] (which is a quote), past its last quote.
  auto string_end = [&](size_t at) {
    for (size_t j = at + 1; j < text.size(); ++j) {
      if (text[j] == '\\') {
        ++j;
      } else if (text[j] == '"') {
        return j + 1;
      }
    }
    return text.size();
  };
  skip_ws();
  if (i >= text.size() || text[i] != '{') {
    return false;
  }
  ++i;
  skip_ws();
  if (i < text.size() && text[i] == '}') {
    return true;
  }
  while (i < text.size()) {
    skip_ws();
    size_t key_end = string_end(i);
    std::string key = json::parse(text.substr(i, key_end - i)).get<std::string>();
    i = key_end;
    skip_ws();
    ++i;  // ':'
    skip_ws();
    size_t start = i;
    int depth = 0;
    while (i < text.size()) {
      char c = text[i];
      if (c == '"') {
        i = string_end(i);
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) {
          break;
        }
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
      ++i;
    }
    size_t end = i;
    while (end > start && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\n' ||
                           text[end - 1] == '\r')) {
      --end;
    }
    out->emplace_back(std::move(key), text.substr(start, end - start));
    if (i >= text.size() || text[i] == '}') {
      break;
    }
    ++i;  // ','
  }
  return true;
}

}  // namespace

// --- JSON ---

namespace {

// The JSON object of `map` as Go's encoding/json writes a map: keys sorted, each written by
// append_value(out, value).
template <typename Map, typename AppendValue>
std::string GoJsonObject(const Map& map, const AppendValue& append_value) {
  std::string out = "{";
  bool first = true;
  for (const auto* entry : SortedEntries(map)) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    AppendGoJsonString(out, entry->first);
    out.push_back(':');
    append_value(out, entry->second);
  }
  out.push_back('}');
  return out;
}

}  // namespace

Result<std::string> RoutesJson(const models::ProtoRoutes& routes) {
  for (const auto* entry : SortedEntries(routes.routes())) {
    if (entry->second.empty() || !json::accept(entry->second)) {
      return Status(ErrorCode::kInvalidJson,
                    fmt::format("route '{}' is not a JSON document", entry->first));
    }
  }
  return GoJsonObject(routes.routes(),
                      [](std::string& out, const std::string& raw) { out.append(raw); });
}

std::string DesiredMetricTagsJson(
    const google::protobuf::Map<std::string, models::MetricTagValue>& tags) {
  return GoJsonObject(tags, [](std::string& out, const models::MetricTagValue& value) {
    out.push_back('{');
    bool has_static = !value.static_().empty();
    if (has_static) {
      out.append("\"static\":");
      AppendGoJsonString(out, value.static_());
    }
    if (value.dynamic() != 0) {
      if (has_static) {
        out.push_back(',');
      }
      out.append("\"dynamic\":");
      // Go marshals the enum by name; an unknown number has the empty name.
      AppendGoJsonString(out, models::MetricTagValue::DynamicValue_Name(value.dynamic()));
    }
    out.push_back('}');
  });
}

std::string ActualMetricTagsJson(const google::protobuf::Map<std::string, std::string>& tags) {
  return GoJsonObject(
      tags, [](std::string& out, const std::string& value) { AppendGoJsonString(out, value); });
}

std::string InternalRoutesJson(
    const google::protobuf::RepeatedPtrField<models::ActualLRPInternalRoute>& routes) {
  std::string out = "[";
  for (int i = 0; i < routes.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out.append("{\"hostname\":");
    AppendGoJsonString(out, routes.Get(i).hostname());
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

std::string PlacementTagsJson(const google::protobuf::RepeatedPtrField<std::string>& tags) {
  std::vector<std::string> values(tags.begin(), tags.end());
  std::string out;
  AppendGoJsonStringArray(out, values, /*null_when_empty=*/false);
  return out;
}

std::string VersionJson(int64_t version) {
  std::string out = "{\"CurrentVersion\":";
  AppendGoJsonInt(out, version);
  out.push_back('}');
  return out;
}

Result<int64_t> ParseVersionJson(std::string_view text) {
  json value = json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded() || !value.is_object() || !value.contains("CurrentVersion") ||
      !value["CurrentVersion"].is_number_integer()) {
    return Status(ErrorCode::kUnrecoverable, fmt::format("invalid version record '{}'", text));
  }
  return value["CurrentVersion"].get<int64_t>();
}

// --- encode ---

Result<DesiredRow> EncodeDesired(const records::DesiredLRPRecord& record, const Encoder& encoder) {
  const auto& info = record.scheduling_info();
  const auto& key = info.desired_lrp_key();
  const auto& resource = info.desired_lrp_resource();
  Result<std::string> routes = RoutesJson(info.routes());
  if (!routes.ok()) {
    return routes.status();
  }
  DesiredRow row;
  row.process_guid = key.process_guid();
  row.domain = key.domain();
  row.log_guid = key.log_guid();
  row.annotation = info.annotation();
  row.instances = info.instances();
  row.memory_mb = resource.memory_mb();
  row.disk_mb = resource.disk_mb();
  row.max_pids = resource.max_pids();
  row.rootfs = resource.root_fs();
  row.routes = encoder.EncodeValue(routes.value());
  row.volume_placement = encoder.EncodeModel(info.volume_placement());
  row.modification_tag_epoch = info.modification_tag().epoch();
  row.modification_tag_index = TagIndexColumn(info.modification_tag().index());
  row.run_info = encoder.EncodeModelBytes(record.run_info());
  row.placement_tags = PlacementTagsJson(info.placementtags());
  row.metric_tags = encoder.EncodeValue(DesiredMetricTagsJson(record.metric_tags()));
  row.update_strategy = static_cast<int64_t>(record.update_strategy());
  return row;
}

ActualRow EncodeActual(const models::ActualLRP& lrp, const Encoder& encoder) {
  const auto& key = lrp.actual_lrp_key();
  const auto& instance = lrp.actual_lrp_instance_key();
  ActualRow row;
  row.process_guid = key.process_guid();
  row.instance_index = key.index();
  row.presence = static_cast<int64_t>(lrp.presence());
  row.evacuating = lrp.presence() == models::ActualLRP::EVACUATING;
  row.domain = key.domain();
  row.state = lrp.state();
  row.instance_guid = instance.instance_guid();
  row.cell_id = instance.cell_id();
  row.placement_error = lrp.placement_error();
  row.since = lrp.since();
  row.net_info = encoder.EncodeModel(lrp.actual_lrp_net_info());
  row.modification_tag_epoch = lrp.modification_tag().epoch();
  row.modification_tag_index = TagIndexColumn(lrp.modification_tag().index());
  row.crash_count = lrp.crash_count();
  row.crash_reason = lrp.crash_reason();
  row.internal_routes = encoder.EncodeValue(InternalRoutesJson(lrp.actual_lrp_internal_routes()));
  row.metric_tags = encoder.EncodeValue(ActualMetricTagsJson(lrp.metric_tags()));
  // The column is a plain BOOL upstream (NULL would break Go's scan): unset is stored as false.
  row.routable = lrp.has_routable() && lrp.routable();
  row.availability_zone = lrp.availability_zone();
  return row;
}

TaskRow EncodeTask(const models::Task& task, const Encoder& encoder) {
  TaskRow row;
  row.guid = task.task_guid();
  row.domain = task.domain();
  row.updated_at = task.updated_at();
  row.created_at = task.created_at();
  row.first_completed_at = task.first_completed_at();
  row.state = static_cast<int64_t>(task.state());
  row.cell_id = task.cell_id();
  row.result = task.result();
  row.failed = task.failed();
  row.failure_reason = task.failure_reason();
  row.task_definition = encoder.EncodeModel(task.task_definition());
  row.rejection_count = task.rejection_count();
  row.rejection_reason = task.rejection_reason();
  return row;
}

// --- decode ---

namespace {

// Clear() for a record the decode below fills again, reused from row to row (the start-up load):
// proto3's Clear() deletes message fields, which would free and reallocate every key and its
// strings' buffers per row. The sub-messages the decode always sets are kept (cleared) instead,
// so the result is the same as Clear() followed by the decode.
void ClearForDecode(records::DesiredLRPRecord* out) {
  models::DesiredLRPSchedulingInfo* info =
      out->has_scheduling_info() ? out->release_scheduling_info() : nullptr;
  out->Clear();
  if (info == nullptr) return;
  auto* key = info->has_desired_lrp_key() ? info->release_desired_lrp_key() : nullptr;
  auto* resource =
      info->has_desired_lrp_resource() ? info->release_desired_lrp_resource() : nullptr;
  auto* tag = info->has_modification_tag() ? info->release_modification_tag() : nullptr;
  auto* volume = info->has_volume_placement() ? info->release_volume_placement() : nullptr;
  info->Clear();
  if (key != nullptr) {
    key->Clear();
    info->set_allocated_desired_lrp_key(key);
  }
  if (resource != nullptr) {
    resource->Clear();
    info->set_allocated_desired_lrp_resource(resource);
  }
  if (tag != nullptr) {
    tag->Clear();
    info->set_allocated_modification_tag(tag);
  }
  if (volume != nullptr) {
    volume->Clear();
    info->set_allocated_volume_placement(volume);
  }
  out->set_allocated_scheduling_info(info);
}

void ClearForDecode(models::ActualLRP* out) {
  auto* key = out->has_actual_lrp_key() ? out->release_actual_lrp_key() : nullptr;
  auto* instance =
      out->has_actual_lrp_instance_key() ? out->release_actual_lrp_instance_key() : nullptr;
  auto* net = out->has_actual_lrp_net_info() ? out->release_actual_lrp_net_info() : nullptr;
  auto* tag = out->has_modification_tag() ? out->release_modification_tag() : nullptr;
  out->Clear();
  if (key != nullptr) {
    key->Clear();
    out->set_allocated_actual_lrp_key(key);
  }
  if (instance != nullptr) {
    instance->Clear();
    out->set_allocated_actual_lrp_instance_key(instance);
  }
  if (net != nullptr) {
    net->Clear();
    out->set_allocated_actual_lrp_net_info(net);
  }
  if (tag != nullptr) {
    tag->Clear();
    out->set_allocated_modification_tag(tag);
  }
}

}  // namespace

Status DecodeDesired(DesiredRow& row, const Encoder& encoder, records::DesiredLRPRecord* out) {
  ClearForDecode(out);
  auto* info = out->mutable_scheduling_info();
  auto* key = info->mutable_desired_lrp_key();
  key->set_process_guid(std::move(row.process_guid));
  key->set_domain(std::move(row.domain));
  key->set_log_guid(std::move(row.log_guid));
  info->set_annotation(std::move(row.annotation));
  info->set_instances(static_cast<int32_t>(row.instances));
  auto* resource = info->mutable_desired_lrp_resource();
  resource->set_memory_mb(static_cast<int32_t>(row.memory_mb));
  resource->set_disk_mb(static_cast<int32_t>(row.disk_mb));
  resource->set_max_pids(static_cast<int32_t>(row.max_pids));
  resource->set_root_fs(std::move(row.rootfs));
  info->mutable_modification_tag()->set_epoch(std::move(row.modification_tag_epoch));
  info->mutable_modification_tag()->set_index(TagIndexValue(row.modification_tag_index));
  out->set_update_strategy(static_cast<models::DesiredLRP::UpdateStrategy>(row.update_strategy));

  if (!row.routes.empty()) {
    thread_local std::string routes;  // reused from row to row
    if (Status s = encoder.DecodeValueInto(row.routes, &routes); !s.ok()) {
      return BadColumn("routes", s);
    }
    std::string_view text = routes;
    if (text != "null") {
      std::vector<std::pair<std::string, std::string_view>> members;
      if (!SplitJsonObject(text, &members)) {
        return BadJson("routes");
      }
      auto* map = info->mutable_routes()->mutable_routes();
      for (auto& [name, raw] : members) {
        (*map)[name] = std::string(raw);
      }
    }
  }
  if (Status s = DecryptModel(row.volume_placement, "volume_placement", encoder,
                              info->mutable_volume_placement());
      !s.ok()) {
    return s;
  }
  if (!row.run_info.empty()) {
    if (Status s = encoder.DecodeModelBytesInto(row.run_info, out->mutable_run_info()); !s.ok()) {
      return BadColumn("run_info", s);
    }
  }
  json value;
  if (row.placement_tags.has_value()) {
    if (!ParseJson(*row.placement_tags, &value) || !(value.is_null() || value.is_array())) {
      return BadJson("placement_tags");
    }
    if (value.is_array()) {
      for (const json& tag : value) {
        if (!tag.is_string()) {
          return BadJson("placement_tags");
        }
        info->add_placementtags(tag.get<std::string>());
      }
    }
  }
  auto* tags = out->mutable_metric_tags();
  return DecryptMetricTags(row.metric_tags, encoder, [&](const std::string& name, const json& tag) {
    models::MetricTagValue& entry = (*tags)[name];
    if (tag.is_null()) {
      return true;
    }
    if (!tag.is_object()) {
      return false;
    }
    if (auto it = tag.find("static"); it != tag.end() && it->is_string()) {
      entry.set_static_(it->get<std::string>());
    }
    if (auto it = tag.find("dynamic"); it != tag.end()) {
      models::MetricTagValue::DynamicValue dynamic = models::MetricTagValue::DynamicValueInvalid;
      if (it->is_string()) {
        models::MetricTagValue::DynamicValue_Parse(it->get<std::string>(), &dynamic);
      } else if (it->is_number_integer()) {
        dynamic = static_cast<models::MetricTagValue::DynamicValue>(it->get<int>());
      }
      entry.set_dynamic(dynamic);
    }
    return true;
  });
}

Status DecodeActual(ActualRow& row, const Encoder& encoder, models::ActualLRP* out) {
  ClearForDecode(out);
  auto* key = out->mutable_actual_lrp_key();
  key->set_process_guid(std::move(row.process_guid));
  key->set_index(static_cast<int32_t>(row.instance_index));
  key->set_domain(std::move(row.domain));
  out->set_presence(static_cast<models::ActualLRP::Presence>(row.presence));
  out->set_state(std::move(row.state));
  auto* instance = out->mutable_actual_lrp_instance_key();
  instance->set_instance_guid(std::move(row.instance_guid));
  instance->set_cell_id(std::move(row.cell_id));
  out->set_placement_error(std::move(row.placement_error));
  out->set_since(row.since);
  out->mutable_modification_tag()->set_epoch(std::move(row.modification_tag_epoch));
  out->mutable_modification_tag()->set_index(TagIndexValue(row.modification_tag_index));
  out->set_crash_count(static_cast<int32_t>(row.crash_count));
  out->set_crash_reason(std::move(row.crash_reason));
  out->set_routable(row.routable);
  out->set_availability_zone(std::move(row.availability_zone));
  if (Status s =
          DecryptModel(row.net_info, "net_info", encoder, out->mutable_actual_lrp_net_info());
      !s.ok()) {
    return s;
  }
  json value;
  if (Status s = DecryptJson(row.internal_routes, "internal_routes", encoder, &value); !s.ok()) {
    return s;
  }
  if (!value.is_null()) {
    if (!value.is_array()) {
      return BadJson("internal_routes");
    }
    for (const json& route : value) {
      auto* added = out->add_actual_lrp_internal_routes();
      if (!route.is_object()) {
        return BadJson("internal_routes");
      }
      if (auto it = route.find("hostname"); it != route.end() && it->is_string()) {
        added->set_hostname(it->get<std::string>());
      }
    }
  }
  auto* tags = out->mutable_metric_tags();
  return DecryptMetricTags(row.metric_tags, encoder, [&](const std::string& name, const json& tag) {
    if (!tag.is_string()) {
      return false;
    }
    (*tags)[name] = tag.get<std::string>();
    return true;
  });
}

Status DecodeTask(TaskRow& row, const Encoder& encoder, models::Task* out) {
  out->Clear();
  out->set_task_guid(std::move(row.guid));
  out->set_domain(std::move(row.domain));
  out->set_updated_at(row.updated_at);
  out->set_created_at(row.created_at);
  out->set_first_completed_at(row.first_completed_at);
  out->set_state(static_cast<models::Task::State>(row.state));
  out->set_cell_id(std::move(row.cell_id));
  if (row.result.has_value()) {
    out->set_result(std::move(*row.result));
  }
  out->set_failed(row.failed);
  out->set_failure_reason(std::move(row.failure_reason));
  out->set_rejection_count(static_cast<int32_t>(row.rejection_count));
  out->set_rejection_reason(std::move(row.rejection_reason));
  return DecryptModel(row.task_definition, "task_definition", encoder,
                      out->mutable_task_definition());
}

// --- re-encrypt ---

Status ReencryptDesired(DesiredRow* row, const Encoder& encoder) {
  for (std::string* column : {&row->run_info, &row->volume_placement, &row->routes}) {
    if (Status s = Reencrypt(column, encoder); !s.ok()) {
      return s;
    }
  }
  return Reencrypt(&row->metric_tags, encoder);
}

Status ReencryptActual(ActualRow* row, const Encoder& encoder) {
  if (Status s = Reencrypt(&row->net_info, encoder); !s.ok()) {
    return s;
  }
  if (Status s = Reencrypt(&row->internal_routes, encoder); !s.ok()) {
    return s;
  }
  return Reencrypt(&row->metric_tags, encoder);
}

Status ReencryptTask(TaskRow* row, const Encoder& encoder) {
  return Reencrypt(&row->task_definition, encoder);
}

}  // namespace bbs::storage::sql
