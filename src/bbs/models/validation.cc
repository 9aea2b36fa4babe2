#include "bbs/models/validation.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bbs/base/url.h"

namespace bbs::wire {
namespace {

constexpr size_t kMaxAnnotationBytes = 10240;
constexpr size_t kMaxRoutesBytes = 131072;
constexpr size_t kMaxVolumeMountedFilesBytes = 1048576;

// Upstream's ValidationError: an ordered list of problems, nested errors flattened into it.
using Problems = std::vector<std::string>;

void AddField(Problems* out, std::string_view field) {
  out->push_back("Invalid field: " + std::string(field));
}

// Adds "Invalid field: <field>" when `value` is empty.
void RequireNonEmpty(const std::string& value, std::string_view field, Problems* out) {
  if (value.empty()) AddField(out, field);
}

// Adds "Invalid field: <field>" when `value` is negative.
void RequireNonNegative(int64_t value, std::string_view field, Problems* out) {
  if (value < 0) AddField(out, field);
}

void AddAll(Problems* out, Problems more) {
  out->insert(out->end(), std::make_move_iterator(more.begin()),
              std::make_move_iterator(more.end()));
}

// Upstream's "Invalid field: <field>" followed by the nested problems, when there are any.
void AddNested(Problems* out, std::string_view field, Problems nested) {
  if (nested.empty()) {
    return;
  }
  AddField(out, field);
  AddAll(out, std::move(nested));
}

std::string Join(const Problems& problems) {
  std::string text;
  for (const std::string& problem : problems) {
    if (!text.empty()) {
      text += ", ";
    }
    text += problem;
  }
  return text;
}

Status ToStatus(const Problems& problems) {
  if (problems.empty()) {
    return Status::Ok();
  }
  return InvalidRequest(Join(problems));
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiLetter(c) || IsAsciiDigit(c); }
// --- IP literals for egress destinations ------------------------------------------------------

// The address in Go's 16-byte form (IPv4 mapped into ::ffff:0:0/96), and its bit length.
struct IpAddress {
  std::array<uint8_t, 16> bytes{};
  int bits = 0;
};

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string s(text);
  IpAddress ip;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(&ip.bytes[12], &v4, 4);
    ip.bits = 32;
    return ip;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(ip.bytes.data(), &v6, 16);
    ip.bits = 128;
    return ip;
  }
  return std::nullopt;
}

// Go's net.ParseCIDR: "<ip>/<decimal prefix length within the address size>".
bool ValidCidr(std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return false;
  }
  const std::optional<IpAddress> ip = ParseIp(text.substr(0, slash));
  if (!ip) {
    return false;
  }
  const std::string_view mask = text.substr(slash + 1);
  if (mask.empty()) {
    return false;
  }
  int bits = 0;
  for (char c : mask) {
    if (!IsAsciiDigit(c)) {
      return false;
    }
    bits = bits * 10 + (c - '0');  // leading zeros are allowed, as by Go
    if (bits > ip->bits) {
      return false;
    }
  }
  return true;
}

// Checks one comma-separated piece of a destination; returns "" when it is valid.
std::string CheckDestination(std::string_view destination) {
  const size_t n = destination.find_first_of("-/");
  if (n == std::string_view::npos) {
    if (!ParseIp(destination)) {
      return "Invalid IP: " + std::string(destination);
    }
  } else if (destination[n] == '/') {
    if (!ValidCidr(destination)) {
      return "Invalid CIDR: " + std::string(destination);
    }
  } else {
    const std::optional<IpAddress> first = ParseIp(destination.substr(0, n));
    const std::optional<IpAddress> second = ParseIp(destination.substr(n + 1));
    if (!first || !second || first->bytes > second->bytes) {
      return "Invalid IP range: " + std::string(destination);
    }
  }
  return "";
}

// --- nested models ----------------------------------------------------------------------------

void CheckChecksum(const std::string& algorithm, const std::string& value, Problems* out) {
  if (algorithm.empty() && value.empty()) {
    return;
  }
  if (algorithm.empty()) {
    AddField(out, "checksum algorithm");
    return;
  }
  if (value.empty()) {
    AddField(out, "checksum value");
    return;
  }
  std::string lower = algorithm;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (lower != "md5" && lower != "sha1" && lower != "sha256") {
    AddField(out, "invalid algorithm");
  }
}

