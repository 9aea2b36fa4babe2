#include "bbs/storage/encryption/encoder.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <google/protobuf/message_lite.h>

namespace bbs::storage::encryption {
namespace {

constexpr std::string_view kEncryptedPrefix = "02";
constexpr char kProtoEnvelope = 0x02;
constexpr char kEnvelopeVersion = 0x00;
constexpr size_t kTagSize = 16;
constexpr size_t kMaxLabelSize = 127;

Status Undecodable(std::string_view why) {
  return Status(ErrorCode::kDeserialize, fmt::format("cannot decode stored value: {}", why));
}

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// OpenSSL 3 looks the cipher up in its provider store on every implicit use (a locked table):
// fetch it once, and keep one context per thread and direction, so that the parallel decode
// at start-up does not serialise on that lock.
const EVP_CIPHER* Aes256Gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return cipher;
}

// A context of this thread, set up for AES-256-GCM with a 12-byte nonce in `encrypt`
// direction; each use only sets the key and nonce. Null if OpenSSL cannot allocate.
EVP_CIPHER_CTX* ThreadContext(bool encrypt) {
  thread_local CipherCtx contexts[2];
  CipherCtx& ctx = contexts[encrypt ? 1 : 0];
  if (ctx == nullptr) {
    CipherCtx fresh(EVP_CIPHER_CTX_new());
    if (fresh == nullptr || Aes256Gcm() == nullptr ||
        EVP_CipherInit_ex(fresh.get(), Aes256Gcm(), nullptr, nullptr, nullptr, encrypt ? 1 : 0) !=
            1 ||
        EVP_CIPHER_CTX_ctrl(fresh.get(), EVP_CTRL_GCM_SET_IVLEN,
                            static_cast<int>(Encoder::kNonceSize), nullptr) != 1) {
      return nullptr;
    }
    ctx = std::move(fresh);
  }
  return ctx.get();
}

// A per-thread scratch buffer: kept between calls (the start-up decodes every stored value of
// a thread through it), but released after a rare large value so that no thread keeps it.
class Scratch {
 public:
  explicit Scratch(std::string& buffer) : buffer_(buffer) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (buffer_.capacity() > kKeepBytes) std::string().swap(buffer_);
  }

 private:
  static constexpr size_t kKeepBytes = 64 * 1024;
  std::string& buffer_;
};

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (!out.empty()) {
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), Bytes(bytes),
                    static_cast<int>(bytes.size()));
  }
  return out;
}

namespace {

// Standard base64 alphabet -> 6-bit value; -1 for every other byte ('=' included).
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}();

}  // namespace

