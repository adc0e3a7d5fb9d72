// InboundCalls: calls from other nodes (asks, tells, stream starts) on their way into local
// mailboxes, and the flow notices that slow their callers down (runtime/remote_flow.hpp).
//
// Consecutive calls to one actor are held and posted together (flush(): one push into its
// mailbox, one lookup of the actor); anything else that arrives flushes first, so nothing
// overtakes a call. A call past its target's hard bound is refused at once (an ask fails and a
// stream ends with kOverloaded, a tell is a dead letter). A caller whose calls put a mailbox over
// its capacity is told the target is congested, once per episode, and told there is room when
// the target lets its muted senders go.
//
// Ownership: the node, the answers, the streams and (once attached) the transport outlive it
// (RemoteLink owns them all).
// Thread-safety: on_call(), flush() and caller_gone() on the transport's I/O thread only; the
// room notices go out from whichever thread releases them; stop() from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "messaging/envelope.hpp"
#include "messaging/transport.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/remote_flow.hpp"
#include "runtime/run_arena.hpp"

namespace pulsing::detail {

class Answers;
class NodeCore;
class RemoteStreams;

class InboundCalls {
 public:
  InboundCalls(NodeCore& node, Answers& answers, RemoteStreams& streams);
  InboundCalls(const InboundCalls&) = delete;
  InboundCalls& operator=(const InboundCalls&) = delete;

  // REQUIRES: once, before the first call arrives.
  void attach(Transport& transport);

  // A call (kAsk, kTell, kStreamOpen) for a local actor.
  void on_call(const EnvelopeView& call);
  // Posts the calls held for one actor.
  void flush();
  // The caller's connection closed: its notices are forgotten.
  void caller_gone(const std::string& endpoint);
  // No flow notice is sent any more. Idempotent.
  void stop();

 private:
  // Refuses a call its target has no room for (kOverloaded), and tells its caller.
  void refuse(const EnvelopeView& call, ActorCell& target);
  // Sends a tell for an entity on to the node at `owner`, marked forwarded; false if it cannot
  // (no network, an unreadable payload): the caller counts a dead letter.
  bool forward_tell(const EnvelopeView& tell, const std::string& owner);
  // Tells `caller` that `target` (as it named it) is congested, once until the cell lets it go.
  void notice_congestion(ActorCell& cell, const std::shared_ptr<Transport::Peer>& caller, const FlowTarget& target);

  NodeCore& node_;
  Answers& answers_;
  RemoteStreams& streams_;
  DecodeLimits limits_;

  struct HeldCalls {  // consecutive calls to one actor, posted together
    std::shared_ptr<ActorCell> cell;
    MessageChain chain;
    RunArena arena;        // their memory
    bool awaited = false;  // some of them are asks or stream opens: someone waits
    std::shared_ptr<Transport::Peer> caller;  // whose calls they are (null: a caller with no name)
    FlowTarget target;                        // the actor as the caller named it
  };
  HeldCalls held_;

  // The notices sent, by caller and target: one "congested" per episode (released ones are
  // swept).
  using NoticeKey = std::pair<const Transport::Peer*, FlowTarget>;
  std::map<NoticeKey, std::shared_ptr<CongestionNotice>> notices_;
  // What sends room notices, from whichever thread releases them: nothing once stopped. Shared
  // with the notices, which a cell may keep after the link is gone.
  struct NoticeSender {
    std::mutex mutex;
    Transport* transport = nullptr;  // guarded by mutex
    std::uint64_t node_id = 0;
  };
  std::shared_ptr<NoticeSender> notice_sender_ = std::make_shared<NoticeSender>();
};

}  // namespace pulsing::detail
