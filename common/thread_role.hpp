// Which threads may wait on a peer. The runtime's own threads — pool workers, the transport's
// I/O thread, the timer thread, the gossip (UDP) thread — never sleep in a send: one slow peer
// must not stop a node's actors or its membership. A user's thread (an application's main, a
// thread of its own) may, up to a deadline it chose. Each runtime thread marks itself when it
// starts.
// Thread-safety: thread-local state; each thread reads and marks its own.
#pragma once

namespace pulsing {

namespace detail {
inline thread_local bool tls_runtime_thread = false;
}  // namespace detail

// REQUIRES: called on the thread being marked, before it runs anything else.
inline void mark_runtime_thread() { detail::tls_runtime_thread = true; }
inline bool is_runtime_thread() { return detail::tls_runtime_thread; }

}  // namespace pulsing
