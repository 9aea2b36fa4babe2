// The one translation unit that compiles Asio's SSL support. bbs_http's asio_impl.cc holds the
// rest of Asio and Beast but not <boost/asio/ssl/impl/src.hpp>; if TLS moves into bbs_http, this
// file moves with it (two copies would be duplicate symbols).
#include <boost/asio/ssl/impl/src.hpp>