void CheckAction(const models::Action& action, Problems* out);

// The child of a timeout, emit_progress or try action.
void CheckChildAction(bool present, const models::Action& child, Problems* out) {
  if (!present) {
    AddField(out, "action");
    return;
  }
  Problems nested;
  CheckAction(child, &nested);
  AddNested(out, "action", std::move(nested));
}

void CheckActionList(const google::protobuf::RepeatedPtrField<models::Action>& actions,
                     Problems* out) {
  if (actions.empty()) {
    AddField(out, "actions");
    return;
  }
  for (int i = 0; i < actions.size(); ++i) {
    Problems nested;
    CheckAction(actions.Get(i), &nested);
    AddNested(out, "action at index " + std::to_string(i), std::move(nested));
  }
}

// Validates the member upstream treats as the action's value: the first one set, in field order.
void CheckAction(const models::Action& action, Problems* out) {
  if (action.has_download_action()) {
    const models::DownloadAction& a = action.download_action();
    RequireNonEmpty(a.from(), "from", out);
    RequireNonEmpty(a.to(), "to", out);
    RequireNonEmpty(a.user(), "user", out);
    CheckChecksum(a.checksum_algorithm(), a.checksum_value(), out);
  } else if (action.has_upload_action()) {
    const models::UploadAction& a = action.upload_action();
    RequireNonEmpty(a.to(), "to", out);
    RequireNonEmpty(a.from(), "from", out);
    RequireNonEmpty(a.user(), "user", out);
  } else if (action.has_run_action()) {
    const models::RunAction& a = action.run_action();
    RequireNonEmpty(a.path(), "path", out);
    RequireNonEmpty(a.user(), "user", out);
  } else if (action.has_timeout_action()) {
    const models::TimeoutAction& a = action.timeout_action();
    CheckChildAction(a.has_action(), a.action(), out);
    if (a.timeout_ms() <= 0) {
      AddField(out, "timeout_ms");
    }
  } else if (action.has_emit_progress_action()) {
    const models::EmitProgressAction& a = action.emit_progress_action();
    CheckChildAction(a.has_action(), a.action(), out);
  } else if (action.has_try_action()) {
    const models::TryAction& a = action.try_action();
    CheckChildAction(a.has_action(), a.action(), out);
  } else if (action.has_parallel_action()) {
    CheckActionList(action.parallel_action().actions(), out);
  } else if (action.has_serial_action()) {
    CheckActionList(action.serial_action().actions(), out);
  } else if (action.has_codependent_action()) {
    CheckActionList(action.codependent_action().actions(), out);
  } else {
    AddField(out, "inner-action");
  }
}

