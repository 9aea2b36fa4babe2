#pragma once

#include "bbs/base/logger.h"

namespace bbs {

// "debug", "info", "error" or "fatal": the inverse of ParseLogLevel. Kept out of logger.h,
// which nearly every file includes, because only the logger and the debug server need it.
const char* LogLevelName(LogLevel level);

}  // namespace bbs
