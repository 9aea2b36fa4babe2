#pragma once

#include <vector>

#include "bbs/base/logger.h"
#include "bbs/storage/encryption/encoder.h"
#include "bbs/storage/sql/rows.h"
#include "bbs/storage/store.h"

// The engine-independent half of an SQL backend's start-up load: the backend reads the rows in
// its own dialect, and this turns them into a Snapshot.
namespace bbs::storage::sql {

// Decodes the rows into `snapshot` (spread over the cores). A row that does not decode is
// logged ("failed-to-decode-…") and its delete appended to `undecodable` (§10.2). Rows are
// consumed.
void DecodeRows(std::vector<DesiredRow>& desired, std::vector<ActualRow>& actual,
                std::vector<TaskRow>& tasks, const encryption::Encoder& encoder,
                const Logger& logger, Snapshot* snapshot, std::vector<Mutation>* undecodable);

}  // namespace bbs::storage::sql