void CheckSecurityGroupRule(const models::SecurityGroupRule& rule, Problems* out) {
  const bool has_ports = rule.ports_size() > 0;
  const bool has_range = rule.has_port_range();
  const std::string& protocol = rule.protocol();
  if (protocol == "tcp" || protocol == "udp") {
    if (!has_ports && !has_range) {
      out->push_back("Missing required field: ports or port_range");
    } else if (has_ports && has_range) {
      out->push_back("Invalid: ports and port_range provided");
    } else if (has_range) {
      const models::PortRange& range = rule.port_range();
      if (range.start() < 1 || range.end() < 1 || range.start() > range.end()) {
        AddField(out, "port_range");
      }
    } else if (std::any_of(rule.ports().begin(), rule.ports().end(),
                           [](uint32_t port) { return port < 1; })) {
      AddField(out, "ports");
    }
    if (rule.has_icmp_info()) {
      AddField(out, "icmp_info");
    }
  } else if (protocol == "icmp" || protocol == "icmpv6") {
    if (has_range) {
      AddField(out, "port_range");
    }
    if (has_ports) {
      AddField(out, "ports");
    }
    if (!rule.has_icmp_info()) {
      AddField(out, protocol == "icmp" ? "icmp_info" : "icmpv6_info");
    }
  } else if (protocol == "all") {
    if (has_range) {
      AddField(out, "port_range");
    }
    if (has_ports) {
      AddField(out, "ports");
    }
    if (rule.has_icmp_info()) {
      AddField(out, "icmp_info");
    }
  } else {
    AddField(out, "protocol");
  }

  std::vector<std::string> details;
  if (rule.destinations().empty()) {
    details.push_back("Must have at least 1 destination");
  }
  for (const std::string& entry : rule.destinations()) {
    std::string_view rest = entry;
    while (true) {
      const size_t comma = rest.find(',');
      std::string detail = CheckDestination(rest.substr(0, comma));
      if (!detail.empty()) {
        details.push_back(std::move(detail));
      }
      if (comma == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(comma + 1);
    }
  }
  if (!details.empty()) {
    AddField(out, "destinations [ " + Join(details) + " ]");
  }
}

void CheckCachedDependency(const models::CachedDependency& dependency, Problems* out) {
  RequireNonEmpty(dependency.from(), "from", out);
  RequireNonEmpty(dependency.to(), "to", out);
  CheckChecksum(dependency.checksum_algorithm(), dependency.checksum_value(), out);
}

void CheckImageLayer(const models::ImageLayer& layer, Problems* out) {
  const bool exclusive = layer.layer_type() == models::ImageLayer::EXCLUSIVE;
  const bool has_algorithm = layer.digest_algorithm() != models::ImageLayer::DigestAlgorithmInvalid;
  const bool has_value = !layer.digest_value().empty();
  RequireNonEmpty(layer.url(), "url", out);
  RequireNonEmpty(layer.destination_path(), "destination_path", out);
  if (layer.layer_type() != models::ImageLayer::SHARED && !exclusive) {
    AddField(out, "layer_type");
  }
  if (layer.media_type() != models::ImageLayer::TGZ &&
      layer.media_type() != models::ImageLayer::TAR &&
      layer.media_type() != models::ImageLayer::ZIP) {
    AddField(out, "media_type");
  }
  if ((has_value || exclusive) && !has_algorithm) {
    AddField(out, "digest_algorithm");
  }
  if ((has_algorithm || exclusive) && !has_value) {
    AddField(out, "digest_value");
  }
  if (has_value && has_algorithm && layer.digest_algorithm() != models::ImageLayer::SHA256 &&
      layer.digest_algorithm() != models::ImageLayer::SHA512) {
    AddField(out, "digest_algorithm");
  }
}

void CheckVolumeMount(const models::VolumeMount& mount, Problems* out) {
  if (mount.driver().empty()) {
    out->push_back("invalid volume_mount driver");
  }
  if (mount.mode() != "r" && mount.mode() != "rw") {
    out->push_back("invalid volume_mount mode");
  }
  if (mount.has_shared() && mount.shared().volume_id().empty()) {
    out->push_back("invalid volume_mount volume id");
  }
  if (mount.has_dedicated() && mount.dedicated().mounter_id().empty()) {
    out->push_back("invalid volume_mount mounter id");
  }
}

void CheckCheck(const models::Check& check, Problems* out) {
  if (check.has_http_check() && check.has_tcp_check()) {
    AddField(out, "check");
    return;
  }
  // A check with neither member reads as a TCP check on port 0.
  const uint32_t port =
      check.has_http_check() ? check.http_check().port() : check.tcp_check().port();
  if (port < 1 || port > 65535) {
    AddField(out, "port");
  }
}

void CheckCheckDefinition(const models::CheckDefinition& definition, Problems* out) {
  for (const models::Check& check : definition.checks()) {
    CheckCheck(check, out);
  }
  for (const models::Check& check : definition.readiness_checks()) {
    CheckCheck(check, out);
  }
}

void CheckSidecar(const models::Sidecar& sidecar, Problems* out) {
  if (!sidecar.has_action()) {
    out->push_back("invalid action type");
  } else {
    Problems nested;
    CheckAction(sidecar.action(), &nested);
    AddNested(out, "action", std::move(nested));
  }
  RequireNonNegative(sidecar.memory_mb(), "memory_mb", out);
  RequireNonNegative(sidecar.disk_mb(), "disk_mb", out);
}

void CheckMetricTagValue(const models::MetricTagValue& value, Problems* out) {
  const bool has_static = !value.static_().empty();
  const bool has_dynamic = value.dynamic() == models::MetricTagValue::INDEX ||
                           value.dynamic() == models::MetricTagValue::INSTANCE_GUID;
  if (has_static == has_dynamic) {
    AddField(out, "static");
    AddField(out, "dynamic");
  }
}

// Problems of each metric tag value, in key order so that messages are deterministic.
Problems MetricTagProblems(const google::protobuf::Map<std::string, models::MetricTagValue>& tags) {
  std::vector<const std::string*> keys;
  keys.reserve(tags.size());
  for (const auto& [key, value] : tags) {
    keys.push_back(&key);
  }
  std::sort(keys.begin(), keys.end(),
            [](const std::string* a, const std::string* b) { return *a < *b; });
  Problems problems;
  for (const std::string* key : keys) {
    CheckMetricTagValue(tags.at(*key), &problems);
  }
  return problems;
}

// An optional top-level action (setup, monitor): absent is fine.
void CheckOptionalAction(bool present, const models::Action& action, std::string_view field,
                         Problems* out) {
  if (!present) {
    return;
  }
  Problems nested;
  CheckAction(action, &nested);
  AddNested(out, field, std::move(nested));
}

void CheckRequiredAction(bool present, const models::Action& action, Problems* out) {
  if (!present) {
    out->push_back("invalid action type");
    return;
  }
  Problems nested;
  CheckAction(action, &nested);
  AddNested(out, "action", std::move(nested));
}

void CheckImageLayers(const google::protobuf::RepeatedPtrField<models::ImageLayer>& layers,
                      const std::string& legacy_download_user, Problems* out) {
  bool needs_download_user = false;
  for (const models::ImageLayer& layer : layers) {
    Problems nested;
    CheckImageLayer(layer, &nested);
    AddNested(out, "image_layer", std::move(nested));
    if (layer.layer_type() == models::ImageLayer::EXCLUSIVE) {
      needs_download_user = true;
    }
  }
  if (needs_download_user && legacy_download_user.empty()) {
    AddField(out, "legacy_download_user");
  }
}

void CheckCachedDependencies(
    const google::protobuf::RepeatedPtrField<models::CachedDependency>& dependencies,
    Problems* out) {
  for (const models::CachedDependency& dependency : dependencies) {
    Problems nested;
    CheckCachedDependency(dependency, &nested);
    AddNested(out, "cached_dependency", std::move(nested));
  }
}

void CheckImageCredentials(const std::string& username, const std::string& password,
                           Problems* out) {
  if (username.empty() && !password.empty()) {
    AddField(out, "image_username");
  }
  if (!username.empty() && password.empty()) {
    AddField(out, "image_password");
  }
}

void CheckVolumeMountedFilesSize(const google::protobuf::RepeatedPtrField<models::File>& files,
                                 Problems* out) {
  size_t total = 0;
  for (const models::File& file : files) {
    total += file.content().size();
  }
  if (total > kMaxVolumeMountedFilesBytes) {
    AddField(out, "volumeMountedFiles");
  }
}

size_t RoutesBytes(const models::ProtoRoutes& routes) {
  size_t total = 0;
  for (const auto& [name, value] : routes.routes()) {
    total += value.size();
  }
  return total;
}

void CheckActualLrpKey(const models::ActualLRPKey& key, Problems* out) {
  RequireNonEmpty(key.process_guid(), "process_guid", out);
  RequireNonNegative(key.index(), "index", out);
  RequireNonEmpty(key.domain(), "domain", out);
}

void CheckActualLrpInstanceKey(const models::ActualLRPInstanceKey& key, Problems* out) {
  RequireNonEmpty(key.cell_id(), "cell_id", out);
  RequireNonEmpty(key.instance_guid(), "instance_guid", out);
}

void CheckDesiredLrp(const models::DesiredLRP& lrp, Problems* out,
                     int32_t max_instances = kMaxInstancesPerDesiredLrp) {
  CheckVolumeMountedFilesSize(lrp.volume_mounted_files(), out);
  RequireNonEmpty(lrp.domain(), "domain", out);
  RequireNonEmpty(lrp.root_fs(), "rootfs", out);
  if (!IsUrlWithScheme(lrp.root_fs())) {
    AddField(out, "rootfs");
  }
  if (lrp.instances() < 0 || lrp.instances() > max_instances) {
    AddField(out, "instances");
  }
  RequireNonNegative(lrp.memory_mb(), "memory_mb", out);
  RequireNonNegative(lrp.disk_mb(), "disk_mb", out);
  if (lrp.has_log_rate_limit() && lrp.log_rate_limit().bytes_per_second() < -1) {
    AddField(out, "log_rate_limit_bytes_per_second");
  }
  if (lrp.annotation().size() > kMaxAnnotationBytes) {
    AddField(out, "annotation");
  }
  RequireNonNegative(lrp.max_pids(), "max_pids", out);
  if (RoutesBytes(lrp.routes()) > kMaxRoutesBytes) {
    AddField(out, "routes");
  }
  if (lrp.metric_tags().empty()) {
    AddField(out, "metric_tags");
  } else {
    Problems nested = MetricTagProblems(lrp.metric_tags());
    if (!lrp.metrics_guid().empty()) {
      const auto source_id = lrp.metric_tags().find("source_id");
      if (source_id == lrp.metric_tags().end() ||
          source_id->second.static_() != lrp.metrics_guid()) {
        AddField(&nested, "source_id should match metrics_guid");
      }
    }
    AddNested(out, "metric_tags", std::move(nested));
  }

  // Run-info checks (upstream validates the run info it derives from the LRP).
  RequireNonEmpty(lrp.domain(), "domain", out);
  if (!IsValidGuid(lrp.process_guid())) {
    AddField(out, "process_guid");
  }
  CheckVolumeMountedFilesSize(lrp.volume_mounted_files(), out);
  CheckOptionalAction(lrp.has_setup(), lrp.setup(), "setup", out);
  CheckRequiredAction(lrp.has_action(), lrp.action(), out);
  CheckOptionalAction(lrp.has_monitor(), lrp.monitor(), "monitor", out);
  for (const models::EnvironmentVariable& variable : lrp.environment_variables()) {
    if (variable.name().empty()) {
      out->push_back("invalid field: name cannot be blank");
    }
  }
  for (const models::SecurityGroupRule& rule : lrp.egress_rules()) {
    Problems nested;
    CheckSecurityGroupRule(rule, &nested);
    AddNested(out, "egress_rules", std::move(nested));
  }
  CheckCachedDependencies(lrp.cached_dependencies(), out);
  CheckImageLayers(lrp.image_layers(), lrp.legacy_download_user(), out);
  for (const models::Sidecar& sidecar : lrp.sidecars()) {
    Problems nested;
    CheckSidecar(sidecar, &nested);
    AddNested(out, "sidecars", std::move(nested));
  }
  for (const models::VolumeMount& mount : lrp.volume_mounts()) {
    CheckVolumeMount(mount, out);
  }
  CheckImageCredentials(lrp.image_username(), lrp.image_password(), out);
  if (lrp.has_check_definition()) {
    Problems nested;
    CheckCheckDefinition(lrp.check_definition(), &nested);
    AddNested(out, "check_definition", std::move(nested));
  }
  if (lrp.has_log_rate_limit() && lrp.log_rate_limit().bytes_per_second() < -1) {
    AddField(out, "log_rate_limit");
  }
}

void CheckDesiredLrpUpdate(const models::DesiredLRPUpdate& update, Problems* out,
                           int32_t max_instances = kMaxInstancesPerDesiredLrp) {
  if (update.has_instances() && (update.instances() < 0 || update.instances() > max_instances)) {
    AddField(out, "instances");
  }
  if (update.has_annotation() && update.annotation().size() > kMaxAnnotationBytes) {
    AddField(out, "annotation");
  }
  if (update.has_routes() && RoutesBytes(update.routes()) > kMaxRoutesBytes) {
    AddField(out, "routes");
  }
  AddNested(out, "metric_tags", MetricTagProblems(update.metric_tags()));
  if (update.has_image_username() && !update.has_image_password()) {
    AddField(out, "image_password");
  }
  if (update.has_image_password() && !update.has_image_username()) {
    AddField(out, "image_username");
  }
}

void CheckTaskDefinition(const models::TaskDefinition& definition, Problems* out) {
  if (definition.root_fs().empty() || !IsUrlWithScheme(definition.root_fs())) {
    AddField(out, "rootfs");
  }
  CheckRequiredAction(definition.has_action(), definition.action(), out);
  RequireNonNegative(definition.memory_mb(), "memory_mb", out);
  RequireNonNegative(definition.disk_mb(), "disk_mb", out);
  if (definition.has_log_rate_limit() && definition.log_rate_limit().bytes_per_second() < -1) {
    AddField(out, "log_rate_limit");
  }
  RequireNonNegative(definition.max_pids(), "max_pids", out);
  if (definition.annotation().size() > kMaxAnnotationBytes) {
    AddField(out, "annotation");
  }
  for (const models::SecurityGroupRule& rule : definition.egress_rules()) {
    Problems details;
    CheckSecurityGroupRule(rule, &details);
    if (!details.empty()) {
      AddField(out, "egress_rules");
    }
  }
  CheckImageCredentials(definition.image_username(), definition.image_password(), out);
  CheckCachedDependencies(definition.cached_dependencies(), out);
  CheckImageLayers(definition.image_layers(), definition.legacy_download_user(), out);
}

// --- Request rules ---
//
// Each request's Validate is the list of its rules, in upstream's order (which is the order of
// the problems in the message). A rule is a callable (const Request&, Problems*).

template <typename Model, typename... Rules>
Status Apply(const Model& model, const Rules&... rules) {
  Problems problems;
  (rules(model, &problems), ...);
  return ToStatus(problems);
}

template <typename Model>
using StringField = const std::string& (Model::*)() const;

// "Invalid field: <name>" when the string is empty.
template <typename Model>
auto NonEmpty(StringField<Model> field, std::string_view name) {
  return [=](const Model& m, Problems* out) { RequireNonEmpty((m.*field)(), name, out); };
}

// "Invalid field: task_guid" unless the guid matches the guid pattern.
template <typename Model>
auto TaskGuidPattern(StringField<Model> field) {
  return [=](const Model& m, Problems* out) {
    if (!IsValidGuid((m.*field)())) AddField(out, "task_guid");
  };
}

// "Invalid field: index" when the index is negative.
template <typename Model>
auto IndexNotNegative() {
  return [](const Model& m, Problems* out) {
    if (m.index() < 0) AddField(out, "index");
  };
}

// "Invalid field: <name>" when the nested message is absent, otherwise its own problems.
template <typename Model, typename Nested, typename Check>
auto Present(bool (Model::*has)() const, const Nested& (Model::*get)() const, std::string_view name,
             Check check) {
  return [=](const Model& m, Problems* out) {
    if (!(m.*has)()) {
      AddField(out, name);
    } else {
      check((m.*get)(), out);
    }
  };
}

template <typename Request>
auto ActualLrpKey() {
  return Present(&Request::has_actual_lrp_key, &Request::actual_lrp_key, "actual_lrp_key",
                 CheckActualLrpKey);
}

template <typename Request>
auto ActualLrpInstanceKey() {
  return Present(&Request::has_actual_lrp_instance_key, &Request::actual_lrp_instance_key,
                 "actual_lrp_instance_key", CheckActualLrpInstanceKey);
}

// A request naming one actual LRP instance: both keys.
template <typename Request>
Status ValidateKeys(const Request& r) {
  return Apply(r, ActualLrpKey<Request>(), ActualLrpInstanceKey<Request>());
}

// A request naming LRPs by process guid only.
template <typename Request>
Status ValidateProcessGuid(const Request& r) {
  return Apply(r, NonEmpty(&Request::process_guid, "process_guid"));
}

// A request naming one actual LRP by process guid and index.
template <typename Request>
Status ValidateProcessGuidAndIndex(const Request& r) {
  return Apply(r, NonEmpty(&Request::process_guid, "process_guid"), IndexNotNegative<Request>());
}

// A request naming a task by a guid of any shape.
template <typename Request>
Status ValidateTaskGuid(const Request& r) {
  return Apply(r, NonEmpty(&Request::task_guid, "task_guid"));
}

// A cell's report on a task: a guid of the guid pattern and the cell's id.
template <typename Request>
Status ValidateTaskGuidAndCell(const Request& r) {
  return Apply(r, TaskGuidPattern(&Request::task_guid), NonEmpty(&Request::cell_id, "cell_id"));
}

// A running instance: both keys and a net info with an address.
template <typename Request>
Status ValidateRunningKeys(const Request& r) {
  auto net_info = [](const Request& m, Problems* out) {
    if (!m.has_actual_lrp_net_info()) {
      AddField(out, "actual_lrp_net_info");
    } else
      RequireNonEmpty(m.actual_lrp_net_info().address(), "address", out);
  };
  return Apply(r, ActualLrpKey<Request>(), ActualLrpInstanceKey<Request>(), net_info);
}

}  // namespace