// Table-driven, one pass: start-up decodes every stored blob through here, and a per-character
// validation loop in front of EVP_DecodeBlock was a tenth of the whole load's CPU time.
bool Base64Decode(std::string_view text, std::string* out) {
  out->clear();
  if (text.size() % 4 != 0) {
    return false;
  }
  if (text.empty()) {
    return true;
  }
  // Padding only in the last two places, and nothing but padding after it.
  size_t padding = 0;
  if (text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  out->resize(text.size() / 4 * 3);
  auto* dst = reinterpret_cast<unsigned char*>(out->data());
  const auto* src = Bytes(text);
  const size_t groups = text.size() / 4;
  for (size_t g = 0; g < groups; ++g, src += 4, dst += 3) {
    int32_t a = kBase64Values[src[0]];
    int32_t b = kBase64Values[src[1]];
    int32_t c = kBase64Values[src[2]];
    int32_t d = kBase64Values[src[3]];
    if (g + 1 == groups && padding > 0) {
      // The padded places decode as zero bits; Go accepts no other padding.
      if (padding == 2) c = 0;
      d = 0;
    }
    if ((a | b | c | d) < 0) {
      out->clear();
      return false;
    }
    uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                 (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
    dst[0] = static_cast<unsigned char>(v >> 16);
    dst[1] = static_cast<unsigned char>(v >> 8);
    dst[2] = static_cast<unsigned char>(v);
  }
  out->resize(out->size() - padding);
  return true;
}

Result<std::shared_ptr<const Encoder>> Encoder::Create(
    const std::map<std::string, std::string>& keys, const std::string& active_label) {
  if (keys.empty()) {
    return InvalidRequest("at least one encryption key is required");
  }
  std::shared_ptr<Encoder> encoder(new Encoder());
  for (const auto& [label, passphrase] : keys) {
    if (label.empty() || label.size() > kMaxLabelSize) {
      return InvalidRequest(
          fmt::format("encryption key label '{}' must be 1 to 127 bytes long", label));
    }
    if (passphrase.empty()) {
      return InvalidRequest(fmt::format("the passphrase of encryption key '{}' is empty", label));
    }
    Key key;
    SHA256(Bytes(passphrase), passphrase.size(), key.data());
    encoder->keys_.emplace(label, key);
  }
  const Key* active = encoder->FindKey(active_label);
  if (active == nullptr) {
    return InvalidRequest(
        fmt::format("the active key label '{}' is not among the encryption keys", active_label));
  }
  encoder->active_label_ = active_label;
  encoder->active_key_ = *active;
  return std::shared_ptr<const Encoder>(std::move(encoder));
}

bool Encoder::HasLabel(std::string_view label) const { return FindKey(label) != nullptr; }

const Encoder::Key* Encoder::FindKey(std::string_view label) const {
  auto it = keys_.find(label);
  return it == keys_.end() ? nullptr : &it->second;
}

std::string Encoder::EncodeValue(std::string_view plaintext) const {
  Nonce nonce;
  // RAND_bytes fails only when the system has no entropy source at all.
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    std::abort();
  }
  return EncodeValueWithNonce(plaintext, nonce);
}

std::string Encoder::EncodeValueWithNonce(std::string_view plaintext, const Nonce& nonce) const {
  std::string frame;
  frame.reserve(1 + active_label_.size() + kNonceSize + plaintext.size() + kTagSize);
  frame.push_back(static_cast<char>(active_label_.size()));
  frame.append(active_label_);
  frame.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  size_t cipher_at = frame.size();
  frame.resize(cipher_at + plaintext.size() + kTagSize);
  auto* cipher = reinterpret_cast<unsigned char*>(frame.data() + cipher_at);

  EVP_CIPHER_CTX* ctx = ThreadContext(/*encrypt=*/true);
  int len = 0;
  bool ok =
      ctx != nullptr &&
      EVP_EncryptInit_ex(ctx, nullptr, nullptr, active_key_.data(), nonce.data()) == 1 &&
      EVP_EncryptUpdate(ctx, cipher, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) ==
          1 &&
      EVP_EncryptFinal_ex(ctx, cipher + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, cipher + plaintext.size()) == 1;
  // AES-GCM with a valid key cannot fail short of memory exhaustion.
  if (!ok) {
    std::abort();
  }
  std::string out(kEncryptedPrefix);
  out.append(Base64Encode(frame));
  return out;
}

namespace {

// The binary frame (label size, label, nonce, ciphertext, tag) of an encrypted value.
Status DecodeFrame(std::string_view encoded, std::string* frame) {
  if (!encoded.starts_with(kEncryptedPrefix)) {
    return Undecodable("unknown format prefix");
  }
  if (!Base64Decode(encoded.substr(kEncryptedPrefix.size()), frame)) {
    return Undecodable("invalid base64");
  }
  if (frame->empty()) {
    return Undecodable("empty frame");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> Encoder::LabelOf(std::string_view encoded) {
  std::string frame;
  if (Status s = DecodeFrame(encoded, &frame); !s.ok()) return s;
  size_t label_size = static_cast<unsigned char>(frame[0]);
  if (frame.size() < 1 + label_size) {
    return Undecodable("truncated label");
  }
  return frame.substr(1, label_size);
}

Result<std::string> Encoder::DecodeValue(std::string_view encoded) const {
  std::string plain;
  if (Status s = DecodeValueInto(encoded, &plain); !s.ok()) return s;
  return plain;
}

Status Encoder::DecodeValueInto(std::string_view encoded, std::string* plain) const {
  // Per-thread scratch: the frame and the key last set on this thread's context. Setting the
  // key (AES key schedule plus OpenSSL's parameter handling) costs more than decrypting a
  // typical value, and at start-up every value of a thread is under the same key.
  thread_local std::string frame;
  thread_local Key context_key{};
  thread_local bool context_keyed = false;
  Scratch release_if_large(frame);
  if (Status s = DecodeFrame(encoded, &frame); !s.ok()) return s;
  size_t label_size = static_cast<unsigned char>(frame[0]);
  if (frame.size() < 1 + label_size + kNonceSize + kTagSize) {
    return Undecodable("frame too short");
  }
  std::string_view label(frame.data() + 1, label_size);
  const Key* key = FindKey(label);
  if (key == nullptr) {
    return Undecodable(fmt::format("unknown key label '{}'", label));
  }
  const auto* nonce = Bytes(frame) + 1 + label_size;
  const auto* cipher = nonce + kNonceSize;
  size_t cipher_size = frame.size() - 1 - label_size - kNonceSize - kTagSize;
  plain->resize(cipher_size);
  std::array<unsigned char, kTagSize> tag;
  std::memcpy(tag.data(), cipher + cipher_size, kTagSize);

  EVP_CIPHER_CTX* ctx = ThreadContext(/*encrypt=*/false);
  if (ctx == nullptr) {
    return Undecodable("authentication failed");
  }
  const bool same_key = context_keyed && context_key == *key;
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, same_key ? nullptr : key->data(), nonce) == 1;
  if (ok && !same_key) {
    context_key = *key;
    context_keyed = true;
  }
  ok = ok &&
       EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(plain->data()), &len, cipher,
                         static_cast<int>(cipher_size)) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) == 1 &&
       EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(plain->data()) + len, &len) == 1;
  if (!ok) {
    return Undecodable("authentication failed");
  }
  return Status::Ok();
}

