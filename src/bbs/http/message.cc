#include "bbs/http/message.h"

namespace bbs::http {

BodySource::~BodySource() = default;
Stream::~Stream() = default;
StreamWriter::~StreamWriter() = default;

}  // namespace bbs::http