bool IsValidGuid(std::string_view guid) {
  return !guid.empty() && std::all_of(guid.begin(), guid.end(), [](char c) {
    return IsAsciiAlnum(c) || c == '_' || c == '-';
  });
}

bool IsUrlWithScheme(std::string_view text) { return url::IsGoUrlWithScheme(text); }

Status Validate(const models::UpsertDomainRequest& r) {
  return Apply(r, NonEmpty(&models::UpsertDomainRequest::domain, "domain"));
}

Status Validate(const models::ActualLRPsRequest&) { return Status::Ok(); }

Status Validate(const models::ActualLRPsByProcessGuidsRequest& r) {
  if (r.process_guids().empty()) {
    return InvalidRequest("process_guids must not be empty");
  }
  return Status::Ok();
}

Status Validate(const models::ActualLRPGroupsRequest&) { return Status::Ok(); }

Status Validate(const models::ActualLRPGroupsByProcessGuidRequest& r) {
  return ValidateProcessGuid(r);
}

Status Validate(const models::ActualLRPGroupByProcessGuidAndIndexRequest& r) {
  return ValidateProcessGuidAndIndex(r);
}

Status Validate(const models::ClaimActualLRPRequest& r) {
  using R = models::ClaimActualLRPRequest;
  return Apply(r, NonEmpty(&R::process_guid, "process_guid"), ActualLrpInstanceKey<R>());
}

