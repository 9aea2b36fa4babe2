#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "bbs/base/status.h"

namespace google::protobuf {
class MessageLite;
}

namespace bbs::storage::encryption {

// Encoder turns plaintext into upstream's stored blob formats and back (spec/behavior.md §10.2):
//
//   encoded value     "02" + base64(std, padded) of
//                     [label length: 1 byte][label][12-byte nonce][AES-256-GCM ciphertext||tag]
//   serialised model  an encoded value whose plaintext is [0x02][0x00] + protobuf bytes
//
// The AES key of a label is SHA-256 of its passphrase; each encryption takes a fresh random
// nonce and no additional data. Writes use the active label; reads use the label named in the
// blob. Keys and passphrases never appear in any Status message.
//
// Immutable after Create: thread-safe, share it freely (callers hold a shared_ptr).
class Encoder {
 public:
  static constexpr size_t kNonceSize = 12;
  using Nonce = std::array<uint8_t, kNonceSize>;

  // Builds an encoder from `keys` (label -> passphrase). Fails with InvalidRequest if `keys` is
  // empty, a label is not 1-127 bytes, a passphrase is empty, or `active_label` is not a key.
  static Result<std::shared_ptr<const Encoder>> Create(
      const std::map<std::string, std::string>& keys, const std::string& active_label);

  const std::string& active_label() const { return active_label_; }
  bool HasLabel(std::string_view label) const;

  // --- encoded value ---
  // Encrypts `plaintext` with the active key and a random nonce.
  std::string EncodeValue(std::string_view plaintext) const;
  // Same with a caller-chosen nonce (tests and fixed vectors only: a nonce must never repeat).
  std::string EncodeValueWithNonce(std::string_view plaintext, const Nonce& nonce) const;
  // The plaintext of `encoded`. Fails with kDeserialize if the prefix is not "02", the base64 or
  // the frame is malformed, the label is unknown, or authentication fails.
  Result<std::string> DecodeValue(std::string_view encoded) const;
  // Same into `*plain` (its buffer reused; unspecified on failure): the start-up load decodes
  // every stored value through here without allocating once the buffers are warm.
  Status DecodeValueInto(std::string_view encoded, std::string* plain) const;

  // --- serialised model ---
  // Encodes already-serialized protobuf bytes (the envelope is added here).
  std::string EncodeModelBytes(std::string_view serialized) const;
  std::string EncodeModel(const google::protobuf::MessageLite& message) const;
  // The protobuf bytes inside the envelope of `encoded`. Fails with kDeserialize like
  // DecodeValue, or if the envelope is not [0x02][0x00] (an unsupported legacy format).
  Result<std::string> DecodeModelBytes(std::string_view encoded) const;
  // Same into `*serialized` (its buffer reused; unspecified on failure).
  Status DecodeModelBytesInto(std::string_view encoded, std::string* serialized) const;
  // Decodes into `out` (cleared first). Fails with kDeserialize also if the bytes do not parse.
  Status DecodeModel(std::string_view encoded, google::protobuf::MessageLite* out) const;

  // The key label an encoded value names, without decrypting it. kDeserialize if malformed.
  static Result<std::string> LabelOf(std::string_view encoded);

  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

 private:
  using Key = std::array<uint8_t, 32>;
  Encoder() = default;

  const Key* FindKey(std::string_view label) const;

  std::map<std::string, Key, std::less<>> keys_;
  std::string active_label_;
  Key active_key_{};
};

// Standard base64 with padding (OpenSSL's encoder), and its strict inverse (false on any
// character outside the alphabet, bad padding, or a length that is not a multiple of 4).
std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace bbs::storage::encryption
