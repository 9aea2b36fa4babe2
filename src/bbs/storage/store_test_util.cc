#include "bbs/storage/store_test_util.h"

#include <stdlib.h>

#include <climits>
#include <cstdint>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <google/protobuf/descriptor.h>

namespace bbs::storage::testing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kMaxDepth = 4;

std::string StringValue(const FieldDescriptor* field, int seed, int k) {
  return fmt::format("{}-{}-{} \"q\" \\ \xc3\xa9", field->name(), seed, k);
}

void FillMessage(Message* message, int seed, int depth);

// Adds (repeated) or sets one scalar or message value of `field`.
void FillValue(Message* message, const FieldDescriptor* field, int seed, int depth, int k) {
  const Reflection* r = message->GetReflection();
  bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v = -100000 - seed - k;
      repeated ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = INT64_MIN + 7 + seed + k;
      repeated ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v = UINT32_MAX - static_cast<uint32_t>(seed + k);
      repeated ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v = UINT64_MAX - static_cast<uint64_t>(seed + k);
      repeated ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_DOUBLE:
      repeated ? r->AddDouble(message, field, 1.5 + seed)
               : r->SetDouble(message, field, 1.5 + seed);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v = 2.5f + static_cast<float>(seed);
      repeated ? r->AddFloat(message, field, v) : r->SetFloat(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      repeated ? r->AddBool(message, field, true) : r->SetBool(message, field, true);
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* type = field->enum_type();
      int v = type->value(type->value_count() - 1)->number();
      repeated ? r->AddEnumValue(message, field, v) : r->SetEnumValue(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v = StringValue(field, seed, k);
      repeated ? r->AddString(message, field, v) : r->SetString(message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child = repeated ? r->AddMessage(message, field) : r->MutableMessage(message, field);
      FillMessage(child, seed + k, depth + 1);
      break;
    }
  }
}

void FillMessage(Message* message, int seed, int depth) {
  const Descriptor* d = message->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* field = d->field(i);
    const auto* oneof = field->real_containing_oneof();
    if (oneof != nullptr && oneof->field(0) != field) {
      continue;
    }
    bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (is_message && !field->is_map() && depth >= kMaxDepth) {
      continue;
    }
    if (field->is_repeated()) {
      int count = (field->is_map() || depth <= 1) ? 2 : 1;
      for (int k = 0; k < count; ++k) {
        FillValue(message, field, seed, depth, k);
      }
    } else {
      FillValue(message, field, seed, depth, 0);
    }
  }
}

}  // namespace

void FillAllFields(Message* message, int seed) { FillMessage(message, seed, 0); }

std::shared_ptr<const encryption::Encoder> TestEncoder(const std::string& label) {
  auto encoder = encryption::Encoder::Create({{label, "passphrase of " + label}}, label);
  if (!encoder.ok()) {
    throw std::runtime_error(encoder.status().ToString());
  }
  return encoder.value();
}

records::DesiredLRPRecord FullDesiredLrp(const std::string& process_guid, int seed) {
  records::DesiredLRPRecord record;
  FillAllFields(&record, seed);
  record.mutable_scheduling_info()->mutable_desired_lrp_key()->set_process_guid(process_guid);
  auto* routes = record.mutable_scheduling_info()->mutable_routes()->mutable_routes();
  routes->clear();
  (*routes)["cf-router"] =
      fmt::format(R"([{{"hostnames":["app-{}.example.com"],"port":8080,"weight":1.50}}])", seed);
  (*routes)["tcp-router"] = R"([{"external_port":61000,"container_port":5222}])";
  return record;
}

models::ActualLRP FullActualLrp(const std::string& process_guid, int32_t index,
                                models::ActualLRP::Presence presence, int seed) {
  models::ActualLRP lrp;
  FillAllFields(&lrp, seed);
  lrp.mutable_actual_lrp_key()->set_process_guid(process_guid);
  lrp.mutable_actual_lrp_key()->set_index(index);
  lrp.set_presence(presence);
  return lrp;
}

models::Task FullTask(const std::string& task_guid, int seed) {
  models::Task task;
  FillAllFields(&task, seed);
  task.set_task_guid(task_guid);
  return task;
}

models::ActualLRP SmallActualLrp(const std::string& process_guid, int32_t index) {
  models::ActualLRP lrp;
  auto* key = lrp.mutable_actual_lrp_key();
  key->set_process_guid(process_guid);
  key->set_index(index);
  key->set_domain("cf-apps");
  lrp.mutable_actual_lrp_instance_key()->set_instance_guid(
      fmt::format("ig-{}-{}", process_guid, index));
  lrp.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  auto* net = lrp.mutable_actual_lrp_net_info();
  net->set_address("10.0.0.1");
  net->set_instance_address("10.255.0.1");
  auto* port = net->add_ports();
  port->set_container_port(8080);
  port->set_host_port(61000);
  lrp.set_state("RUNNING");
  lrp.set_since(1700000000000000000);
  lrp.mutable_modification_tag()->set_epoch("epoch-1");
  lrp.mutable_modification_tag()->set_index(2);
  lrp.add_actual_lrp_internal_routes()->set_hostname("app.apps.internal");
  (*lrp.mutable_metric_tags())["source_id"] = "app-guid";
  lrp.set_routable(true);
  lrp.set_availability_zone("z1");
  return lrp;
}

models::Task SmallTask(const std::string& task_guid) {
  models::Task task;
  task.set_task_guid(task_guid);
  task.set_domain("cf-tasks");
  task.set_created_at(1700000000000000000);
  task.set_updated_at(1700000000000000001);
  task.set_state(models::Task::Pending);
  task.mutable_task_definition()->set_root_fs("preloaded:cflinuxfs4");
  task.mutable_task_definition()->set_memory_mb(256);
  return task;
}

const PutDomain* FindDomain(const Snapshot& snapshot, const std::string& domain) {
  for (const auto& d : snapshot.domains) {
    if (d.domain == domain) {
      return &d;
    }
  }
  return nullptr;
}

const records::DesiredLRPRecord* FindDesiredLrp(const Snapshot& snapshot,
                                                const std::string& process_guid) {
  for (const auto& r : snapshot.desired_lrps) {
    if (r.scheduling_info().desired_lrp_key().process_guid() == process_guid) {
      return &r;
    }
  }
  return nullptr;
}

const models::ActualLRP* FindActualLrp(const Snapshot& snapshot, const std::string& process_guid,
                                       int32_t index, models::ActualLRP::Presence presence) {
  for (const auto& lrp : snapshot.actual_lrps) {
    if (lrp.actual_lrp_key().process_guid() == process_guid &&
        lrp.actual_lrp_key().index() == index && lrp.presence() == presence) {
      return &lrp;
    }
  }
  return nullptr;
}

const models::Task* FindTask(const Snapshot& snapshot, const std::string& task_guid) {
  for (const auto& t : snapshot.tasks) {
    if (t.task_guid() == task_guid) {
      return &t;
    }
  }
  return nullptr;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "bbs-storage-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp");
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void CapturingSink::Write(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.push_back(line);
}

std::vector<std::string> CapturingSink::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

}  // namespace bbs::storage::testing
