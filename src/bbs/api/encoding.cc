#include "bbs/api/encoding.h"

#include <google/protobuf/io/coded_stream.h>

#include "models/error.pb.h"

namespace bbs::api {
namespace {

using google::protobuf::io::CodedOutputStream;

void AppendVarint(std::string* out, uint64_t value) {
  uint8_t buf[10];
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(value, buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

void AppendLengthDelimitedHeader(std::string* out, int field_number, size_t size) {
  AppendVarint(out, (static_cast<uint64_t>(field_number) << 3) | 2u);
  AppendVarint(out, size);
}

// Streams an EncodedList: the HTTP server pulls its bytes chunk by chunk.
class EncodedListSource final : public http::BodySource {
 public:
  explicit EncodedListSource(state::EncodedList list) : list_(std::move(list)) {}
  size_t size() const override { return list_.size(); }
  size_t Read(char* out, size_t capacity) override { return list_.Read(out, capacity); }
  std::string ReadAll() { return list_.ReadAll(); }

 private:
  state::EncodedList list_;
};

}  // namespace

std::string Body::TakeString() {
  if (source) {
    bytes.resize(source->size());
    size_t done = 0;
    while (done < bytes.size()) {
      size_t n = source->Read(bytes.data() + done, bytes.size() - done);
      if (n == 0) break;
      done += n;
    }
    bytes.resize(done);
    source.reset();
  }
  return std::move(bytes);
}

Body ListBody(state::EncodedList list) {
  if (list.size() < kStreamedListBytes) return Body(list.ReadAll());
  return Body(std::make_shared<EncodedListSource>(std::move(list)));
}

std::string ErrorResponse(const Status& status) {
  if (status.ok()) return std::string();
  models::Error error;
  error.set_type(static_cast<models::Error::Type>(status.code()));
  error.set_message(status.message());
  std::string out;
  AppendMessageField(&out, 1, error);
  return out;
}

void AppendMessageField(std::string* out, int field_number,
                        const google::protobuf::MessageLite& message) {
  size_t size = message.ByteSizeLong();
  AppendLengthDelimitedHeader(out, field_number, size);
  size_t offset = out->size();
  out->resize(offset + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(out->data() + offset));
}

void AppendBytesField(std::string* out, int field_number, const std::string& value) {
  AppendLengthDelimitedHeader(out, field_number, value.size());
  out->append(value);
}

}  // namespace bbs::api
