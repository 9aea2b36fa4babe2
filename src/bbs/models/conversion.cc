#include "bbs/models/conversion.h"

#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace bbs::wire {
namespace {

constexpr size_t kTruncateAt = 1024;
constexpr char kTruncatedSuffix[] = "(truncated)";

std::string ToLowerAscii(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

// The name used for shared layers' checksum algorithm: "" unless SHA256 or SHA512.
std::string SharedDigestAlgorithmName(models::ImageLayer::DigestAlgorithm algorithm) {
  switch (algorithm) {
    case models::ImageLayer::SHA256:
      return "sha256";
    case models::ImageLayer::SHA512:
      return "sha512";
    default:
      return "";
  }
}

// The name used for exclusive layers: upstream lower-cases the enum's String(), which gives
// "digestalgorithminvalid" for 0 and the number for values it does not know.
std::string ExclusiveDigestAlgorithmName(models::ImageLayer::DigestAlgorithm algorithm) {
  const std::string& name = models::ImageLayer::DigestAlgorithm_Name(algorithm);
  if (name.empty()) {
    return std::to_string(static_cast<int>(algorithm));
  }
  return ToLowerAscii(name);
}

// Shared layers as cached dependencies (§3.4.2 step 1).
std::vector<models::CachedDependency> SharedLayersAsDependencies(
    const google::protobuf::RepeatedPtrField<models::ImageLayer>& layers) {
  std::vector<models::CachedDependency> dependencies;
  for (const models::ImageLayer& layer : layers) {
    if (layer.layer_type() != models::ImageLayer::SHARED) {
      continue;
    }
    models::CachedDependency& dependency = dependencies.emplace_back();
    const std::string algorithm = SharedDigestAlgorithmName(layer.digest_algorithm());
    dependency.set_name(layer.name());
    dependency.set_from(layer.url());
    dependency.set_to(layer.destination_path());
    dependency.set_checksum_algorithm(algorithm);
    dependency.set_checksum_value(layer.digest_value());
    dependency.set_cache_key(layer.digest_value().empty() ? layer.url()
                                                          : algorithm + ":" + layer.digest_value());
  }
  return dependencies;
}

void PrependDependencies(std::vector<models::CachedDependency> first,
                         google::protobuf::RepeatedPtrField<models::CachedDependency>* list) {
  if (first.empty()) {
    return;
  }
  for (models::CachedDependency& existing : *list) {
    first.push_back(std::move(existing));
  }
  list->Clear();
  for (models::CachedDependency& dependency : first) {
    *list->Add() = std::move(dependency);
  }
}

// Exclusive layers as parallel downloads run before `existing` (§3.4.2 step 2). Leaves the
// action alone when there are no exclusive layers.
void PrependExclusiveLayerDownloads(
    const google::protobuf::RepeatedPtrField<models::ImageLayer>& layers,
    const std::string& download_user, bool has_existing, models::Action* existing) {
  models::Action parallel;
  for (const models::ImageLayer& layer : layers) {
    if (layer.layer_type() != models::ImageLayer::EXCLUSIVE) {
      continue;
    }
    const std::string algorithm = ExclusiveDigestAlgorithmName(layer.digest_algorithm());
    models::DownloadAction* download =
        parallel.mutable_parallel_action()->add_actions()->mutable_download_action();
    download->set_artifact(layer.name());
    download->set_from(layer.url());
    download->set_to(layer.destination_path());
    download->set_cache_key(algorithm + ":" + layer.digest_value());
    download->set_user(download_user);
    download->set_checksum_algorithm(algorithm);
    download->set_checksum_value(layer.digest_value());
  }
  if (!parallel.has_parallel_action()) {
    return;
  }
  if (!has_existing) {
    *existing = std::move(parallel);
    return;
  }
  models::Action serial;
  models::SerialAction* actions = serial.mutable_serial_action();
  *actions->add_actions() = std::move(parallel);
  *actions->add_actions() = std::move(*existing);
  *existing = std::move(serial);
}

int64_t MillisecondsToNanoseconds(int64_t ms) {
  // Wraps on overflow like Go's int64 multiplication.
  return static_cast<int64_t>(static_cast<uint64_t>(ms) * 1000000u);
}

std::optional<models::Action> WithDeprecatedTimeout(const models::Action& action);

// Rebuilds a parallel/serial/codependent action with converted children. A child that converts
// to nothing (upstream: nil) becomes an empty Action.
template <typename List>
void ConvertChildren(const List& source, List* target) {
  *target = source;
  target->clear_actions();
  for (const models::Action& child : source.actions()) {
    std::optional<models::Action> converted = WithDeprecatedTimeout(child);
    *target->add_actions() = converted ? std::move(*converted) : models::Action();
  }
}

// Upstream's Action.SetDeprecatedTimeoutNs (§3.4.1 step 1). Returns nullopt where upstream
// returns nil (an emit-progress or try wrapper without a child).
std::optional<models::Action> WithDeprecatedTimeout(const models::Action& action) {
  if (action.has_download_action() || action.has_upload_action() || action.has_run_action()) {
    return action;
  }
  models::Action result;
  if (action.has_timeout_action()) {
    models::TimeoutAction* timeout = result.mutable_timeout_action();
    *timeout = action.timeout_action();
    timeout->set_deprecated_timeout_ns(MillisecondsToNanoseconds(timeout->timeout_ms()));
    return result;
  }
  if (action.has_emit_progress_action()) {
    if (!action.emit_progress_action().has_action()) {
      return std::nullopt;
    }
    return WithDeprecatedTimeout(action.emit_progress_action().action());
  }
  if (action.has_try_action()) {
    if (!action.try_action().has_action()) {
      return std::nullopt;
    }
    return WithDeprecatedTimeout(action.try_action().action());
  }
  if (action.has_parallel_action()) {
    ConvertChildren(action.parallel_action(), result.mutable_parallel_action());
    return result;
  }
  if (action.has_serial_action()) {
    ConvertChildren(action.serial_action(), result.mutable_serial_action());
    return result;
  }
  if (action.has_codependent_action()) {
    ConvertChildren(action.codependent_action(), result.mutable_codependent_action());
    return result;
  }
  return action;
}

template <typename Message>
void ConvertOptionalAction(bool present, Message* owner,
                           models::Action* (Message::*mutable_field)(),
                           void (Message::*clear_field)()) {
  if (!present) {
    return;
  }
  models::Action* action = (owner->*mutable_field)();
  std::optional<models::Action> converted = WithDeprecatedTimeout(*action);
  if (converted) {
    *action = std::move(*converted);
  } else {
    (owner->*clear_field)();
  }
}

std::string GroupKey(const models::ActualLRPKey& key) {
  std::string text = key.process_guid();
  text.push_back('\0');
  text += std::to_string(key.index());
  return text;
}

// Whether `row` takes the `instance` slot from `occupant` (§8.3).
bool TakesInstanceSlot(const models::ActualLRP& row, const models::ActualLRP* occupant) {
  if (occupant == nullptr) {
    return true;
  }
  const bool running = row.state() == kStateRunning;
  const bool claimed = row.state() == kStateClaimed;
  const bool occupant_running = occupant->state() == kStateRunning;
  const bool occupant_claimed = occupant->state() == kStateClaimed;
  switch (row.presence()) {
    case models::ActualLRP::ORDINARY:
      return running || (claimed && !occupant_running && !occupant_claimed);
    case models::ActualLRP::SUSPECT:
      return (running || claimed) && !occupant_running;
    default:
      return false;
  }
}

std::vector<uint32_t> UniquePorts(const google::protobuf::RepeatedField<uint32_t>& ports) {
  std::vector<uint32_t> unique;
  std::unordered_set<uint32_t> seen;
  for (uint32_t port : ports) {
    if (seen.insert(port).second) {
      unique.push_back(port);
    }
  }
  return unique;
}

// The fields a DesiredLRP shares with its DesiredLRPKey, copied either way.
template <typename From, typename To>
void CopyKeyFields(const From& from, To& to) {
  to.set_process_guid(from.process_guid());
  to.set_domain(from.domain());
  to.set_log_guid(from.log_guid());
}

// The fields a DesiredLRP shares with its DesiredLRPResource, copied either way.
template <typename From, typename To>
void CopyResourceFields(const From& from, To& to) {
  to.set_memory_mb(from.memory_mb());
  to.set_disk_mb(from.disk_mb());
  to.set_root_fs(from.root_fs());
  to.set_max_pids(from.max_pids());
}

// The run-info fields DesiredLRP and DesiredLRPRunInfo share (same names and types), copied from
// `from` to `to` in either direction. Ports, metric tags and created_at are the callers'.
template <typename From, typename To>
void CopyRunFields(const From& from, To& to) {
  *to.mutable_environment_variables() = from.environment_variables();
  if (from.has_setup()) {
    *to.mutable_setup() = from.setup();
  }
  if (from.has_action()) {
    *to.mutable_action() = from.action();
  }
  if (from.has_monitor()) {
    *to.mutable_monitor() = from.monitor();
  }
  to.set_deprecated_start_timeout_s(from.deprecated_start_timeout_s());
  to.set_privileged(from.privileged());
  to.set_cpu_weight(from.cpu_weight());
  *to.mutable_egress_rules() = from.egress_rules();
  to.set_log_source(from.log_source());
  to.set_metrics_guid(from.metrics_guid());
  *to.mutable_cached_dependencies() = from.cached_dependencies();
  to.set_legacy_download_user(from.legacy_download_user());
  to.set_trusted_system_certificates_path(from.trusted_system_certificates_path());
  *to.mutable_volume_mounts() = from.volume_mounts();
  if (from.has_network()) {
    *to.mutable_network() = from.network();
  }
  to.set_start_timeout_ms(from.start_timeout_ms());
  if (from.has_certificate_properties()) {
    *to.mutable_certificate_properties() = from.certificate_properties();
  }
  to.set_image_username(from.image_username());
  to.set_image_password(from.image_password());
  if (from.has_check_definition()) {
    *to.mutable_check_definition() = from.check_definition();
  }
  *to.mutable_image_layers() = from.image_layers();
  *to.mutable_sidecars() = from.sidecars();
  if (from.has_log_rate_limit()) {
    *to.mutable_log_rate_limit() = from.log_rate_limit();
  }
  *to.mutable_volume_mounted_files() = from.volume_mounted_files();
}

// The routing view of a desired LRP, from its key fields (process_guid, domain, log_guid) and its
// scheduling fields (instances, routes, modification_tag): a DesiredLRP or its key and
// scheduling info.
template <typename Key, typename Scheduling>
models::DesiredLRP RoutingInfoOf(
    const Key& key, const Scheduling& scheduling,
    const google::protobuf::Map<std::string, models::MetricTagValue>& metric_tags) {
  models::DesiredLRP info;
  info.set_process_guid(key.process_guid());
  info.set_domain(key.domain());
  info.set_instances(scheduling.instances());
  *info.mutable_routes() = scheduling.routes();
  info.set_log_guid(key.log_guid());
  *info.mutable_modification_tag() = scheduling.modification_tag();
  *info.mutable_metric_tags() = metric_tags;
  return info;
}

}  // namespace

void ConvertDesiredLrpImageLayers(models::DesiredLRP* lrp) {
  PrependDependencies(SharedLayersAsDependencies(lrp->image_layers()),
                      lrp->mutable_cached_dependencies());
  const bool has_setup = lrp->has_setup();
  models::Action setup = has_setup ? lrp->setup() : models::Action();
  PrependExclusiveLayerDownloads(lrp->image_layers(), lrp->legacy_download_user(), has_setup,
                                 &setup);
  if (has_setup || setup.has_parallel_action()) {
    *lrp->mutable_setup() = std::move(setup);
  }
  lrp->clear_image_layers();
}

void ConvertDesiredLrpToV0(models::DesiredLRP* lrp) {
  ConvertOptionalAction(lrp->has_action(), lrp, &models::DesiredLRP::mutable_action,
                        &models::DesiredLRP::clear_action);
  ConvertOptionalAction(lrp->has_setup(), lrp, &models::DesiredLRP::mutable_setup,
                        &models::DesiredLRP::clear_setup);
  ConvertOptionalAction(lrp->has_monitor(), lrp, &models::DesiredLRP::mutable_monitor,
                        &models::DesiredLRP::clear_monitor);

  lrp->set_deprecated_start_timeout_s(static_cast<uint32_t>(lrp->start_timeout_ms()) / 1000);

  if (lrp->cached_dependencies().empty()) {
    return;
  }
  models::Action parallel;
  models::ParallelAction* downloads = parallel.mutable_parallel_action();
  for (const models::CachedDependency& dependency : lrp->cached_dependencies()) {
    models::DownloadAction* download = downloads->add_actions()->mutable_download_action();
    download->set_artifact(dependency.name());
    download->set_from(dependency.from());
    download->set_to(dependency.to());
    download->set_cache_key(dependency.cache_key());
    download->set_log_source(dependency.log_source());
    download->set_user(lrp->legacy_download_user());
  }
  models::Action serial;
  *serial.mutable_serial_action()->add_actions() = std::move(parallel);
  if (lrp->has_setup()) {
    *serial.mutable_serial_action()->add_actions() = std::move(*lrp->mutable_setup());
  }
  *lrp->mutable_setup() = std::move(serial);
  lrp->clear_cached_dependencies();
}

models::DesiredLRP DesiredLrpDownTo(const models::DesiredLRP& lrp, FormatVersion version) {
  models::DesiredLRP converted = lrp;
  if (version < FormatVersion::kV3) {
    ConvertDesiredLrpImageLayers(&converted);
  }
  if (version < FormatVersion::kV1) {
    ConvertDesiredLrpToV0(&converted);
  }
  return converted;
}

void ConvertTaskImageLayers(models::TaskDefinition* definition) {
  PrependDependencies(SharedLayersAsDependencies(definition->image_layers()),
                      definition->mutable_cached_dependencies());
  const bool has_action = definition->has_action();
  models::Action action = has_action ? definition->action() : models::Action();
  PrependExclusiveLayerDownloads(definition->image_layers(), definition->legacy_download_user(),
                                 has_action, &action);
  if (has_action || action.has_parallel_action()) {
    *definition->mutable_action() = std::move(action);
  }
  definition->clear_image_layers();
}

models::Task TaskDownTo(const models::Task& task, FormatVersion version) {
  models::Task converted = task;
  if (version < FormatVersion::kV3 && converted.has_task_definition()) {
    ConvertTaskImageLayers(converted.mutable_task_definition());
  }
  return converted;
}

void FixUpMetricsGuid(models::DesiredLRP* lrp) {
  const auto source_id = lrp->metric_tags().find("source_id");
  if (source_id != lrp->metric_tags().end()) {
    if (lrp->metrics_guid().empty()) {
      lrp->set_metrics_guid(source_id->second.static_());
    }
  } else if (!lrp->metrics_guid().empty()) {
    models::MetricTagValue value;
    value.set_static_(lrp->metrics_guid());
    (*lrp->mutable_metric_tags())["source_id"] = std::move(value);
  }
}

DesiredLrpParts SplitDesiredLrp(const models::DesiredLRP& lrp, int64_t created_at) {
  DesiredLrpParts parts;

  models::DesiredLRPKey key;
  CopyKeyFields(lrp, key);

  models::DesiredLRPSchedulingInfo& info = parts.scheduling_info;
  *info.mutable_desired_lrp_key() = key;
  info.set_annotation(lrp.annotation());
  info.set_instances(lrp.instances());
  CopyResourceFields(lrp, *info.mutable_desired_lrp_resource());
  *info.mutable_routes() = lrp.routes();
  *info.mutable_modification_tag() = lrp.modification_tag();
  models::VolumePlacement* placement = info.mutable_volume_placement();
  for (const models::VolumeMount& mount : lrp.volume_mounts()) {
    placement->add_driver_names(mount.driver());
  }
  *info.mutable_placementtags() = lrp.placementtags();

  models::DesiredLRPRunInfo& run = parts.run_info;
  *run.mutable_desired_lrp_key() = std::move(key);
  CopyRunFields(lrp, run);
  *run.mutable_ports() = lrp.ports();
  run.set_created_at(created_at);
  *run.mutable_metric_tags() = lrp.metric_tags();
  return parts;
}

models::DesiredLRP JoinDesiredLrp(
    const models::DesiredLRPSchedulingInfo& scheduling_info,
    const models::DesiredLRPRunInfo& run_info,
    const google::protobuf::Map<std::string, models::MetricTagValue>& metric_tags,
    models::DesiredLRP::UpdateStrategy update_strategy) {
  models::DesiredLRP lrp;
  CopyKeyFields(scheduling_info.desired_lrp_key(), lrp);
  CopyResourceFields(scheduling_info.desired_lrp_resource(), lrp);
  lrp.set_instances(scheduling_info.instances());
  lrp.set_annotation(scheduling_info.annotation());
  *lrp.mutable_routes() = scheduling_info.routes();
  *lrp.mutable_modification_tag() = scheduling_info.modification_tag();
  *lrp.mutable_placementtags() = scheduling_info.placementtags();

  CopyRunFields(run_info, lrp);
  for (uint32_t port : UniquePorts(run_info.ports())) {
    lrp.add_ports(port);
  }
  *lrp.mutable_metric_tags() = metric_tags;
  lrp.set_update_strategy(update_strategy);
  return lrp;
}

models::DesiredLRP RoutingInfo(const models::DesiredLRP& lrp) {
  return RoutingInfoOf(lrp, lrp, lrp.metric_tags());
}

models::DesiredLRP RoutingInfo(
    const models::DesiredLRPSchedulingInfo& scheduling_info,
    const google::protobuf::Map<std::string, models::MetricTagValue>& metric_tags) {
  return RoutingInfoOf(scheduling_info.desired_lrp_key(), scheduling_info, metric_tags);
}

Result<std::map<std::string, std::string>> ResolveMetricTags(
    const google::protobuf::Map<std::string, models::MetricTagValue>& tags, int32_t index,
    const std::string& instance_guid) {
  std::map<std::string, std::string> resolved;
  for (const auto& [name, value] : tags) {
    // Like upstream, any value that is not positive means "static".
    if (value.dynamic() <= models::MetricTagValue::DynamicValueInvalid) {
      resolved[name] = value.static_();
    } else if (value.dynamic() == models::MetricTagValue::INDEX) {
      resolved[name] = std::to_string(index);
    } else if (value.dynamic() == models::MetricTagValue::INSTANCE_GUID) {
      resolved[name] = instance_guid;
    } else {
      return InvalidRequest("invalid dynamic value for metric tag " + name);
    }
  }
  return resolved;
}

std::string Truncate1024(std::string text) {
  if (text.size() < kTruncateAt) {
    return text;
  }
  text.resize(kTruncateAt - (sizeof(kTruncatedSuffix) - 1));
  text += kTruncatedSuffix;
  return text;
}

std::vector<models::ActualLRPGroup> GroupActualLrps(
    const std::vector<const models::ActualLRP*>& lrps) {
  std::vector<models::ActualLRPGroup> groups;
  std::unordered_map<std::string, size_t> position;
  for (const models::ActualLRP* lrp : lrps) {
    const auto [it, inserted] =
        position.try_emplace(GroupKey(lrp->actual_lrp_key()), groups.size());
    if (inserted) {
      groups.emplace_back();
    }
    models::ActualLRPGroup& group = groups[it->second];
    if (lrp->presence() == models::ActualLRP::EVACUATING) {
      *group.mutable_evacuating() = *lrp;
    } else if (TakesInstanceSlot(*lrp, group.has_instance() ? &group.instance() : nullptr)) {
      *group.mutable_instance() = *lrp;
    }
  }
  return groups;
}

const models::ActualLRP* ResolveGroup(const models::ActualLRPGroup& group) {
  if (group.has_instance() && group.has_evacuating()) {
    const std::string& state = group.instance().state();
    if (state == kStateRunning || state == kStateCrashed) {
      return &group.instance();
    }
    return &group.evacuating();
  }
  if (group.has_instance()) {
    return &group.instance();
  }
  if (group.has_evacuating()) {
    return &group.evacuating();
  }
  return nullptr;
}

std::string R0EventPayload(const google::protobuf::Message& payload) {
  // Every DesiredLRP and Task field of the event (desired_lrp/before/after, task/before/after):
  // the only event types with such fields are the desired_lrp_* and task_* events.
  std::unique_ptr<google::protobuf::Message> copy(payload.New());
  copy->CopyFrom(payload);
  const google::protobuf::Reflection* reflection = copy->GetReflection();
  const google::protobuf::Descriptor* descriptor = copy->GetDescriptor();
  bool converted = false;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->type() != google::protobuf::FieldDescriptor::TYPE_MESSAGE || field->is_repeated() ||
        !reflection->HasField(*copy, field)) {
      continue;
    }
    google::protobuf::Message* value = reflection->MutableMessage(copy.get(), field);
    if (field->message_type() == models::DesiredLRP::descriptor()) {
      auto* lrp = static_cast<models::DesiredLRP*>(value);
      *lrp = DesiredLrpDownTo(*lrp, FormatVersion::kV0);
      converted = true;
    } else if (field->message_type() == models::Task::descriptor()) {
      auto* task = static_cast<models::Task*>(value);
      *task = TaskDownTo(*task, FormatVersion::kV2);
      converted = true;
    }
  }
  return converted ? copy->SerializeAsString() : payload.SerializeAsString();
}

}  // namespace bbs::wire
