#pragma once

// Every generated message of the wire model (proto package `models`, api.md §6) in one include,
// for code that handles most of them (validation, conversion, the api); code that needs one or
// two includes "models/<file>.pb.h" directly. The C++ code of this folder lives in namespace
// `bbs::wire`: a `bbs::models` would hide the proto package `::models` inside namespace bbs.

#include "models/actions.pb.h"
#include "models/actual_lrp.pb.h"
#include "models/cells.pb.h"
#include "models/common.pb.h"
#include "models/desired_lrp.pb.h"
#include "models/domains.pb.h"
#include "models/error.pb.h"
#include "models/evacuation.pb.h"
#include "models/events.pb.h"
#include "models/modification_tag.pb.h"
#include "models/task.pb.h"
