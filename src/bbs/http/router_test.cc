#include "bbs/http/router.h"

#include <utility>

#include <gtest/gtest.h>

namespace bbs::http {
namespace {

Handler Named(std::string* called, std::string name) {
  return [called, name](Request&&, Responder) { *called = name; };
}

std::string HeaderValue(const Response& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

// `router` finds no route for `method` `path` and answers with Go's plain-text error.
void ExpectMiss(const Router& router, const char* method, const char* path, int status,
                const char* body, std::pair<const char*, const char*> header) {
  Response miss;
  EXPECT_EQ(router.Find(method, path, &miss), nullptr) << method << " " << path;
  EXPECT_EQ(miss.status, status);
  EXPECT_EQ(miss.body, body);
  EXPECT_EQ(miss.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(HeaderValue(miss, header.first), header.second);
}

TEST(RouterTest, FindsARouteByMethodAndExactPath) {
  std::string called;
  Router router;
  router.Add("POST", "/v1/ping", "Ping", Named(&called, "ping"));
  router.Add("POST", "/v1/domains/list", "Domains", Named(&called, "domains"));
  Response miss;
  const Route* route = router.Find("POST", "/v1/domains/list", &miss);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->name, "Domains");
  EXPECT_EQ(route->method, "POST");
  route->handler(Request{}, Responder([](Response) {}));
  EXPECT_EQ(called, "domains");
}

TEST(RouterTest, AnswersAnUnknownPathWithGosNotFound) {
  Router router;
  router.Add("POST", "/v1/ping", "Ping", [](Request&&, Responder) {});
  for (const char* method : {"GET", "POST", "HEAD", "DELETE"}) {
    ExpectMiss(router, method, "/v1/pong", 404, "404 page not found\n",
               {"X-Content-Type-Options", "nosniff"});
  }
  Response miss;
  EXPECT_EQ(router.Find("POST", "/v1/ping/", &miss), nullptr) << "matching is exact";
  EXPECT_EQ(miss.status, 404);
}

TEST(RouterTest, AnswersAKnownPathUnderAnotherMethodWith405ListingTheMethods) {
  Router router;
  router.Add("GET", "/v1/events", "Events", [](Request&&, Responder) {});
  router.Add("POST", "/v1/events", "EventsPost", [](Request&&, Responder) {});
  for (const char* method : {"HEAD", "PUT"}) {
    ExpectMiss(router, method, "/v1/events", 405, "Method Not Allowed\n", {"Allow", "GET, POST"});
  }
}

TEST(RouterTest, SendsEverythingToTheFallbackWhenOneIsSet) {
  std::string called;
  Router router;
  router.Add("POST", "/v1/ping", "Ping", Named(&called, "ping"));
  router.SetFallback(Named(&called, "fallback"));
  Response miss;
  const Route* route = router.Find("OPTIONS", "/anything", &miss);
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->name, "fallback");
  EXPECT_EQ(router.Find("POST", "/v1/ping", &miss), route);
}

TEST(RouterTest, ListsRoutesInRegistrationOrder) {
  Router router;
  router.Add("POST", "/b", "B", [](Request&&, Responder) {});
  router.Add("POST", "/a", "A", [](Request&&, Responder) {});
  router.Add("GET", "/b", "B2", [](Request&&, Responder) {});
  auto routes = router.routes();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0]->name, "B");
  EXPECT_EQ(routes[1]->name, "A");
  EXPECT_EQ(routes[2]->name, "B2");
}

TEST(RouterDeathTest, AbortsOnADuplicateRoute) {
  Router router;
  router.Add("POST", "/v1/ping", "Ping", [](Request&&, Responder) {});
  EXPECT_DEATH(router.Add("POST", "/v1/ping", "Ping", [](Request&&, Responder) {}),
               "registered twice");
}

TEST(ResponderTest, PassesTheResponseToItsFunction) {
  Response got;
  Responder responder([&got](Response response) { got = std::move(response); });
  Response sent;
  sent.status = 201;
  sent.body = "x";
  Responder copy = responder;
  copy(std::move(sent));
  EXPECT_EQ(got.status, 201);
  EXPECT_EQ(got.body, "x");
}

}  // namespace
}  // namespace bbs::http
