#include "bbs/base/url.h"

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
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.3.2.1"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost(""));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("bbs.service.cf.internal"));
}

TEST(ParseUrlTest, SplitsAnAbsoluteUrl) {
  auto url = ParseUrl("HTTPS://user@cell-1.cell.service.cf.internal:1801/prefix/x?a=b#frag");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "cell-1.cell.service.cf.internal");
  EXPECT_EQ(url->port, 1801);
  EXPECT_TRUE(url->explicit_port);
  EXPECT_EQ(url->path, "/prefix/x");
  EXPECT_EQ(url->query, "a=b");
  EXPECT_EQ(url->ToString(), "https://cell-1.cell.service.cf.internal:1801/prefix/x?a=b");
  auto v6 = ParseUrl("http://[::1]:9016/v1");
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->Authority(), "[::1]:9016");
  EXPECT_EQ(ParseUrl("https://h")->port, 443);
  EXPECT_EQ(ParseUrl("http://h")->port, 80);
}

TEST(ParseUrlTest, EscapesBytesGoAcceptsButRfc3986DoesNot) {
  auto url = ParseUrl("http://h:1/cb/{id}?x={a}|b");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->path, "/cb/%7Bid%7D");
  EXPECT_EQ(url->query, "x=%7Ba%7D%7Cb");
  EXPECT_FALSE(ParseUrl("http://h/bad%zz").ok());
}

TEST(ParseUrlTest, KeepsGosErrorTexts) {
  EXPECT_EQ(ParseUrl("http://h:port").status().message(),
            "parse \"http://h:port\": invalid port \":port\" after host");
  EXPECT_EQ(ParseUrl("auctioneer:9016").status().message(),
            "parse \"auctioneer:9016\": missing protocol scheme");
  EXPECT_FALSE(ParseUrl("").ok());
  EXPECT_FALSE(ParseUrl("ftp://h/x").ok());
  EXPECT_FALSE(ParseUrl("http:///x").ok());
  EXPECT_FALSE(ParseUrl("http://h:99999").ok());
  EXPECT_FALSE(ParseUrl("http://h/a b").ok());
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
  EXPECT_TRUE(IsGoUrlWithScheme("preloaded:cflinuxfs4"));
  EXPECT_TRUE(IsGoUrlWithScheme("preloaded+layer:cflinuxfs4?layer=http://x/y.tgz&z=%zz"));
  EXPECT_TRUE(IsGoUrlWithScheme("docker://registry:5000/img#tag"));
  EXPECT_TRUE(IsGoUrlWithScheme("docker://[::1]:80/img"));
  EXPECT_FALSE(IsGoUrlWithScheme("cflinuxfs4"));
  EXPECT_FALSE(IsGoUrlWithScheme("1abc:x"));
  EXPECT_FALSE(IsGoUrlWithScheme("docker:///bad%zzescape"));
  EXPECT_FALSE(IsGoUrlWithScheme("docker://host:port/img"));
  EXPECT_FALSE(IsGoUrlWithScheme("docker://[::1/img"));
}

TEST(EscapeTest, EscapesPathSegmentsLikeGoPathEscape) {
  EXPECT_EQ(EscapePathSegment("5b0e-a1_b.c~d"), "5b0e-a1_b.c~d");
  EXPECT_EQ(EscapePathSegment("a/b c"), "a%2Fb%20c");
  EXPECT_EQ(EscapePathSegment("$&+:=@"), "$&+:=@");
  EXPECT_EQ(EscapePathSegment(";,?#%"), "%3B%2C%3F%23%25");
  EXPECT_EQ(EscapePathSegment("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(UnescapePath("a%2Fb%20c%zz%4"), "a/b c%zz%4");
}

}  // namespace
}  // namespace bbs::url
