#pragma once

// The JSON config file (-config): upstream's keys (behavior.md §11), decoded as Go's
// encoding/json decodes them into upstream's config struct. Internal to bbs_daemon_config.

#include <string>
#include <vector>

#include "bbs/base/status.h"
#include "bbs/daemon/config.h"

namespace bbs::daemon {

// What reading a file found besides the values it stored.
struct ConfigFileNotes {
  bool connection_string_set = false;  // database_connection_string was given
  bool driver_set = false;             // database_driver was given
  // One line per key that is not known, naming it: upstream ignores unknown keys, so bbs
  // warns instead of failing.
  std::vector<std::string> warnings;
};

// Reads the JSON object in the file at `path` into `config`. As Go: keys match exactly or
// case-insensitively (the last match in the document wins), null leaves a field alone, an
// unknown key is skipped (here with a warning). Fails with a one-line message naming the file
// and key on an unreadable or malformed file, a value of the wrong type or an invalid value.
Status ReadConfigFile(const std::string& path, Config* config, ConfigFileNotes* notes);

// Every key ReadConfigFile knows, in reading order; nested keys dotted
// ("loggregator.loggregator_api_port"), objects that hold keys included ("loggregator").
std::vector<std::string> KnownConfigFileKeys();

}  // namespace bbs::daemon
