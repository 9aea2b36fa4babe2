#include "bbs/models/model_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "bbs/base/go_json.h"

namespace bbs::wire {
namespace {

using Json = nlohmann::ordered_json;
using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

// How upstream tags a field. kEmbed: an embedded struct whose fields are promoted.
enum class Kind { kAlways, kOmitEmpty, kEmbed };

struct Tag {
  std::string key;
  Kind kind;
};

// Upstream's embedded structs, as "Message.field": their fields are promoted into the enclosing
// JSON object.
constexpr std::string_view kEmbedded[] = {
    "ActualLRP.actual_lrp_key",
    "ActualLRP.actual_lrp_instance_key",
    "ActualLRP.actual_lrp_net_info",
    "DesiredLRPSchedulingInfo.desired_lrp_key",
    "DesiredLRPSchedulingInfo.desired_lrp_resource",
    "DesiredLRPRunInfo.desired_lrp_key",
    "Task.task_definition",
};

// True when `qualified` is "<message>.<field>".
bool Names(std::string_view qualified, std::string_view message, std::string_view field) {
  return qualified.size() == message.size() + 1 + field.size() && qualified.starts_with(message) &&
         qualified[message.size()] == '.' && qualified.ends_with(field);
}

struct TagRule {
  const char* message;
  const char* field;
  const char* key;
  bool always;
};

// Upstream's json tags where they differ from `<proto name>,omitempty`.
constexpr TagRule kRules[] = {
    {"ActualLRP", "crash_count", "crash_count", true},
    {"ActualLRP", "state", "state", true},
    {"ActualLRP", "since", "since", true},
    {"ActualLRP", "modification_tag", "modification_tag", true},
    {"ActualLRP", "presence", "presence", true},
    {"ActualLRP", "availability_zone", "availability_zone", true},
    {"ActualLRPKey", "process_guid", "process_guid", true},
    {"ActualLRPKey", "index", "index", true},
    {"ActualLRPKey", "domain", "domain", true},
    {"ActualLRPInstanceKey", "instance_guid", "instance_guid", true},
    {"ActualLRPInstanceKey", "cell_id", "cell_id", true},
    {"ActualLRPNetInfo", "address", "address", true},
    {"ActualLRPNetInfo", "ports", "ports", true},
    {"ActualLRPNetInfo", "preferred_address", "preferred_address", true},
    {"PortMapping", "container_port", "container_port", true},
    {"PortMapping", "host_port", "host_port", true},
    {"PortMapping", "container_tls_proxy_port", "container_tls_proxy_port", true},
    {"PortMapping", "host_tls_proxy_port", "host_tls_proxy_port", true},
    {"ActualLRPInternalRoute", "hostname", "hostname", true},
    {"ActualLRPInfo", "actual_lrp_net_info", "actual_lrp_net_info", true},
    {"ActualLRPInfo", "crash_count", "crash_count", true},
    {"ActualLRPInfo", "crash_reason", "crash_reason", true},
    {"ActualLRPInfo", "state", "state", true},
    {"ActualLRPInfo", "placement_error", "placement_error", true},
    {"ActualLRPInfo", "since", "since", true},
    {"ActualLRPInfo", "modification_tag", "modification_tag", true},
    {"ActualLRPInfo", "presence", "presence", true},
    {"ActualLRPInfo", "availability_zone", "availability_zone", true},
    {"ModificationTag", "epoch", "epoch", true},
    {"ModificationTag", "index", "index", true},
    {"DesiredLRP", "process_guid", "process_guid", true},
    {"DesiredLRP", "domain", "domain", true},
    {"DesiredLRP", "root_fs", "rootfs", true},
    {"DesiredLRP", "instances", "instances", true},
    {"DesiredLRP", "environment_variables", "env", true},
    {"DesiredLRP", "start_timeout_ms", "start_timeout_ms", true},
    {"DesiredLRP", "deprecated_start_timeout_s", "deprecated_timeout_ns", false},
    {"DesiredLRP", "disk_mb", "disk_mb", true},
    {"DesiredLRP", "memory_mb", "memory_mb", true},
    {"DesiredLRP", "cpu_weight", "cpu_weight", true},
    {"DesiredLRP", "privileged", "privileged", true},
    {"DesiredLRP", "log_source", "log_source", true},
    {"DesiredLRP", "log_guid", "log_guid", true},
    {"DesiredLRP", "metrics_guid", "metrics_guid", true},
    {"DesiredLRP", "annotation", "annotation", true},
    {"DesiredLRP", "PlacementTags", "placement_tags", false},
    {"DesiredLRP", "max_pids", "max_pids", true},
    {"DesiredLRPSchedulingInfo", "annotation", "annotation", true},
    {"DesiredLRPSchedulingInfo", "instances", "instances", true},
    {"DesiredLRPSchedulingInfo", "modification_tag", "modification_tag", true},
    {"DesiredLRPSchedulingInfo", "PlacementTags", "placement_tags", false},
    {"DesiredLRPRunInfo", "environment_variables", "env", true},
    {"DesiredLRPRunInfo", "deprecated_start_timeout_s", "start_timeout", false},
    {"DesiredLRPRunInfo", "privileged", "privileged", true},
    {"DesiredLRPRunInfo", "cpu_weight", "cpu_weight", true},
    {"DesiredLRPRunInfo", "log_source", "log_source", true},
    {"DesiredLRPRunInfo", "metrics_guid", "metrics_guid", true},
    {"DesiredLRPRunInfo", "created_at", "created_at", true},
    {"DesiredLRPRunInfo", "start_timeout_ms", "start_timeout_ms", true},
    {"DesiredLRPKey", "process_guid", "process_guid", true},
    {"DesiredLRPKey", "domain", "domain", true},
    {"DesiredLRPKey", "log_guid", "log_guid", true},
    {"DesiredLRPResource", "memory_mb", "memory_mb", true},
    {"DesiredLRPResource", "disk_mb", "disk_mb", true},
    {"DesiredLRPResource", "root_fs", "rootfs", true},
    {"DesiredLRPResource", "max_pids", "max_pids", true},
    {"Task", "task_guid", "task_guid", true},
    {"Task", "domain", "domain", true},
    {"Task", "created_at", "created_at", true},
    {"Task", "updated_at", "updated_at", true},
    {"Task", "first_completed_at", "first_completed_at", true},
    {"Task", "state", "state", true},
    {"Task", "cell_id", "cell_id", true},
    {"Task", "result", "result", true},
    {"Task", "failed", "failed", true},
    {"Task", "failure_reason", "failure_reason", true},
    {"Task", "rejection_count", "rejection_count", true},
    {"Task", "rejection_reason", "rejection_reason", true},
    {"TaskDefinition", "root_fs", "rootfs", true},
    {"TaskDefinition", "environment_variables", "env", false},
    {"TaskDefinition", "disk_mb", "disk_mb", true},
    {"TaskDefinition", "memory_mb", "memory_mb", true},
    {"TaskDefinition", "cpu_weight", "cpu_weight", true},
    {"TaskDefinition", "privileged", "privileged", true},
    {"TaskDefinition", "log_source", "log_source", true},
    {"TaskDefinition", "log_guid", "log_guid", true},
    {"TaskDefinition", "metrics_guid", "metrics_guid", true},
    {"TaskDefinition", "result_file", "result_file", true},
    {"TaskDefinition", "max_pids", "max_pids", true},
    {"TaskDefinition", "image_username", "image_username", true},
    {"TaskDefinition", "image_password", "image_password", true},
    {"Action", "download_action", "download", false},
    {"Action", "upload_action", "upload", false},
    {"Action", "run_action", "run", false},
    {"Action", "timeout_action", "timeout", false},
    {"Action", "emit_progress_action", "emit_progress", false},
    {"Action", "try_action", "try", false},
    {"Action", "parallel_action", "parallel", false},
    {"Action", "serial_action", "serial", false},
    {"Action", "codependent_action", "codependent", false},
    {"DownloadAction", "from", "from", true},
    {"DownloadAction", "to", "to", true},
    {"DownloadAction", "cache_key", "cache_key", true},
    {"DownloadAction", "user", "user", true},
    {"UploadAction", "from", "from", true},
    {"UploadAction", "to", "to", true},
    {"UploadAction", "user", "user", true},
    {"RunAction", "path", "path", true},
    {"RunAction", "user", "user", true},
    {"RunAction", "suppress_log_output", "suppress_log_output", true},
    {"TimeoutAction", "deprecated_timeout_ns", "timeout", false},
    {"TimeoutAction", "timeout_ms", "timeout_ms", true},
    {"EmitProgressAction", "start_message", "start_message", true},
    {"EmitProgressAction", "success_message", "success_message", true},
    {"EmitProgressAction", "failure_message_prefix", "failure_message_prefix", true},
    {"EnvironmentVariable", "name", "name", true},
    {"EnvironmentVariable", "value", "value", true},
    {"PortRange", "start", "start", true},
    {"PortRange", "end", "end", true},
    {"ICMPInfo", "type", "type", true},
    {"ICMPInfo", "code", "code", true},
    {"SecurityGroupRule", "log", "log", true},
    {"CachedDependency", "name", "name", true},
    {"CachedDependency", "from", "from", true},
    {"CachedDependency", "to", "to", true},
    {"CachedDependency", "cache_key", "cache_key", true},
    {"CachedDependency", "log_source", "log_source", true},
    {"CachedDependency", "checksum_algorithm", "checksum_algorithm", true},
    {"CachedDependency", "checksum_value", "checksum_value", true},
    {"ImageLayer", "layer_type", "layer_type", true},
    {"ImageLayer", "media_type", "media_type", true},
    {"DesiredLRPCreatedEvent", "desired_lrp", "desired_lrp", true},
    {"DesiredLRPCreatedEvent", "trace_id", "trace_id", true},
    {"DesiredLRPChangedEvent", "trace_id", "trace_id", true},
    {"DesiredLRPRemovedEvent", "desired_lrp", "desired_lrp", true},
    {"DesiredLRPRemovedEvent", "trace_id", "trace_id", true},
    {"ActualLRPInstanceCreatedEvent", "actual_lrp", "actual_lrp", true},
    {"ActualLRPInstanceCreatedEvent", "trace_id", "trace_id", true},
    {"ActualLRPInstanceRemovedEvent", "actual_lrp", "actual_lrp", true},
    {"ActualLRPInstanceRemovedEvent", "trace_id", "trace_id", true},
    {"ActualLRPInstanceChangedEvent", "actual_lrp_key", "actual_lrp_key", true},
    {"ActualLRPInstanceChangedEvent", "actual_lrp_instance_key", "actual_lrp_instance_key", true},
    {"ActualLRPInstanceChangedEvent", "trace_id", "trace_id", true},
    {"ActualLRPCrashedEvent", "actual_lrp_key", "actual_lrp_key", true},
    {"ActualLRPCrashedEvent", "actual_lrp_instance_key", "actual_lrp_instance_key", true},
    {"ActualLRPCrashedEvent", "crash_count", "crash_count", true},
    {"ActualLRPCrashedEvent", "crash_reason", "crash_reason", true},
    {"ActualLRPCrashedEvent", "since", "since", true},
    {"ActualLRPCreatedEvent", "actual_lrp_group", "actual_lrp_group", true},
    {"ActualLRPRemovedEvent", "actual_lrp_group", "actual_lrp_group", true},
};

// Messages that are Go struct values (never nil): an always-written field of one of these types
// that is absent is written as the zero value, not null.
bool IsValueType(const Descriptor* d) {
  static const char* const kValues[] = {"ModificationTag", "ActualLRPKey", "ActualLRPInstanceKey",
                                        "ActualLRPNetInfo"};
  return std::any_of(std::begin(kValues), std::end(kValues),
                     [&](const char* n) { return d->name() == n; });
}

Tag TagOf(const FieldDescriptor* f) {
  const std::string& message = f->containing_type()->name();
  for (std::string_view embedded : kEmbedded) {
    if (Names(embedded, message, f->name())) return {"", Kind::kEmbed};
  }
  for (const auto& rule : kRules) {
    if (message == rule.message && f->name() == rule.field) {
      return {rule.key, rule.always ? Kind::kAlways : Kind::kOmitEmpty};
    }
  }
  return {f->name(), Kind::kOmitEmpty};
}

// Go's name for a generated field or oneof: CamelCase of the proto name.
std::string GoName(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

bool IsLocket(const Descriptor* d) { return d->file()->name().find("locket") != std::string::npos; }

bool IsRealOneof(const FieldDescriptor* f) {
  const OneofDescriptor* o = f->containing_oneof();
  return o != nullptr && o->field_count() == 1;
}

// Fields in upstream's declaration order (Go struct order), which for DesiredLRP differs from
// field-number order: start_timeout_ms (27) is declared right after action (7).
std::vector<const FieldDescriptor*> OrderedFields(const Descriptor* d) {
  std::vector<const FieldDescriptor*> fields;
  for (int i = 0; i < d->field_count(); ++i) fields.push_back(d->field(i));
  if (d->name() == "DesiredLRP") {
    auto it = std::find_if(fields.begin(), fields.end(),
                           [](const FieldDescriptor* f) { return f->number() == 27; });
    auto action = std::find_if(fields.begin(), fields.end(),
                               [](const FieldDescriptor* f) { return f->number() == 7; });
    if (it != fields.end() && action != fields.end() && it > action) {
      std::rotate(action + 1, it, it + 1);
    }
  }
  return fields;
}

// Writes a raw JSON document as Go's encoder writes a json.RawMessage: compacted (whitespace
// outside strings removed) and, inside strings, `<` `>` `&` U+2028 U+2029 escaped.
void AppendCompactRaw(std::string& out, std::string_view raw) {
  if (raw.empty()) {
    out += "null";
    return;
  }
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      } else if (c == '<' || c == '>' || c == '&') {
        out += c == '<' ? "\\u003c" : c == '>' ? "\\u003e" : "\\u0026";
        continue;
      } else if (c == '\xE2' && i + 2 < raw.size() && raw[i + 1] == '\x80' &&
                 (raw[i + 2] == '\xA8' || raw[i + 2] == '\xA9')) {
        out += raw[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
        i += 2;
        continue;
      }
      out += c;
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '"') in_string = true;
    out += c;
  }
}

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}

  void Object(const Message& m) {
    if (m.GetDescriptor()->name() == "ProtoRoutes") {
      Routes(m);
      return;
    }
    out_ += '{';
    bool first = true;
    Members(m, first);
    out_ += '}';
  }

 private:
  void Key(bool& first, const std::string& key) {
    if (!first) out_ += ',';
    first = false;
    AppendGoJsonString(out_, key);
    out_ += ':';
  }

  void Members(const Message& m, bool& first) {
    const Descriptor* d = m.GetDescriptor();
    const Reflection* r = m.GetReflection();
    for (const FieldDescriptor* f : OrderedFields(d)) {
      if (IsRealOneof(f)) {
        Key(first, GoName(f->containing_oneof()->name()));
        if (!r->HasField(m, f)) {
          out_ += "null";
        } else {
          out_ += '{';
          AppendGoJsonString(out_, GoName(f->name()));
          out_ += ':';
          Scalar(m, f, -1);
          out_ += '}';
        }
        continue;
      }
      Tag tag = TagOf(f);
      if (tag.kind == Kind::kEmbed) {
        Members(r->GetMessage(m, f), first);
        continue;
      }
      if (tag.kind == Kind::kOmitEmpty && IsEmpty(m, f)) continue;
      Key(first, tag.key);
      Value(m, f);
    }
  }

  bool IsEmpty(const Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    if (f->is_repeated()) return r->FieldSize(m, f) == 0;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) return !r->HasField(m, f);
    return !r->HasField(m, f);  // proto3 scalars: present iff not zero
  }

  void Value(const Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    if (f->is_map()) {
      Map(m, f);
      return;
    }
    if (f->is_repeated()) {
      int n = r->FieldSize(m, f);
      if (n == 0) {
        out_ += "null";
        return;
      }
      out_ += '[';
      for (int i = 0; i < n; ++i) {
        if (i > 0) out_ += ',';
        Scalar(m, f, i);
      }
      out_ += ']';
      return;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !r->HasField(m, f) &&
        !IsValueType(f->message_type()) && f->message_type()->name() != "ProtoRoutes") {
      out_ += "null";
      return;
    }
    Scalar(m, f, -1);
  }

  void Map(const Message& m, const FieldDescriptor* f) {
    const Reflection* r = m.GetReflection();
    int n = r->FieldSize(m, f);
    if (n == 0) {
      out_ += "null";
      return;
    }
    const Descriptor* entry = f->message_type();
    const FieldDescriptor* key_field = entry->map_key();
    const FieldDescriptor* value_field = entry->map_value();
    std::vector<std::pair<std::string, const Message*>> entries;
    for (int i = 0; i < n; ++i) {
      const Message& e = r->GetRepeatedMessage(m, f, i);
      entries.emplace_back(e.GetReflection()->GetString(e, key_field), &e);
    }
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    out_ += '{';
    bool first = true;
    for (const auto& [key, e] : entries) {
      Key(first, key);
      Scalar(*e, value_field, -1);
    }
    out_ += '}';
  }

  void Routes(const Message& m) {
    const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName("routes");
    const Reflection* r = m.GetReflection();
    int n = f == nullptr ? 0 : r->FieldSize(m, f);
    if (n == 0) {
      out_ += "null";
      return;
    }
    const FieldDescriptor* key_field = f->message_type()->map_key();
    const FieldDescriptor* value_field = f->message_type()->map_value();
    std::map<std::string, std::string> sorted;
    for (int i = 0; i < n; ++i) {
      const Message& e = r->GetRepeatedMessage(m, f, i);
      sorted[e.GetReflection()->GetString(e, key_field)] =
          e.GetReflection()->GetString(e, value_field);
    }
    out_ += '{';
    bool first = true;
    for (const auto& [key, raw] : sorted) {
      Key(first, key);
      AppendCompactRaw(out_, raw);
    }
    out_ += '}';
  }

  // One value of `f` (element `index` when repeated, else the singular value).
  void Scalar(const Message& m, const FieldDescriptor* f, int index) {
    const Reflection* r = m.GetReflection();
    bool rep = index >= 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        AppendGoJsonInt(out_, rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        AppendGoJsonInt(out_, rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        out_ += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        out_ += std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        out_ += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        AppendGoJsonString(out_, rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
        break;
      case FieldDescriptor::CPPTYPE_ENUM: {
        int value = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
        const auto* v = f->enum_type()->FindValueByNumber(value);
        if (v == nullptr || IsLocket(f->containing_type())) {
          AppendGoJsonInt(out_, value);
        } else {
          AppendGoJsonString(out_, v->name());
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        Object(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
        break;
      default:
        out_ += "null";
    }
  }

  std::string& out_;
};

// ---- decoding ----

bool KeyEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

Status JsonError(const std::string& message) { return Status(ErrorCode::kInvalidJson, message); }

Status ParseUpdate(const Json& j, Message* m, bool strict);

class Decoder {
 public:
  explicit Decoder(bool strict = false) : strict_(strict) {}

  Status Object(const Json& j, Message* m) {
    if (j.is_null()) return Status::Ok();
    if (!j.is_object()) {
      return JsonError("cannot unmarshal " + std::string(j.type_name()) + " into " +
                       m->GetDescriptor()->name());
    }
    if (m->GetDescriptor()->name() == "ProtoRoutes") return Routes(j, m);
    for (auto it = j.begin(); it != j.end(); ++it) {
      Status s = Member(it.key(), it.value(), m);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  // Finds the field `key` names in `m` (or in an embedded part) and sets it. Unknown keys are
  // ignored, as Go does, unless strict_.
  Status Member(const std::string& key, const Json& value, Message* m) {
    const Descriptor* d = m->GetDescriptor();
    const Reflection* r = m->GetReflection();
    for (const FieldDescriptor* f : OrderedFields(d)) {
      if (IsRealOneof(f)) {
        if (KeyEquals(key, GoName(f->containing_oneof()->name()))) {
          if (value.is_null()) return Status::Ok();
          if (!value.is_object()) return JsonError("cannot unmarshal into " + key);
          for (auto it = value.begin(); it != value.end(); ++it) {
            if (KeyEquals(it.key(), GoName(f->name()))) return Set(it.value(), m, f);
          }
          return strict_ && !value.empty() ? Unknown(key, d) : Status::Ok();
        }
        continue;
      }
      Tag tag = TagOf(f);
      if (tag.kind == Kind::kEmbed) continue;
      if (KeyEquals(key, tag.key)) return Set(value, m, f);
    }
    for (const FieldDescriptor* f : OrderedFields(d)) {
      if (IsRealOneof(f) || TagOf(f).kind != Kind::kEmbed) continue;
      Message* part = r->MutableMessage(m, f);
      if (HasKey(key, part->GetDescriptor())) return Member(key, value, part);
    }
    return strict_ ? Unknown(key, d) : Status::Ok();
  }

  static Status Unknown(const std::string& key, const Descriptor* d) {
    return JsonError("unknown field \"" + key + "\" in " + d->name());
  }

  bool HasKey(const std::string& key, const Descriptor* d) {
    for (const FieldDescriptor* f : OrderedFields(d)) {
      Tag tag = TagOf(f);
      if (tag.kind == Kind::kEmbed) {
        if (HasKey(key, f->message_type())) return true;
      } else if (KeyEquals(key, IsRealOneof(f) ? GoName(f->containing_oneof()->name()) : tag.key)) {
        return true;
      }
    }
    return false;
  }

  Status Set(const Json& value, Message* m, const FieldDescriptor* f) {
    if (value.is_null()) return Status::Ok();
    const Reflection* r = m->GetReflection();
    if (f->is_map()) {
      if (!value.is_object()) return JsonError("cannot unmarshal into map " + f->name());
      const FieldDescriptor* vf = f->message_type()->map_value();
      const FieldDescriptor* kf = f->message_type()->map_key();
      for (auto it = value.begin(); it != value.end(); ++it) {
        Message* e = r->AddMessage(m, f);
        e->GetReflection()->SetString(e, kf, it.key());
        Status s = One(it.value(), e, vf, false);
        if (!s.ok()) return s;
      }
      return Status::Ok();
    }
    if (f->is_repeated()) {
      if (!value.is_array()) return JsonError("cannot unmarshal into slice " + f->name());
      for (const auto& v : value) {
        Status s = One(v, m, f, true);
        if (!s.ok()) return s;
      }
      return Status::Ok();
    }
    return One(value, m, f, false);
  }

  template <typename T>
  Status Int(const Json& v, const FieldDescriptor* f, T* out) {
    if (!v.is_number_integer()) return JsonError("cannot unmarshal into int field " + f->name());
    if (v.is_number_unsigned()) {
      auto u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return JsonError("number out of range for " + f->name());
      }
      *out = static_cast<T>(u);
      return Status::Ok();
    }
    auto i = v.get<int64_t>();
    if (std::is_unsigned_v<T> && i < 0) return JsonError("number out of range for " + f->name());
    if constexpr (std::is_signed_v<T>) {
      if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max()) {
        return JsonError("number out of range for " + f->name());
      }
    }
    *out = static_cast<T>(i);
    return Status::Ok();
  }

  // An integer field: `v` read as T, then added to a repeated field or set.
  template <typename T>
  Status Integer(const Json& v, Message* m, const FieldDescriptor* f, bool add,
                 void (Reflection::*adder)(Message*, const FieldDescriptor*, T) const,
                 void (Reflection::*setter)(Message*, const FieldDescriptor*, T) const) {
    T x = 0;
    if (Status s = Int(v, f, &x); !s.ok()) return s;
    const Reflection* r = m->GetReflection();
    add ? (r->*adder)(m, f, x) : (r->*setter)(m, f, x);
    return Status::Ok();
  }

  Status One(const Json& v, Message* m, const FieldDescriptor* f, bool add) {
    const Reflection* r = m->GetReflection();
    Status s;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return Integer(v, m, f, add, &Reflection::AddInt32, &Reflection::SetInt32);
      case FieldDescriptor::CPPTYPE_INT64:
        return Integer(v, m, f, add, &Reflection::AddInt64, &Reflection::SetInt64);
      case FieldDescriptor::CPPTYPE_UINT32:
        return Integer(v, m, f, add, &Reflection::AddUInt32, &Reflection::SetUInt32);
      case FieldDescriptor::CPPTYPE_UINT64:
        return Integer(v, m, f, add, &Reflection::AddUInt64, &Reflection::SetUInt64);
      case FieldDescriptor::CPPTYPE_BOOL:
        if (!v.is_boolean()) return JsonError("cannot unmarshal into bool field " + f->name());
        add ? r->AddBool(m, f, v.get<bool>()) : r->SetBool(m, f, v.get<bool>());
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        if (!v.is_string()) return JsonError("cannot unmarshal into string field " + f->name());
        add ? r->AddString(m, f, v.get<std::string>()) : r->SetString(m, f, v.get<std::string>());
        break;
      case FieldDescriptor::CPPTYPE_ENUM: {
        int number = 0;
        if (v.is_string()) {
          const auto* ev = f->enum_type()->FindValueByName(v.get<std::string>());
          if (ev == nullptr) return JsonError("invalid value for " + f->name());
          number = ev->number();
        } else if (!(s = Int(v, f, &number)).ok()) {
          return s;
        }
        add ? r->AddEnumValue(m, f, number) : r->SetEnumValue(m, f, number);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* sub = add ? r->AddMessage(m, f) : r->MutableMessage(m, f);
        if (sub->GetDescriptor()->name() == "DesiredLRPUpdate") return ParseUpdate(v, sub, strict_);
        return Object(v, sub);
      }
      default:
        break;
    }
    return Status::Ok();
  }

  Status Routes(const Json& j, Message* m) {
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName("routes");
    const Reflection* r = m->GetReflection();
    for (auto it = j.begin(); it != j.end(); ++it) {
      Message* e = r->AddMessage(m, f);
      e->GetReflection()->SetString(e, f->message_type()->map_key(), it.key());
      e->GetReflection()->SetString(e, f->message_type()->map_value(), it.value().dump());
    }
    return Status::Ok();
  }

  bool strict_;
};

// upstream's DesiredLRPUpdate JSON: optional instances / routes / annotation / metric_tags.
Status ParseUpdate(const Json& j, Message* m, bool strict) {
  if (!j.is_object()) return JsonError("cannot unmarshal into DesiredLRPUpdate");
  const Descriptor* d = m->GetDescriptor();
  Json normalized = Json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    for (const char* name : {"instances", "annotation", "image_username", "image_password"}) {
      if (KeyEquals(it.key(), name) && !it.value().is_null()) {
        normalized[GoName(d->FindFieldByName(name)->containing_oneof()->name())] = {
            {GoName(name), it.value()}};
      }
    }
    for (const char* name : {"routes", "metric_tags"}) {
      if (KeyEquals(it.key(), name)) normalized[name] = it.value();
    }
  }
  return Decoder(strict).Object(normalized, m);
}

}  // namespace

void AppendModelJson(std::string& out, const Message& message) { Encoder(out).Object(message); }

std::string ModelJson(const Message& message) {
  std::string out;
  AppendModelJson(out, message);
  return out;
}

Status ParseModelJson(std::string_view json, Message* message, bool reject_unknown) {
  Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return JsonError("invalid JSON: " + std::string(json.substr(0, 80)));
  if (message->GetDescriptor()->name() == "DesiredLRPUpdate") {
    return ParseUpdate(j, message, reject_unknown);
  }
  return Decoder(reject_unknown).Object(j, message);
}

}  // namespace bbs::wire
