#pragma once

// The short names for Boost.Asio and Boost.Beast that every file speaking HTTP over them uses:
// the server, its test client, the outbound client, its fake peers and the CLI's transport. A
// .cc file brings them in with `using namespace bbs::http::asio_names;` inside its own
// namespace; a header never does, or the names would leak into everything that includes it.
// Targets that include this link bbs_http (Asio and Beast are compiled once, there).

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/error_code.hpp>

namespace bbs::http::asio_names {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using IoError = boost::system::error_code;

}  // namespace bbs::http::asio_names
