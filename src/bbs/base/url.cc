#include "bbs/base/url.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <boost/url/encode.hpp>
#include <boost/url/grammar/alnum_chars.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace bbs::url {
namespace {

namespace urls = boost::urls;

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A port number 0..65535 written in decimal digits only.
bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// What Go's url.Parse says about the port of `authority` ("user@host:port"), or "" when the
// port is fine or absent.
std::string PortProblem(std::string_view authority) {
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  size_t colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return "missing ']' in host";
    if (close + 1 == authority.size()) return "";
    if (authority[close + 1] != ':')
      return "invalid port \"" + std::string(authority.substr(close + 1)) + "\" after host";
    colon = close + 1;
  }
  if (colon == std::string_view::npos) return "";
  std::string_view port = authority.substr(colon + 1);
  uint16_t value = 0;
  if (port.empty()) return "";
  if (!ParsePort(port, &value) || value == 0) {
    return "invalid port \":" + std::string(port) + "\" after host";
  }
  return "";
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiLetter(c) || IsAsciiDigit(c); }
bool IsHex(char c) { return HexValue(c) >= 0; }

// --- Go url.Parse, reduced to "does it fail" --------------------------------------------------
// Go is more lenient than RFC 3986 (an unchecked query, opaque URLs), which is why this is not
// Boost.URL's grammar: request validation must accept exactly what upstream accepts.

// Go's unescape() in every mode: each '%' must start a two-digit hex escape.
bool ValidEscapes(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      continue;
    }
    if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) {
      return false;
    }
    i += 2;
  }
  return true;
}

// Go's unescape() in host mode: escapes only for non-ASCII bytes (or %25), and only the ASCII
// characters that may appear in a host.
bool ValidHostChars(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) {
        return false;
      }
      if (HexValue(s[i + 1]) < 8 && s.substr(i, 3) != "%25") {
        return false;
      }
      i += 2;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80 || IsAsciiAlnum(c)) {
      continue;
    }
    if (std::string_view("!$&'()*+,;=:[]<>\"-_.~").find(c) != std::string_view::npos) {
      continue;
    }
    return false;
  }
  return true;
}

// Go's validOptionalPort: empty, or ':' followed by digits only.
bool ValidOptionalPort(std::string_view port) {
  if (port.empty()) {
    return true;
  }
  if (port[0] != ':') {
    return false;
  }
  return std::all_of(port.begin() + 1, port.end(), IsAsciiDigit);
}

bool ValidHost(std::string_view host) {
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.rfind(']');
    if (close == std::string_view::npos) {
      return false;
    }
    if (!ValidOptionalPort(host.substr(close + 1))) {
      return false;
    }
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    if (!ValidOptionalPort(host.substr(colon))) {
      return false;
    }
  }
  return ValidHostChars(host);
}

bool ValidUserinfo(std::string_view userinfo) {
  for (char c : userinfo) {
    if (IsAsciiAlnum(c)) {
      continue;
    }
    if (std::string_view("-._:~!$&'()*+,;=%@").find(c) != std::string_view::npos) {
      continue;
    }
    return false;
  }
  return ValidEscapes(userinfo);
}

bool ValidAuthority(std::string_view authority) {
  const size_t at = authority.rfind('@');
  if (at == std::string_view::npos) {
    return ValidHost(authority);
  }
  return ValidUserinfo(authority.substr(0, at)) && ValidHost(authority.substr(at + 1));
}

// `text` with every byte after the authority (which starts at `authority_at`) that RFC 3986
// allows nowhere in a path or query percent-escaped; '%' and the reserved characters stay.
std::string EscapeLikeGo(std::string_view text, size_t authority_at) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  size_t tail = text.find_first_of("/?#", authority_at);
  if (tail == std::string_view::npos) return std::string(text);
  std::string out(text.substr(0, tail));
  for (char c : text.substr(tail)) {
    auto u = static_cast<unsigned char>(c);
    bool allowed = IsAsciiAlnum(c) ||
                   std::string_view("-._~!$&'()*+,;=:@/?#%[]").find(c) != std::string_view::npos;
    if (allowed) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

// What Go's url.PathEscape leaves alone.
constexpr urls::grammar::lut_chars kPathSegmentUnreserved =
    urls::grammar::lut_chars(urls::grammar::alnum_chars) + urls::grammar::lut_chars("-_.~$&+:=@");

}  // namespace

std::string HostPort::ToString() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return out + ":" + std::to_string(port);
}

Result<HostPort> SplitHostPort(std::string_view text) {
  auto fail = [&](std::string_view why) {
    return Status(ErrorCode::kInvalidRequest,
                  "address " + std::string(text) + ": " + std::string(why));
  };
  HostPort out;
  std::string_view port;
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return fail("missing port in address");
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ']' in address");
    if (close + 1 == text.size()) return fail("missing port in address");
    if (close + 1 != colon) {
      return fail(text[close + 1] == ':' ? "too many colons in address"
                                         : "missing port in address");
    }
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.find_first_of("[]") != std::string::npos) return fail("unexpected '[' in address");
  } else {
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return fail("too many colons in address");
    if (host.find_first_of("[]") != std::string_view::npos) {
      return fail("unexpected '[' or ']' in address");
    }
    out.host = std::string(host);
  }
  port = text.substr(colon + 1);
  if (!ParsePort(port, &out.port)) return fail("invalid port \"" + std::string(port) + "\"");
  // The host must be something a URL authority can carry (a name or an IP literal).
  if (!out.host.empty() && !urls::parse_authority(out.ToString())) {
    return fail("invalid host \"" + out.host + "\"");
  }
  return out;
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  const std::string text(host);
  unsigned char bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return bytes[0] == 127;
  if (inet_pton(AF_INET6, text.c_str(), bytes) != 1) return false;
  static constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static constexpr unsigned char kMapped4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(bytes, bytes + 16, kLoopback6)) return true;
  return std::equal(bytes, bytes + 12, kMapped4) && bytes[12] == 127;
}

