#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/string.hpp>

namespace bbs::http {

// Header fields as (name, value) pairs, in the order received or to be sent.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The value of the first header called `name` (case-insensitive), or null when there is none.
inline const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return &value;
  }
  return nullptr;
}

// The value of the first header called `name`, or "" when there is none.
inline std::string HeaderValue(const HeaderList& headers, std::string_view name) {
  const std::string* value = FindHeader(headers, name);
  return value != nullptr ? *value : std::string();
}

}  // namespace bbs::http
