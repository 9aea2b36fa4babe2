// Fuzz target: the configuration loader (daemon/config.h): Go-style flags and the JSON file.
// Input: flags, one per line, then a line "---", then the JSON file's bytes. Inputs naming
// special files (/dev, /proc, /sys) are skipped: reading them could block, which is no bug.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "bbs/daemon/config.h"

namespace {

const std::string& ConfigPath() {
  static const std::string path = [] {
    char name[] = "/tmp/bbs-config-fuzz-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd >= 0) ::close(fd);
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (std::string_view special : {"/dev", "/proc", "/sys", "\\/"}) {
    if (in.find(special) != std::string_view::npos) return 0;
  }
  std::vector<std::string> args;
  size_t split = in.find("\n---\n");
  std::string_view flags = in.substr(0, split);
  while (!flags.empty()) {
    size_t nl = flags.find('\n');
    std::string_view line = flags.substr(0, nl);
    // -config is ours to set; -help only prints.
    if (!line.empty() && line.find("config") == std::string_view::npos) {
      args.emplace_back(line);
    }
    if (nl == std::string_view::npos) break;
    flags.remove_prefix(nl + 1);
  }
  if (split != std::string_view::npos) {
    std::string_view json = in.substr(split + 5);
    if (FILE* f = std::fopen(ConfigPath().c_str(), "wb")) {
      std::fwrite(json.data(), 1, json.size(), f);
      std::fclose(f);
    }
    args.push_back("-config=" + ConfigPath());
  }
  auto config = bbs::daemon::LoadConfig(args);
  if (config.ok()) {
    (void)config->NotYetSupported();
    (void)config->Ignored();
  }
  return 0;
}