Status Validate(const models::StartActualLRPRequest& r) { return ValidateRunningKeys(r); }

Status Validate(const models::CrashActualLRPRequest& r) { return ValidateKeys(r); }

Status Validate(const models::FailActualLRPRequest& r) {
  using R = models::FailActualLRPRequest;
  return Apply(r, ActualLrpKey<R>(), NonEmpty(&R::error_message, "error_message"));
}

Status Validate(const models::RetireActualLRPRequest& r) {
  return Apply(r, ActualLrpKey<models::RetireActualLRPRequest>());
}

Status Validate(const models::RemoveActualLRPRequest& r) { return ValidateProcessGuidAndIndex(r); }

Status Validate(const models::EvacuateClaimedActualLRPRequest& r) { return ValidateKeys(r); }

Status Validate(const models::EvacuateRunningActualLRPRequest& r) { return ValidateRunningKeys(r); }

Status Validate(const models::EvacuateStoppedActualLRPRequest& r) { return ValidateKeys(r); }

Status Validate(const models::EvacuateCrashedActualLRPRequest& r) {
  using R = models::EvacuateCrashedActualLRPRequest;
  return Apply(r, ActualLrpKey<R>(), ActualLrpInstanceKey<R>(),
               NonEmpty(&R::error_message, "error_message"));
}

