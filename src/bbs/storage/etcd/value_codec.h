#pragma once

#include <string>
#include <string_view>

#include "bbs/base/status.h"

namespace bbs::storage::etcd {

// ValueCodec turns a serialized model (protobuf bytes) into the value stored under an etcd key
// and back: the "serialised model" format of spec/behavior.md §10.2 (a two-character encoding
// prefix, then the envelope [format][version] + protobuf, encrypted for prefix "02"). The etcd
// store takes it injected so that it shares the SQL stores' encryptor. Implementations must be
// thread-safe.
class ValueCodec {
 public:
  virtual ~ValueCodec() = default;

  virtual Result<std::string> Encode(std::string_view serialized_model) const = 0;
  // Fails (with any error) on a value it cannot read: unknown prefix, unknown key label, corrupt.
  virtual Result<std::string> Decode(std::string_view value) const = 0;
};

// The unencrypted historical encoding of §10.2: prefix "00", then the protobuf envelope
// [0x02 (PROTO)][0x00 (version)] + protobuf. Decodes only what it writes. Used until the
// encryptor is wired in, and by tests.
class UnencodedValueCodec final : public ValueCodec {
 public:
  Result<std::string> Encode(std::string_view serialized_model) const override;
  Result<std::string> Decode(std::string_view value) const override;
};

}  // namespace bbs::storage::etcd
