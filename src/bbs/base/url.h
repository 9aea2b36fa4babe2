#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bbs/base/status.h"

// The one place that parses URLs and host:port addresses (on Boost.URL). Where a text reaches
// the wire or a log that upstream tooling reads, the error texts are Go's net/url ones:
// `parse "http://h:x": invalid port ":x" after host`.
namespace bbs::url {

// "host:port" as Go's net.SplitHostPort splits it, with a numeric port.
struct HostPort {
  std::string host;  // without brackets; "" for ":8889" (every interface)
  uint16_t port = 0;

  // Back to "host:port", bracketing an IPv6 host.
  std::string ToString() const;
};

// Splits "host:port", "[v6]:port" or ":port". Fails (InvalidRequest) on a missing or
// non-numeric port, a port above 65535, an unbracketed IPv6 host or stray brackets; the
// message says what is wrong.
Result<HostPort> SplitHostPort(std::string_view text);

// True for an IP loopback address (127.0.0.0/8, ::1) or "localhost".
bool IsLoopbackHost(std::string_view host);

// An absolute http:// or https:// URL, split.
struct Url {
  std::string scheme;  // "http" or "https" (lower case)
  std::string host;    // a name or an IP address, IPv6 without brackets
  uint16_t port = 0;   // the explicit port or the scheme's default
  bool explicit_port = false;
  std::string path;   // as given (already escaped), "" when absent
  std::string query;  // after '?', without it; "" when absent

  // "host[:port]" as the Host header carries it (the port only when it was explicit).
  std::string Authority() const;
  // The request target: path (or "/") plus "?query".
  std::string Target() const;
  std::string ToString() const;
  // This URL with `route` (which starts with '/') appended to its path, the query dropped:
  // how a base URL with a path prefix is joined with a route.
  Url WithRoute(std::string_view route) const;
};

// Parses an absolute URL. Fails (InvalidRequest, Go's texts) on anything but http/https with a
// host and a valid port. Userinfo and fragment are dropped.
Result<Url> ParseUrl(std::string_view text);

// Resolves `reference` (a redirect's Location: absolute, scheme-relative, absolute-path or
// relative) against `base`, as RFC 3986 §5.2 (and Go's URL.ResolveReference) do.
Result<Url> ResolveReference(const Url& base, std::string_view reference);

// True when Go's url.Parse accepts `text` and finds a scheme in it ("preloaded:cflinuxfs4",
// "docker://registry:5000/img"): how upstream validates a root_fs. Go-faithful, not RFC 3986:
// the query and opaque parts are not checked.
bool IsGoUrlWithScheme(std::string_view text);

// Percent-escapes `segment` as one URL path segment, as Go's url.PathEscape: letters, digits
// and -_.~$&+:=@ stay; everything else (including '/') becomes %XX (upper-case hex).
std::string EscapePathSegment(std::string_view segment);
// The inverse, for fakes: %XX decoded, everything else (a malformed escape too) kept.
std::string UnescapePath(std::string_view path);

}  // namespace bbs::url
