#pragma once

// The model JSON face lives in bbs_models (the server's JSON API uses it too).
#include "bbs/models/model_json.h"

namespace bbs::cli {

using wire::AppendModelJson;
using wire::ModelJson;
using wire::ParseModelJson;

}  // namespace bbs::cli
