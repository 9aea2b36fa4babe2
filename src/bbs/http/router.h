#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bbs/http/message.h"

namespace bbs::http {

// One registered route.
struct Route {
  std::string method;
  std::string path;
  std::string name;  // for logs and metrics, e.g. "ClaimActualLRP"
  Handler handler;
};

// Maps (method, exact path) to a handler, the way upstream's router (rata/pat) does:
// an unknown path gives 404 "404 page not found\n" for any method; a known path under
// another method gives 405 with an `Allow` header listing the registered methods in
// registration order (HEAD is never routed implicitly). The query string is not part of the
// path. With a fallback set, every request goes to the fallback instead.
// Build it before handing it to a Server; afterwards it is only read (thread-safe).
class Router {
 public:
  Router() = default;
  Router(Router&&) noexcept = default;
  Router& operator=(Router&&) noexcept = default;

  // REQUIRES: (method, path) is not registered yet (aborts otherwise: a programming error).
  void Add(std::string method, std::string path, std::string name, Handler handler);

  // Sends every request, whatever its method and path, to `handler` (named "fallback").
  void SetFallback(Handler handler);

  // The route for (method, path), or nullptr; then *miss holds the 404 or 405 response.
  const Route* Find(std::string_view method, std::string_view path, Response* miss) const;

  // Every registered route, in registration order (the fallback excluded).
  std::vector<const Route*> routes() const;

  // Go's exact 404 and 405 responses.
  static Response NotFound();
  static Response MethodNotAllowed(std::string allow);

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct PathEntry {
    std::vector<std::unique_ptr<Route>> routes;  // one per method
    std::string allow;                           // "GET, POST"
  };

  std::unordered_map<std::string, PathEntry, StringHash, std::equal_to<>> paths_;
  std::vector<const Route*> order_;
  std::unique_ptr<Route> fallback_;
};

}  // namespace bbs::http
