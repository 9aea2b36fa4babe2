#include "bbs/http/message.h"

namespace bbs::http {

Stream::~Stream() = default;
StreamWriter::~StreamWriter() = default;

}  // namespace bbs::http