std::string Encoder::EncodeModelBytes(std::string_view serialized) const {
  std::string envelope;
  envelope.reserve(2 + serialized.size());
  envelope.push_back(kProtoEnvelope);
  envelope.push_back(kEnvelopeVersion);
  envelope.append(serialized);
  return EncodeValue(envelope);
}

std::string Encoder::EncodeModel(const google::protobuf::MessageLite& message) const {
  return EncodeModelBytes(message.SerializeAsString());
}

Result<std::string> Encoder::DecodeModelBytes(std::string_view encoded) const {
  std::string bytes;
  if (Status s = DecodeModelBytesInto(encoded, &bytes); !s.ok()) return s;
  return bytes;
}

namespace {

// The envelope of a decrypted model value; false if it is not [0x02][0x00]-shaped.
bool IsModelEnvelope(std::string_view plain) {
  return plain.size() >= 2 && plain[0] == kProtoEnvelope;
}

}  // namespace

Status Encoder::DecodeModelBytesInto(std::string_view encoded, std::string* serialized) const {
  if (Status s = DecodeValueInto(encoded, serialized); !s.ok()) return s;
  if (!IsModelEnvelope(*serialized)) {
    return Undecodable("unsupported envelope format");
  }
  serialized->erase(0, 2);
  return Status::Ok();
}

Status Encoder::DecodeModel(std::string_view encoded, google::protobuf::MessageLite* out) const {
  thread_local std::string plain;  // reused: see DecodeValueInto
  Scratch release_if_large(plain);
  if (Status s = DecodeValueInto(encoded, &plain); !s.ok()) return s;
  if (!IsModelEnvelope(plain)) {
    return Undecodable("unsupported envelope format");
  }
  if (!out->ParseFromArray(plain.data() + 2, static_cast<int>(plain.size() - 2))) {
    return Undecodable(fmt::format("invalid {} protobuf", out->GetTypeName()));
  }
  return Status::Ok();
}

}  // namespace bbs::storage::encryption
