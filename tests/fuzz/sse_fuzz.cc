// Fuzz target: the SSE writer (events/sse.h). Checks the framing invariants that the Go client
// relies on: the chunk size line matches the chunk, the payload round-trips through base64.
// Input: type length byte, id length byte, then type, id and payload bytes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "bbs/events/sse.h"

namespace {

std::string DecodeBase64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) std::abort();  // not in the standard alphabet
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t type_len = static_cast<uint8_t>(in[0]) % 32;
  size_t id_len = static_cast<uint8_t>(in[1]) % 32;
  in.remove_prefix(2);
  if (in.size() < type_len + id_len) return 0;
  std::string_view type = in.substr(0, type_len);
  std::string_view id = in.substr(type_len, id_len);
  std::string_view payload = in.substr(type_len + id_len);

  std::string encoded = bbs::events::Base64(payload);
  Check(encoded.size() % 4 == 0);
  Check(DecodeBase64(encoded) == payload);

  std::string body = bbs::events::EventBody(type, payload);
  std::string expected_body = "event: " + std::string(type) + "\ndata: " + encoded + "\n\n";
  Check(body == expected_body);

  std::string chunk = "prefix";
  bbs::events::AppendEventChunk(&chunk, id, body);
  std::string_view framed(chunk);
  Check(framed.substr(0, 6) == "prefix");
  framed.remove_prefix(6);
  size_t head_end = framed.find(";\r\n");
  Check(head_end != std::string_view::npos && head_end > 0);
  size_t announced = std::stoul(std::string(framed.substr(0, head_end)), nullptr, 16);
  std::string_view rest = framed.substr(head_end + 3);
  Check(rest.size() == announced + 2);
  Check(rest.substr(announced) == "\r\n");
  Check(rest.substr(0, announced) == "id: " + std::string(id) + "\n" + body);
  return 0;
}