Status Validate(const models::RemoveEvacuatingActualLRPRequest& r) { return ValidateKeys(r); }

Status Validate(const models::DesiredLRPsRequest&) { return Status::Ok(); }

Status Validate(const models::DesiredLRPByProcessGuidRequest& r) { return ValidateProcessGuid(r); }

Status Validate(const models::RemoveDesiredLRPRequest& r) { return ValidateProcessGuid(r); }

Status Validate(const models::UpdateDesiredLRPRequest& r) {
  return Validate(r, kMaxInstancesPerDesiredLrp);
}

Status Validate(const models::UpdateDesiredLRPRequest& r, int32_t max_instances) {
  using R = models::UpdateDesiredLRPRequest;
  return Apply(r, NonEmpty(&R::process_guid, "process_guid"),
               Present(&R::has_update, &R::update, "update",
                       [max_instances](const models::DesiredLRPUpdate& u, Problems* out) {
                         CheckDesiredLrpUpdate(u, out, max_instances);
                       }));
}

Status Validate(const models::DesireLRPRequest& r) {
  return Validate(r, kMaxInstancesPerDesiredLrp);
}

Status Validate(const models::DesireLRPRequest& r, int32_t max_instances) {
  using R = models::DesireLRPRequest;
  return Apply(r, Present(&R::has_desired_lrp, &R::desired_lrp, "desired_lrp",
                          [max_instances](const models::DesiredLRP& lrp, Problems* out) {
                            CheckDesiredLrp(lrp, out, max_instances);
                          }));
}

