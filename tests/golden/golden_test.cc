// Checks our proto/models schema against the wire contract: the golden vectors made with the
// upstream definitions (one text/binary pair per message) and the byte examples of api.md
// Appendix A.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "models/actual_lrp.pb.h"
#include "models/common.pb.h"
#include "models/desired_lrp.pb.h"
#include "models/domains.pb.h"
#include "models/error.pb.h"
#include "models/events.pb.h"

namespace bbs::golden {
namespace {

namespace fs = std::filesystem;
namespace pb = google::protobuf;

// Every file of the models package; each of their messages must have a golden vector.
constexpr const char* kModelFiles[] = {
    "models/actions.proto",     "models/actual_lrp.proto",
    "models/cells.proto",       "models/common.proto",
    "models/desired_lrp.proto", "models/domains.proto",
    "models/error.proto",       "models/evacuation.proto",
    "models/events.proto",      "models/modification_tag.proto",
    "models/task.proto",
};

fs::path VectorsDir() { return fs::path(BBS_GOLDEN_VECTORS_DIR); }

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Names of the messages that have a vector pair, sorted.
std::vector<std::string> VectorNames() {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(VectorsDir())) {
    if (entry.path().extension() == ".txt") {
      names.push_back(entry.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) {
      out += ' ';
    }
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) {
    out += static_cast<char>(v);
  }
  return out;
}

// Deterministic serialization: map entries ordered by key, like the vectors.
std::string SerializeDeterministically(const pb::Message& message) {
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

std::string StripTrailingWhitespace(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  std::string line;
  while (std::getline(in, line)) {
    line.erase(line.find_last_not_of(" \t\r") + 1);
    out += line;
    out += '\n';
  }
  while (out.size() >= 2 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') {
    out.pop_back();
  }
  return out;
}

// Collects TextFormat parse errors so that a failure names the line and the field.
class ErrorCollector : public pb::io::ErrorCollector {
 public:
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    errors_ += "line " + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
               message + "\n";
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

std::unique_ptr<pb::Message> NewMessage(const std::string& name) {
  const pb::Descriptor* descriptor =
      pb::DescriptorPool::generated_pool()->FindMessageTypeByName("models." + name);
  if (descriptor == nullptr) {
    return nullptr;
  }
  return std::unique_ptr<pb::Message>(
      pb::MessageFactory::generated_factory()->GetPrototype(descriptor)->New());
}

class GoldenVectorTest : public testing::TestWithParam<std::string> {
 protected:
  std::string Text() const { return ReadFile(VectorsDir() / (GetParam() + ".txt")); }
  std::string Binary() const { return ReadFile(VectorsDir() / (GetParam() + ".bin")); }
};

TEST_P(GoldenVectorTest, TextParsesAndSerializesToTheGoldenBytes) {
  std::unique_ptr<pb::Message> message = NewMessage(GetParam());
  ASSERT_NE(message, nullptr) << "models." << GetParam() << " is not in the descriptor pool";

  ErrorCollector errors;
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  ASSERT_TRUE(parser.ParseFromString(Text(), message.get())) << errors.errors();

  const std::string expected = Binary();
  const std::string actual = SerializeDeterministically(*message);
  if (actual != expected) {
    auto [mismatch, unused] =
        std::mismatch(actual.begin(), actual.end(), expected.begin(), expected.end());
    FAIL() << "serialized bytes differ from " << GetParam() << ".bin at offset "
           << std::distance(actual.begin(), mismatch) << "\n  expected: " << Hex(expected)
           << "\n  actual:   " << Hex(actual);
  }
}

TEST_P(GoldenVectorTest, GoldenBytesPrintBackToTheGoldenText) {
  std::unique_ptr<pb::Message> message = NewMessage(GetParam());
  ASSERT_NE(message, nullptr) << "models." << GetParam() << " is not in the descriptor pool";
  ASSERT_TRUE(message->ParseFromString(Binary()));

  std::string printed;
  ASSERT_TRUE(pb::TextFormat::PrintToString(*message, &printed));
  // Unknown fields would print as bare numbers and fail this comparison.
  EXPECT_EQ(StripTrailingWhitespace(printed), StripTrailingWhitespace(Text()));
}

INSTANTIATE_TEST_SUITE_P(Models, GoldenVectorTest, testing::ValuesIn(VectorNames()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(GoldenVectorsTest, ExistForEveryMessageOfTheModelsPackage) {
  std::vector<std::string> names = VectorNames();
  ASSERT_FALSE(names.empty()) << "no vectors in " << VectorsDir();
  for (const char* file_name : kModelFiles) {
    const pb::FileDescriptor* file =
        pb::DescriptorPool::generated_pool()->FindFileByName(file_name);
    ASSERT_NE(file, nullptr) << file_name << " is not in the descriptor pool";
    for (int i = 0; i < file->message_type_count(); ++i) {
      const std::string& name = file->message_type(i)->name();
      EXPECT_TRUE(std::binary_search(names.begin(), names.end(), name))
          << "no golden vector for models." << name << " (" << file_name << ")";
    }
  }
}

// api.md Appendix A, item 1.
TEST(WireExamplesTest, UpsertDomainRequestEncodesDomainAndTtl) {
  models::UpsertDomainRequest request;
  request.set_domain("cf-apps");
  request.set_ttl(120);
  EXPECT_EQ(Hex(SerializeDeterministically(request)),
            Hex(Bytes({0x0a, 0x07, 0x63, 0x66, 0x2d, 0x61, 0x70, 0x70, 0x73, 0x10, 0x78})));
}

// api.md Appendix A, item 2.
TEST(WireExamplesTest, FailureResponseEncodesTheErrorSubMessage) {
  const std::string text = "the requested resource already exists";
  models::DesiredLRPLifecycleResponse response;
  response.mutable_error()->set_type(models::Error::ResourceExists);
  response.mutable_error()->set_message(text);
  EXPECT_EQ(Hex(SerializeDeterministically(response)),
            Hex(Bytes({0x0a, 0x29, 0x08, 0x0c, 0x12, 0x25}) + text));
}

// api.md §2.5: UnknownError (0) is not written, but the Error itself still is.
TEST(WireExamplesTest, UnknownErrorWritesOnlyTheMessage) {
  models::DesiredLRPLifecycleResponse response;
  response.mutable_error()->set_message("x");
  EXPECT_EQ(Hex(SerializeDeterministically(response)), Hex(Bytes({0x0a, 0x03, 0x12, 0x01, 'x'})));
  response.mutable_error()->clear_message();
  EXPECT_EQ(Hex(SerializeDeterministically(response)), Hex(Bytes({0x0a, 0x00})));
}

// api.md Appendix A, item 3.
TEST(WireExamplesTest, PingResponseEncodesAvailableTrue) {
  models::PingResponse response;
  response.set_available(true);
  EXPECT_EQ(Hex(SerializeDeterministically(response)), Hex(Bytes({0x08, 0x01})));
}

// api.md Appendix A, item 4.
TEST(WireExamplesTest, ActualLrpsRequestWritesAnExplicitZeroIndex) {
  models::ActualLRPsRequest request;
  request.set_process_guid("pg-1");
  request.set_index(0);
  const std::string expected = Bytes({0x1a, 0x04, 0x70, 0x67, 0x2d, 0x31, 0x20, 0x00});
  EXPECT_EQ(Hex(SerializeDeterministically(request)), Hex(expected));

  models::ActualLRPsRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(expected));
  EXPECT_EQ(decoded.optional_index_case(), models::ActualLRPsRequest::kIndex);
  EXPECT_EQ(decoded.index(), 0);

  ASSERT_TRUE(decoded.ParseFromString(expected.substr(0, 6)));
  EXPECT_EQ(decoded.optional_index_case(), models::ActualLRPsRequest::OPTIONAL_INDEX_NOT_SET);
}

// api.md Appendix A, item 5.
TEST(WireExamplesTest, StartActualLrpRequestWritesAnExplicitFalseRoutable) {
  models::StartActualLRPRequest request;
  request.mutable_actual_lrp_key()->set_process_guid("pg-1");
  request.mutable_actual_lrp_key()->set_index(0);
  request.mutable_actual_lrp_key()->set_domain("cf-apps");
  request.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  request.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  request.mutable_actual_lrp_net_info()->set_address("10.0.0.1");
  request.set_routable(false);
  const std::string expected =
      Bytes({0x0a, 0x0f, 0x0a, 0x04, 0x70, 0x67, 0x2d, 0x31, 0x1a, 0x07, 0x63, 0x66,
             0x2d, 0x61, 0x70, 0x70, 0x73, 0x12, 0x0e, 0x0a, 0x04, 0x69, 0x67, 0x2d,
             0x31, 0x12, 0x06, 0x63, 0x65, 0x6c, 0x6c, 0x2d, 0x31, 0x1a, 0x0a, 0x0a,
             0x08, 0x31, 0x30, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x30, 0x00});
  EXPECT_EQ(Hex(SerializeDeterministically(request)), Hex(expected));

  models::StartActualLRPRequest decoded;
  ASSERT_TRUE(decoded.ParseFromString(expected));
  EXPECT_EQ(decoded.optional_routable_case(), models::StartActualLRPRequest::kRoutable);
  EXPECT_FALSE(decoded.routable());
}

// api.md Appendix A, item 6.
TEST(WireExamplesTest, DesiredLrpPortsAreWrittenUnpacked) {
  models::DesiredLRP lrp;
  lrp.add_ports(8080);
  lrp.add_ports(2222);
  const std::string unpacked = Bytes({0x70, 0x90, 0x3f, 0x70, 0xae, 0x11});
  EXPECT_EQ(Hex(SerializeDeterministically(lrp)), Hex(unpacked));

  // Readers accept the packed form too (api.md §5).
  models::DesiredLRP decoded;
  ASSERT_TRUE(decoded.ParseFromString(Bytes({0x72, 0x04, 0x90, 0x3f, 0xae, 0x11})));
  ASSERT_EQ(decoded.ports_size(), 2);
  EXPECT_EQ(decoded.ports(0), 8080u);
  EXPECT_EQ(decoded.ports(1), 2222u);
}

// api.md Appendix A, item 7.
TEST(WireExamplesTest, NegativeInt64UsesATenByteVarint) {
  models::LogRateLimit limit;
  limit.set_bytes_per_second(-1);
  EXPECT_EQ(Hex(SerializeDeterministically(limit)),
            Hex(Bytes({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})));
}

// api.md Appendix A, item 8 (the event payload; the SSE framing belongs to the events layer).
TEST(WireExamplesTest, ActualLrpCrashedEventMatchesTheBase64Example) {
  models::ActualLRPCrashedEvent event;
  event.mutable_actual_lrp_key()->set_process_guid("pg-1");
  event.mutable_actual_lrp_key()->set_index(0);
  event.mutable_actual_lrp_key()->set_domain("cf-apps");
  event.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  event.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  event.set_crash_count(1);
  event.set_crash_reason("exit 1");
  event.set_since(1700000000000000000);

  const std::string bytes = SerializeDeterministically(event);
  EXPECT_EQ(bytes.size(), 53u);
  std::string base64(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(base64.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  base64.resize(static_cast<size_t>(length));
  EXPECT_EQ(base64, "Cg8KBHBnLTEaB2NmLWFwcHMSDgoEaWctMRIGY2VsbC0xGAEiBmV4aXQgMSiAgKix45/nyxc=");
}

// api.md §5: upstream accepts any bytes in string fields, so we must not reject invalid UTF-8.
TEST(WireExamplesTest, StringFieldsAcceptInvalidUtf8) {
  const std::string invalid = Bytes({0xff, 0xfe});
  models::EnvironmentVariable variable;
  ASSERT_TRUE(variable.ParseFromString(Bytes({0x0a, 0x02}) + invalid));
  EXPECT_EQ(variable.name(), invalid);
}

}  // namespace
}  // namespace bbs::golden
