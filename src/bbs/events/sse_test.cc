#include "bbs/events/sse.h"

#include <utility>

#include <gtest/gtest.h>

#include "models/events.pb.h"

namespace bbs::events {
namespace {

models::ActualLRPCrashedEvent AppendixACrash() {
  models::ActualLRPCrashedEvent crash;
  crash.mutable_actual_lrp_key()->set_process_guid("pg-1");
  crash.mutable_actual_lrp_key()->set_index(0);
  crash.mutable_actual_lrp_key()->set_domain("cf-apps");
  crash.mutable_actual_lrp_instance_key()->set_instance_guid("ig-1");
  crash.mutable_actual_lrp_instance_key()->set_cell_id("cell-1");
  crash.set_crash_count(1);
  crash.set_crash_reason("exit 1");
  crash.set_since(1700000000000000000);
  return crash;
}

TEST(Base64Test, EncodesTheRfc4648VectorsWithPadding) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [in, out] : vectors) EXPECT_EQ(Base64(in), out) << in;
}

TEST(Base64Test, UsesTheStandardAlphabetAndNoLineBreaks) {
  EXPECT_EQ(Base64(std::string("\xfb\xff\xbf", 3)), "+/+/");
  const std::string long_input(1000, 'x');
  const std::string encoded = Base64(long_input);
  EXPECT_EQ(encoded.size(), 4u * 334u);
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
}

TEST(SseTest, FramesTheFirstEventOfAppendixAByteForByte) {
  const std::string payload = AppendixACrash().SerializeAsString();
  ASSERT_EQ(payload.size(), 53u);
  const std::string body = EventBody("actual_lrp_crashed", payload);
  std::string chunk;
  AppendEventChunk(&chunk, "0", body);
  const std::string text =
      "id: 0\nevent: actual_lrp_crashed\n"
      "data: Cg8KBHBnLTEaB2NmLWFwcHMSDgoEaWctMRIGY2VsbC0xGAEiBmV4aXQgMSiAgKix45/nyxc=\n\n";
  ASSERT_EQ(text.size(), 112u);
  EXPECT_EQ(chunk, "70;\r\n" + text + "\r\n");
}

TEST(SseTest, EncodesAMessageLikeItsSerialisedBytes) {
  const models::ActualLRPCrashedEvent crash = AppendixACrash();
  EXPECT_EQ(EventBody("actual_lrp_crashed", crash),
            EventBody("actual_lrp_crashed", crash.SerializeAsString()));
}

TEST(SseTest, AppendsChunksWithLowerCaseHexSizes) {
  std::string out = "x";
  AppendEventChunk(&out, "12345", std::string(200, 'b'));
  // 4 + 5 + 1 + 200 = 210 = 0xd2
  EXPECT_EQ(out.substr(0, 6), "xd2;\r\n");
  EXPECT_EQ(out.size(), 1u + 5u + 210u + 2u);
  EXPECT_EQ(out.substr(out.size() - 2), "\r\n");
}

TEST(SseTest, BuildsTheStreamResponseHead) {
  http::Response response = EventStreamResponse(nullptr);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/event-stream; charset=utf-8");
  EXPECT_TRUE(response.body.empty());
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Cache-Control", "no-cache, no-store, must-revalidate"},
      {"Connection", "keep-alive"},
      {"Transfer-Encoding", "chunked"}};
  EXPECT_EQ(response.headers, expected);
}

TEST(SseTest, TheTerminatorIsTheLastChunk) { EXPECT_EQ(kStreamTerminator, "0\r\n\r\n"); }

}  // namespace
}  // namespace bbs::events
