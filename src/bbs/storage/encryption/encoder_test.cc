#include "bbs/storage/encryption/encoder.h"

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "models/common.pb.h"

namespace bbs::storage::encryption {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPassphrase[] = "correct horse battery staple";

Encoder::Nonce CountingNonce() {
  Encoder::Nonce nonce;
  for (size_t i = 0; i < nonce.size(); ++i) {
    nonce[i] = static_cast<uint8_t>(i);
  }
  return nonce;
}

std::shared_ptr<const Encoder> Make(const std::map<std::string, std::string>& keys,
                                    const std::string& active) {
  auto encoder = Encoder::Create(keys, active);
  EXPECT_TRUE(encoder.ok()) << encoder.status().ToString();
  return encoder.ok() ? encoder.value() : nullptr;
}

// Vectors computed independently (Python `cryptography`: AESGCM(sha256(passphrase)), nonce
// 00 01 .. 0b, label "label-1"), not with this code.
TEST(EncoderTest, EncodesAValueExactlyAsTheHandComputedVector) {
  auto encoder = Make({{"label-1", kPassphrase}}, "label-1");
  EXPECT_EQ(encoder->EncodeValueWithNonce("hello", CountingNonce()),
            "02B2xhYmVsLTEAAQIDBAUGBwgJCgt/qLA/AwXWr8Z8YX1Ss6CIrmGi9mw=");
  EXPECT_EQ(encoder->EncodeValueWithNonce("", CountingNonce()),
            "02B2xhYmVsLTEAAQIDBAUGBwgJCgtd1PmO71UzlNZktSBj7sVu");
}

TEST(EncoderTest, DecodesTheHandComputedSerialisedModel) {
  auto encoder = Make({{"label-1", kPassphrase}}, "label-1");
  // Envelope 02 00 + protobuf of a VolumePlacement-shaped message: field 1 = "abc".
  const std::string stored = "02B2xhYmVsLTEAAQIDBAUGBwgJCgsVzdZQDc+ByLdVeaM1okerOEboid/9DQ==";
  auto bytes = encoder->DecodeModelBytes(stored);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(bytes.value(), std::string("\x0a\x03"
                                       "abc"));
  models::VolumePlacement placement;
  ASSERT_TRUE(encoder->DecodeModel(stored, &placement).ok());
  ASSERT_EQ(placement.driver_names_size(), 1);
  EXPECT_EQ(placement.driver_names(0), "abc");
}

TEST(EncoderTest, RoundTripsValuesAndModelsWithARandomNonceEachTime) {
  auto encoder = Make({{"k", "p"}}, "k");
  std::string binary("\0\x01\xff quote\" end", 14);
  std::string a = encoder->EncodeValue(binary);
  std::string b = encoder->EncodeValue(binary);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, 2), "02");
  EXPECT_EQ(encoder->DecodeValue(a).value(), binary);
  EXPECT_EQ(encoder->DecodeValue(b).value(), binary);

  models::VolumePlacement placement;
  placement.add_driver_names("nfs");
  std::string model = encoder->EncodeModel(placement);
  models::VolumePlacement back;
  ASSERT_TRUE(encoder->DecodeModel(model, &back).ok());
  EXPECT_EQ(back.driver_names(0), "nfs");
}

TEST(EncoderTest, ReadsBlobsWrittenWithAnyConfiguredKeyAndWritesWithTheActiveOne) {
  auto old_encoder = Make({{"old", "one"}}, "old");
  auto encoder = Make({{"old", "one"}, {"new", "two"}}, "new");
  std::string stored = old_encoder->EncodeValue("payload");
  EXPECT_EQ(encoder->DecodeValue(stored).value(), "payload");
  EXPECT_EQ(Encoder::LabelOf(stored).value(), "old");
  EXPECT_EQ(Encoder::LabelOf(encoder->EncodeValue("x")).value(), "new");
}

