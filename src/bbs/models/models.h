#pragma once

// Umbrella header for the generated wire model (namespace `models`, api.md §6). Include this
// rather than the individual "models/<file>.pb.h" headers.

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