Status Validate(const models::TasksRequest&) { return Status::Ok(); }

Status Validate(const models::TaskByGuidRequest& r) { return ValidateTaskGuid(r); }

Status Validate(const models::TaskGuidRequest& r) { return ValidateTaskGuid(r); }

Status Validate(const models::DesireTaskRequest& r) {
  using R = models::DesireTaskRequest;
  return Apply(r, TaskGuidPattern(&R::task_guid), NonEmpty(&R::domain, "domain"),
               Present(&R::has_task_definition, &R::task_definition, "task_definition",
                       CheckTaskDefinition));
}

Status Validate(const models::StartTaskRequest& r) { return ValidateTaskGuidAndCell(r); }

Status Validate(const models::CompleteTaskRequest& r) { return ValidateTaskGuidAndCell(r); }

Status Validate(const models::FailTaskRequest& r) {
  using R = models::FailTaskRequest;
  return Apply(r, TaskGuidPattern(&R::task_guid), NonEmpty(&R::failure_reason, "failure_reason"));
}

Status Validate(const models::RejectTaskRequest& r) {
  using R = models::RejectTaskRequest;
  // Upstream names the rejection reason "failure_reason" in the message.
  return Apply(r, TaskGuidPattern(&R::task_guid), NonEmpty(&R::rejection_reason, "failure_reason"));
}