TEST(EncoderTest, DecodesValuesOfAlternatingKeysAndEncodersOnOneThreadIntoReusedBuffers) {
  // A thread keeps the key it last set on its cipher context: every switch must still use the
  // key the value names, and a same-label key with another passphrase must still fail.
  auto encoder = Make({{"old", "one"}, {"new", "two"}}, "new");
  auto old_encoder = Make({{"old", "one"}}, "old");
  auto impostor = Make({{"old", "not-one"}}, "old");
  std::string under_old = old_encoder->EncodeValue("written with old");
  std::string under_new = encoder->EncodeValue("new");
  std::string plain = "a longer buffer left over from an earlier value";
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(encoder->DecodeValueInto(under_old, &plain).ok());
    EXPECT_EQ(plain, "written with old");
    ASSERT_TRUE(encoder->DecodeValueInto(under_new, &plain).ok());
    EXPECT_EQ(plain, "new");
    EXPECT_FALSE(impostor->DecodeValueInto(under_old, &plain).ok());
    EXPECT_EQ(old_encoder->DecodeValue(under_old).value(), "written with old");
  }
  std::string large(200 * 1024, 'x');  // past the per-thread buffers' kept size
  EXPECT_EQ(encoder->DecodeValue(encoder->EncodeValue(large)).value(), large);
  EXPECT_EQ(encoder->DecodeValue(under_new).value(), "new");
  std::string model = encoder->EncodeModelBytes("\x08\x01");
  EXPECT_FALSE(old_encoder->DecodeModelBytesInto(encoder->EncodeModelBytes("x"), &plain).ok());
  ASSERT_TRUE(encoder->DecodeModelBytesInto(model, &plain).ok());
  EXPECT_EQ(plain, "\x08\x01");
}

TEST(EncoderTest, RejectsAnUnknownLabelATamperedBlobAndForeignFormats) {
  auto writer = Make({{"a", "one"}}, "a");
  auto reader = Make({{"b", "two"}}, "b");
  std::string stored = writer->EncodeValue("payload");
  Result<std::string> unknown = reader->DecodeValue(stored);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), ErrorCode::kDeserialize);
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknown key label 'a'"));

  std::string tampered = stored;
  tampered[tampered.size() - 4] = tampered[tampered.size() - 4] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(writer->DecodeValue(tampered).ok());

  auto wrong_key = Make({{"a", "not-one"}}, "a");
  EXPECT_FALSE(wrong_key->DecodeValue(stored).ok());

  for (std::string bad : {"", "0", "01aGVsbG8=", "00hello", "02!!!!", "02AAA", "02", "02AA=A"}) {
    EXPECT_FALSE(writer->DecodeValue(bad).ok()) << bad;
  }
  // A valid value is not a model: its plaintext lacks the protobuf envelope.
  EXPECT_FALSE(writer->DecodeModelBytes(writer->EncodeValue("{}")).ok());
}

TEST(EncoderTest, RefusesInvalidKeySetsWithoutEchoingPassphrases) {
  EXPECT_FALSE(Encoder::Create({}, "").ok());
  EXPECT_FALSE(Encoder::Create({{"a", "secret-passphrase"}}, "b").ok());
  EXPECT_FALSE(Encoder::Create({{"", "secret-passphrase"}}, "").ok());
  EXPECT_FALSE(Encoder::Create({{std::string(128, 'l'), "secret-passphrase"}}, "").ok());
  EXPECT_TRUE(Encoder::Create({{std::string(127, 'l'), "p"}}, std::string(127, 'l')).ok());
  auto status = Encoder::Create({{"a", "secret-passphrase"}}, "b").status();
  EXPECT_THAT(status.message(), Not(HasSubstr("secret-passphrase")));
  EXPECT_FALSE(Encoder::Create({{"a", ""}}, "a").ok());
}

TEST(EncoderTest, IsSafeToShareBetweenThreads) {
  auto encoder = Make({{"k", "p"}}, "k");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        std::string text = std::to_string(t * 1000 + i);
        auto back = encoder->DecodeValue(encoder->EncodeValue(text));
        if (!back.ok() || back.value() != text) {
          ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_THAT(failures, ::testing::Each(0));
}

TEST(Base64Test, MatchesTheStandardAlphabetWithPadding) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  std::string out;
  EXPECT_TRUE(Base64Decode("Zm8=", &out));
  EXPECT_EQ(out, "fo");
  EXPECT_TRUE(Base64Decode("+/8=", &out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_FALSE(Base64Decode("Zm8", &out));
  EXPECT_FALSE(Base64Decode("Z=m8", &out));
  EXPECT_FALSE(Base64Decode("Zm-_", &out));
  EXPECT_FALSE(Base64Decode("Z===", &out));
  EXPECT_FALSE(Base64Decode("Zg=A", &out));
  EXPECT_FALSE(Base64Decode("Zg==Zm8=", &out));
  EXPECT_TRUE(Base64Decode("", &out));
  EXPECT_EQ(out, "");
}

TEST(Base64Test, DecodingUndoesEncodingForEveryLengthAndByte) {
  for (size_t len = 0; len < 300; ++len) {
    std::string bytes;
    for (size_t i = 0; i < len; ++i) bytes.push_back(static_cast<char>((i * 37 + len) & 0xff));
    std::string out;
    ASSERT_TRUE(Base64Decode(Base64Encode(bytes), &out)) << len;
    EXPECT_EQ(out, bytes) << len;
  }
}

}  // namespace
}  // namespace bbs::storage::encryption
