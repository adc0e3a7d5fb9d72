// Boost.Asio and Boost.Beast, as admin/ and its tests include them. Internal to admin/.
//
// g++ 12 at -O2 reports a "potential null pointer dereference" inside Asio's scheduler
// (compensating_work_started, on the thread_call_stack lookup that always succeeds there) once
// it is inlined into our code: Asio's, not ours, and out of reach of the system-header rule
// because it is reported where it is inlined. It is silenced for these headers only.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop
