#include "bbs/events/sse.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace bbs::events {

std::string Base64(std::string_view bytes) {
  const size_t encoded = 4 * ((bytes.size() + 2) / 3);
  // EVP_EncodeBlock writes a NUL after its output, and takes an int length: encode in slices
  // whose size is a multiple of 3 into a buffer one byte larger than the result.
  std::string out(encoded + 1, '\0');
  constexpr size_t kSlice = 3 * (size_t{1} << 28);
  size_t at = 0;
  for (size_t in = 0; in < bytes.size();) {
    const size_t n = std::min(kSlice, bytes.size() - in);
    const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                        reinterpret_cast<const unsigned char*>(bytes.data() + in),
                                        static_cast<int>(n));
    at += static_cast<size_t>(written);
    in += n;
  }
  out.resize(encoded);
  return out;
}

std::string EventBody(std::string_view type, std::string_view payload_bytes) {
  const std::string data = Base64(payload_bytes);
  std::string body;
  body.reserve(7 + type.size() + 7 + data.size() + 2);
  body.append("event: ").append(type).append("\ndata: ").append(data).append("\n\n");
  return body;
}

std::string EventBody(std::string_view type, const google::protobuf::Message& payload) {
  return EventBody(type, payload.SerializeAsString());
}

void AppendEventChunk(std::string* out, std::string_view id, std::string_view body) {
  const size_t size = 4 + id.size() + 1 + body.size();  // "id: " id "\n" body
  std::array<char, 24> hex{};
  const int n = std::snprintf(hex.data(), hex.size(), "%zx;\r\n", size);
  out->reserve(out->size() + static_cast<size_t>(n) + size + 2);
  out->append(hex.data(), static_cast<size_t>(n));
  out->append("id: ").append(id).append("\n").append(body).append("\r\n");
}

http::Response EventStreamResponse(std::shared_ptr<http::Stream> stream) {
  http::Response response;
  response.status = 200;
  response.content_type = "text/event-stream; charset=utf-8";
  response.headers = {{"Cache-Control", "no-cache, no-store, must-revalidate"},
                      {"Connection", "keep-alive"},
                      {"Transfer-Encoding", "chunked"}};
  response.stream = std::move(stream);
  return response;
}

}  // namespace bbs::events
