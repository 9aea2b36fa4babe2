#pragma once

// Small helpers of the end-to-end HA tests (tests/ha): ports, and the writes and reads whose
// survival across a takeover they check.

#include <set>
#include <string>

#include "bbs/http/test_client.h"

namespace bbs::testing {

// A loopback port that was free a moment ago (a passive must be told its API port up front: it
// does not listen, so there is nothing to read back).
int FreePort();

// Whether a TCP connection to 127.0.0.1:port is refused (nothing listens).
bool ConnectionRefused(int port);

// Desires a one-instance LRP `guid` through `client`. True when acknowledged (200 and no error
// in the body); otherwise false, with the reason in *why when not null.
bool DesireLrp(http::TestClient& client, const std::string& guid, std::string* why = nullptr);

// The process guids of every desired LRP the bbs on 127.0.0.1:port lists (plain HTTP). Empty,
// with the reason in *why when not null, if the list fails.
std::set<std::string> ListDesiredGuids(int port, std::string* why = nullptr);

}  // namespace bbs::testing