Status Validate(const models::EventsByCellId&) { return Status::Ok(); }

Status ValidateActualLrpKey(const models::ActualLRPKey& key) {
  return Apply(key, CheckActualLrpKey);
}

Status ValidateActualLrpInstanceKey(const models::ActualLRPInstanceKey& key) {
  return Apply(key, CheckActualLrpInstanceKey);
}

Status ValidateDesiredLrp(const models::DesiredLRP& lrp) {
  return Apply(lrp, [](const models::DesiredLRP& l, Problems* out) { CheckDesiredLrp(l, out); });
}

Status ValidateDesiredLrpUpdate(const models::DesiredLRPUpdate& update) {
  return Apply(update, [](const models::DesiredLRPUpdate& u, Problems* out) {
    CheckDesiredLrpUpdate(u, out);
  });
}

Status ValidateTaskDefinition(const models::TaskDefinition& definition) {
  return Apply(definition, CheckTaskDefinition);
}

Status ValidateAction(const models::Action& action) { return Apply(action, CheckAction); }

Status ValidateSecurityGroupRule(const models::SecurityGroupRule& rule) {
  return Apply(rule, CheckSecurityGroupRule);
}

Status ValidateCachedDependency(const models::CachedDependency& dependency) {
  return Apply(dependency, CheckCachedDependency);
}

Status ValidateImageLayer(const models::ImageLayer& layer) { return Apply(layer, CheckImageLayer); }

Status ValidateVolumeMount(const models::VolumeMount& mount) {
  return Apply(mount, CheckVolumeMount);
}

Status ValidateCheckDefinition(const models::CheckDefinition& definition) {
  return Apply(definition, CheckCheckDefinition);
}

Status ValidateSidecar(const models::Sidecar& sidecar) { return Apply(sidecar, CheckSidecar); }

Status ValidateMetricTagValue(const models::MetricTagValue& value) {
  return Apply(value, CheckMetricTagValue);
}

Status ValidateCellPresence(const models::CellPresence& cell) {
  Problems problems;
  RequireNonEmpty(cell.cell_id(), "cell_id", &problems);
  RequireNonEmpty(cell.rep_address(), "rep_address", &problems);
  const std::string& url = cell.rep_url();
  if (!url.empty() && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    AddField(&problems, "rep_url");
  }
  if (cell.capacity().memory_mb() <= 0) {
    AddField(&problems, "memory_mb");
  }
  if (cell.capacity().disk_mb() < 0) {
    AddField(&problems, "disk_mb");
  }
  if (cell.capacity().containers() <= 0) {
    AddField(&problems, "containers");
  }
  for (const auto& [key, value] : cell.annotations()) {
    if (key.empty() || value.empty()) {
      AddField(&problems, "annotations");
      break;
    }
  }
  return ToStatus(problems);
}

}  // namespace bbs::wire
