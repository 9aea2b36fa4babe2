#include "bbs/http/router.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace bbs::http {

void Router::Add(std::string method, std::string path, std::string name, Handler handler) {
  PathEntry& entry = paths_[path];
  for (const auto& route : entry.routes) {
    if (route->method == method) {
      std::fprintf(stderr, "bbs::http::Router: route %s %s registered twice\n", method.c_str(),
                   path.c_str());
      std::abort();
    }
  }
  if (!entry.allow.empty()) entry.allow += ", ";
  entry.allow += method;
  auto route = std::make_unique<Route>(
      Route{std::move(method), std::move(path), std::move(name), std::move(handler)});
  order_.push_back(route.get());
  entry.routes.push_back(std::move(route));
}

void Router::SetFallback(Handler handler) {
  fallback_ = std::make_unique<Route>(Route{"", "", "fallback", std::move(handler)});
}

const Route* Router::Find(std::string_view method, std::string_view path, Response* miss) const {
  if (fallback_) return fallback_.get();
  auto it = paths_.find(path);
  if (it == paths_.end()) {
    *miss = NotFound();
    return nullptr;
  }
  for (const auto& route : it->second.routes) {
    if (route->method == method) return route.get();
  }
  *miss = MethodNotAllowed(it->second.allow);
  return nullptr;
}

std::vector<const Route*> Router::routes() const { return order_; }

Response Router::NotFound() {
  Response response;
  response.status = 404;
  response.content_type = "text/plain; charset=utf-8";
  response.body = "404 page not found\n";
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

Response Router::MethodNotAllowed(std::string allow) {
  Response response;
  response.status = 405;
  response.content_type = "text/plain; charset=utf-8";
  response.body = "Method Not Allowed\n";
  response.headers.emplace_back("Allow", std::move(allow));
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return response;
}

}  // namespace bbs::http
