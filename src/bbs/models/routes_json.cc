#include "bbs/models/routes_json.h"

#include <string_view>

#include <nlohmann/json.hpp>

namespace bbs::wire {
namespace {

constexpr char kInternalRouter[] = "internal-router";

// Go's json.Valid. nlohmann's parser also skips a leading UTF-8 byte-order mark; Go does not.
bool IsJsonDocument(const std::string& text) {
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) {
    return false;
  }
  return nlohmann::json::accept(text);
}

// Go's compact() with HTML escaping, over text that is already known to be valid JSON.
std::string Compact(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        continue;
      }
      if (c == '"') {
        in_string = true;
      }
      out.push_back(c);
      continue;
    }
    switch (c) {
      case '\\':
        out.push_back(c);
        out.push_back(text[++i]);  // valid JSON: an escape always has a next character
        break;
      case '"':
        in_string = false;
        out.push_back(c);
        break;
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      case '\xE2':
        if (i + 2 < text.size() && text[i + 1] == '\x80' &&
            (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
          out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
          i += 2;
          break;
        }
        out.push_back(c);
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<models::ProtoRoutes> NormalizeRoutes(const models::ProtoRoutes& routes) {
  models::ProtoRoutes normalized;
  for (const auto& [name, value] : routes.routes()) {
    if (!IsJsonDocument(value)) {
      return InvalidRequest();
    }
    (*normalized.mutable_routes())[name] = Compact(value);
  }
  return normalized;
}

std::vector<std::string> InternalRoutesFromRoutes(const models::ProtoRoutes& routes) {
  const auto entry = routes.routes().find(kInternalRouter);
  if (entry == routes.routes().end()) {
    return {};
  }
  // Go's json.Unmarshal into []struct{Hostname string `json:"hostname"`}: keys match
  // case-insensitively, later keys win, null leaves the zero value.
  const nlohmann::ordered_json document =
      nlohmann::ordered_json::parse(entry->second, nullptr, /*allow_exceptions=*/false);
  if (document.is_null()) {
    return {};
  }
  if (!document.is_array()) {
    return {};
  }
  std::vector<std::string> hostnames;
  for (const nlohmann::ordered_json& element : document) {
    std::string hostname;
    if (element.is_object()) {
      for (const auto& [key, value] : element.items()) {
        if (!EqualsIgnoringAsciiCase(key, "hostname")) {
          continue;
        }
        if (value.is_string()) {
          hostname = value.get<std::string>();
        } else if (!value.is_null()) {
          return {};
        }
      }
    } else if (!element.is_null()) {
      return {};
    }
    hostnames.push_back(std::move(hostname));
  }
  return hostnames;
}

}  // namespace bbs::wire
