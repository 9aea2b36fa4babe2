#include "bbs/storage/etcd/value_codec.h"

#include <string>

namespace bbs::storage::etcd {
namespace {

constexpr std::string_view kUnencodedPrefix = "00";
constexpr char kProtoEnvelope[] = {'\x02', '\x00'};

}  // namespace

Result<std::string> UnencodedValueCodec::Encode(std::string_view serialized_model) const {
  std::string out;
  out.reserve(kUnencodedPrefix.size() + sizeof(kProtoEnvelope) + serialized_model.size());
  out.append(kUnencodedPrefix);
  out.append(kProtoEnvelope, sizeof(kProtoEnvelope));
  out.append(serialized_model);
  return out;
}

Result<std::string> UnencodedValueCodec::Decode(std::string_view value) const {
  if (!value.starts_with(kUnencodedPrefix)) {
    return UnknownError("value is not in the unencoded format (prefix \"00\")");
  }
  value.remove_prefix(kUnencodedPrefix.size());
  if (value.size() < sizeof(kProtoEnvelope) || value[0] != kProtoEnvelope[0]) {
    return UnknownError("value is not a protobuf envelope");
  }
  value.remove_prefix(sizeof(kProtoEnvelope));
  return std::string(value);
}

}  // namespace bbs::storage::etcd
