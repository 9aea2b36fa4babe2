#include "bbs/base/url.h"

#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>

namespace bbs::url {
namespace {

TEST(SplitHostPortTest, SplitsNamesIpv4AndBracketedIpv6) {
  auto a = SplitHostPort("bbs.service.cf.internal:8889");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->host, "bbs.service.cf.internal");
  EXPECT_EQ(a->port, 8889);
  auto b = SplitHostPort("[::1]:0");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 0);
  EXPECT_EQ(b->ToString(), "[::1]:0");
  auto c = SplitHostPort(":8889");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->host, "");
}

TEST(SplitHostPortTest, RefusesWhatGoRefusesWithItsWords) {
  EXPECT_EQ(SplitHostPort("127.0.0.1").status().message(),
            "address 127.0.0.1: missing port in address");
  EXPECT_EQ(SplitHostPort("::1:80").status().message(),
            "address ::1:80: too many colons in address");
  EXPECT_EQ(SplitHostPort("[::1:80").status().message(), "address [::1:80: missing ']' in address");
  EXPECT_FALSE(SplitHostPort("h:65536").ok());
  EXPECT_FALSE(SplitHostPort("h:http").ok());
  EXPECT_FALSE(SplitHostPort("h:").ok());
  EXPECT_FALSE(SplitHostPort("a b:80").ok());
}

TEST(IsLoopbackHostTest, KnowsLoopbackAddressesAndLocalhost) {
  for (std::string_view host : {"127.0.0.1", "127.3.2.1", "::1", "localhost"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (std::string_view host : {"0.0.0.0", "", "10.0.0.1", "bbs.service.cf.internal"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

// What ParseUrl made of a text, in one line: "scheme host port explicit|default path ?query".
std::string Parts(const Result<Url>& url) {
  if (!url.ok()) return url.status().ToString();
  return url->scheme + " " + url->host + " " + std::to_string(url->port) +
         (url->explicit_port ? " explicit " : " default ") + url->path + " ?" + url->query;
}

TEST(ParseUrlTest, SplitsAbsoluteUrlsAndEscapesBytesGoAcceptsButRfc3986DoesNot) {
  struct Case {
    std::string_view text;
    std::string_view parts;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"HTTPS://user@cell-1.cell.service.cf.internal:1801/prefix/x?a=b#frag",
            "https cell-1.cell.service.cf.internal 1801 explicit /prefix/x ?a=b"},
           {"http://[::1]:9016/v1", "http ::1 9016 explicit /v1 ?"},
           {"https://h", "https h 443 default  ?"},
           {"http://h", "http h 80 default  ?"},
           {"http://h:1/cb/{id}?x={a}|b", "http h 1 explicit /cb/%7Bid%7D ?x=%7Ba%7D%7Cb"},
       }) {
    EXPECT_EQ(Parts(ParseUrl(c.text)), c.parts) << c.text;
  }
}

TEST(ParseUrlTest, PrintsWithoutUserinfoAndFragmentAndBracketsIpv6) {
  EXPECT_EQ(
      ParseUrl("HTTPS://user@cell-1.cell.service.cf.internal:1801/prefix/x?a=b#frag")->ToString(),
      "https://cell-1.cell.service.cf.internal:1801/prefix/x?a=b");
  EXPECT_EQ(ParseUrl("http://[::1]:9016/v1")->Authority(), "[::1]:9016");
}

TEST(ParseUrlTest, KeepsGosErrorTexts) {
  EXPECT_EQ(ParseUrl("http://h:port").status().message(),
            "parse \"http://h:port\": invalid port \":port\" after host");
  EXPECT_EQ(ParseUrl("auctioneer:9016").status().message(),
            "parse \"auctioneer:9016\": missing protocol scheme");
  for (std::string_view text :
       {"", "ftp://h/x", "http:///x", "http://h:99999", "http://h/a b", "http://h/bad%zz"}) {
    EXPECT_FALSE(ParseUrl(text).ok()) << text;
  }
}

TEST(ResolveReferenceTest, ResolvesRedirectLocationsLikeRfc3986) {
  Url base = *ParseUrl("http://a:1/v1/tasks/x?q=1");
  EXPECT_EQ(ResolveReference(base, "/other")->ToString(), "http://a:1/other");
  EXPECT_EQ(ResolveReference(base, "y")->ToString(), "http://a:1/v1/tasks/y");
  EXPECT_EQ(ResolveReference(base, "../z?k=v")->ToString(), "http://a:1/v1/z?k=v");
  EXPECT_EQ(ResolveReference(base, "//b:2/p")->ToString(), "http://b:2/p");
  EXPECT_EQ(ResolveReference(base, "https://c/d#f")->ToString(), "https://c/d");
  EXPECT_EQ(ResolveReference(base, "")->ToString(), "http://a:1/v1/tasks/x?q=1");
}

TEST(IsGoUrlWithSchemeTest, AcceptsWhatGoAcceptsAndNothingElse) {
  for (std::string_view text :
       {"preloaded:cflinuxfs4", "preloaded+layer:cflinuxfs4?layer=http://x/y.tgz&z=%zz",
        "docker://registry:5000/img#tag", "docker://[::1]:80/img"}) {
    EXPECT_TRUE(IsGoUrlWithScheme(text)) << text;
  }
  for (std::string_view text : {"cflinuxfs4", "1abc:x", "docker:///bad%zzescape",
                                "docker://host:port/img", "docker://[::1/img"}) {
    EXPECT_FALSE(IsGoUrlWithScheme(text)) << text;
  }
}

TEST(EscapeTest, EscapesPathSegmentsLikeGoPathEscape) {
  const std::pair<std::string_view, std::string_view> kEscapes[] = {
      {"5b0e-a1_b.c~d", "5b0e-a1_b.c~d"}, {"a/b c", "a%2Fb%20c"}, {"$&+:=@", "$&+:=@"},
      {";,?#%", "%3B%2C%3F%23%25"},       {"\xC3\xA9", "%C3%A9"},
  };
  for (const auto& [segment, escaped] : kEscapes) {
    EXPECT_EQ(EscapePathSegment(segment), escaped) << segment;
  }
  EXPECT_EQ(UnescapePath("a%2Fb%20c%zz%4"), "a/b c%zz%4");
}

}  // namespace
}  // namespace bbs::url
