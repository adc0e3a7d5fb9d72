// Boost.Asio and Boost.Beast, as admin/ and its tests include them. Internal to admin/.
//
// g++ 12 at -O2 reports a "potential null pointer dereference" inside Asio's scheduler
// (compensating_work_started, on the thread_call_stack lookup that always succeeds there) once
// it is inlined into our code: Asio's, not ours, and out of reach of the system-header rule
// because it is reported where it is inlined. Under ThreadSanitizer it also warns that Asio's
// atomic_thread_fence is not instrumented: Asio's again. Both are silenced for these headers
// only (a pragma covers what is inlined from the lines it encloses).
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

// The short names admin/'s sources use for them.
namespace pulsing::admin {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
}  // namespace pulsing::admin