std::string Url::Authority() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (explicit_port) out += ":" + std::to_string(port);
  return out;
}

std::string Url::Target() const {
  std::string out = path.empty() ? "/" : path;
  if (!query.empty()) out += "?" + query;
  return out;
}

std::string Url::ToString() const {
  std::string out = scheme + "://" + Authority() + path;
  if (!query.empty()) out += "?" + query;
  return out;
}

Url Url::WithRoute(std::string_view route) const {
  Url out = *this;
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  out.path.append(route);
  out.query.clear();
  return out;
}

Result<Url> ParseUrl(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return Status(ErrorCode::kInvalidRequest, "parse \"" + std::string(text) + "\": " + why);
  };
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return fail("invalid character in URL");
  }
  if (text.empty()) return fail("empty url");
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return fail("missing protocol scheme");
  Url url;
  url.scheme = Lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return fail("unsupported protocol scheme \"" + url.scheme + "\"");
  }
  std::string_view rest = text.substr(sep + 3);
  if (std::string problem = PortProblem(rest.substr(0, rest.find_first_of("/?#")));
      !problem.empty()) {
    return fail(problem);
  }
  // Go accepts, and escapes when it sends, bytes RFC 3986 does not allow in a path or query
  // ('{', '|', '"', non-ASCII, ...): escape them the same way before Boost.URL parses.
  const std::string escaped = EscapeLikeGo(text, sep + 3);
  auto parsed = urls::parse_uri(escaped);
  if (!parsed) return fail("invalid URL: " + parsed.error().message());
  const urls::url_view& view = *parsed;
  switch (view.host_type()) {
    case urls::host_type::ipv6:
      url.host = view.host_ipv6_address().to_string();
      break;
    case urls::host_type::ipvfuture:
      return fail("unsupported IP literal in host");
    default:
      url.host = std::string(view.encoded_host());
      break;
  }
  if (url.host.empty()) return fail("missing host");
  url.port = url.scheme == "https" ? 443 : 80;
  if (view.has_port() && !view.port().empty()) {
    url.port = view.port_number();
    url.explicit_port = true;
  }
  url.path = std::string(view.encoded_path());
  if (view.has_query()) url.query = std::string(view.encoded_query());
  return url;
}

Result<Url> ResolveReference(const Url& base, std::string_view reference) {
  auto ref = urls::parse_uri_reference(reference);
  if (!ref) {
    return Status(ErrorCode::kInvalidRequest, "parse \"" + std::string(reference) +
                                                  "\": invalid URL: " + ref.error().message());
  }
  const std::string base_text = base.ToString();  // the view below points into it
  auto base_view = urls::parse_uri(base_text);
  if (!base_view) {
    return Status(ErrorCode::kInvalidRequest, "invalid base URL " + base.ToString());
  }
  urls::url resolved(*base_view);
  if (auto ok = resolved.resolve(*ref); !ok) {
    return Status(ErrorCode::kInvalidRequest,
                  "parse \"" + std::string(reference) + "\": " + ok.error().message());
  }
  resolved.remove_fragment();
  resolved.remove_userinfo();
  return ParseUrl(std::string_view(resolved.buffer().data(), resolved.buffer().size()));
}

bool IsGoUrlWithScheme(std::string_view text) {
  // Go parses the fragment separately and checks control bytes only before it.
  std::string_view rest = text;
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) {
    if (!ValidEscapes(rest.substr(hash + 1))) {
      return false;
    }
    rest = rest.substr(0, hash);
  }
  if (std::any_of(rest.begin(), rest.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return false;
  }
  // getScheme: letters, then letters/digits/+/-/., then ':'; anything else means "no scheme".
  size_t colon = std::string_view::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (IsAsciiLetter(c)) {
      continue;
    }
    if (IsAsciiDigit(c) || c == '+' || c == '-' || c == '.') {
      if (i == 0) {
        return false;
      }
      continue;
    }
    if (c == ':' && i > 0) {
      colon = i;
    }
    break;
  }
  if (colon == std::string_view::npos) {
    return false;
  }
  rest.remove_prefix(colon + 1);
  rest = rest.substr(0, rest.find('?'));  // the query is not checked
  if (rest.empty() || rest[0] != '/') {
    return true;  // opaque: not checked either
  }
  if (rest.size() >= 2 && rest[1] == '/') {
    rest.remove_prefix(2);
    const size_t slash = rest.find('/');
    if (!ValidAuthority(rest.substr(0, slash))) {
      return false;
    }
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  return ValidEscapes(rest);
}

std::string EscapePathSegment(std::string_view segment) {
  return urls::encode(segment, kPathSegmentUnreserved);
}

std::string UnescapePath(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size()) {
      int hi = HexValue(path[i + 1]);
      int lo = HexValue(path[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += path[i];
  }
  return out;
}

}  // namespace bbs::url
