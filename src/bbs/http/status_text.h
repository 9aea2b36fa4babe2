#pragma once

#include <string_view>

namespace bbs::http {

// Go's http.StatusText(status): "Internal Server Error", or "" for a code it does not know.
// The server writes it in status lines, the clients in their error texts.
std::string_view StatusText(int status);

}  // namespace bbs::http
