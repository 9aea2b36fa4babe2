#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bbs {

// Helpers that write JSON exactly as Go's encoding/json does, for bodies whose bytes peers
// (and our contract tests) compare: compact, no spaces, strings escaped the Go way.

// Appends `text` as a JSON string literal, quotes included: `"` and `\` escaped, \b \f \n \r \t
// by name, other control characters as \u00XX, `<` `>` `&` as \u003c \u003e \u0026, U+2028 and
// U+2029 as \u2028 \u2029, and each byte of invalid UTF-8 replaced by \ufffd.
void AppendGoJsonString(std::string& out, std::string_view text);

// Appends a JSON array of strings, or `null` when `values` is empty and `null_when_empty`.
void AppendGoJsonStringArray(std::string& out, const std::vector<std::string>& values,
                             bool null_when_empty);

void AppendGoJsonInt(std::string& out, int64_t value);

}  // namespace bbs
