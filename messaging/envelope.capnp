# The wire form of one message between nodes (messaging/envelope.hpp). A ZeroMQ frame carries
# one or more envelopes, each a flat Cap'n Proto message preceded by its length in bytes as a
# little-endian UInt64 (so that every message starts 8-byte aligned within the frame).
#
# Versioning: `version` is the protocol version of the writer. A reader rejects (and counts) an
# envelope whose version it does not speak. Fields are only ever appended with new ordinals.
@0x97d517cb75716bd0;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pulsing::wire");

using import "value.capnp".Value;

const protocolVersion :UInt16 = 1;

enum Kind {
  ask @0;           # call a method, expect a reply
  tell @1;          # call a method, no reply
  reply @2;         # the outcome of an ask: payload, or error
  streamOpen @3;    # call a stream method; items flow back under credit
  streamItem @4;    # one item of a stream (payload)
  streamEnd @5;     # a stream ended: cleanly, or with error
  streamCredit @6;  # the reader grants `credit` more items
  streamCancel @7;  # the reader gave up
  resolve @8;       # look up `name` on the receiving node; the reply's payload is the address
  watch @9;         # the reply comes when the target stops for good: its stop notice
  stop @10;         # ask the target to stop for good (no reply)
  ping @11;         # is this node alive? (membership's fallback probe) the reply's payload is
                    # the receiving node's member name
  registry @12;     # a name registry message (an announce or a withdraw) in the payload; no reply
  lookup @13;       # who serves the name `targetName`? the reply's payload lists the instances
  flow @14;         # back to a caller: the target's mailbox is over capacity (credit 0: slow
                    # down) or has room again (credit 1); the target as the caller named it
}

struct Envelope {
  version @0 :UInt16;
  kind @1 :Kind;
  # Chosen by the node that opens an exchange (ask, stream, resolve); echoed by every envelope
  # that belongs to it.
  correlation @2 :UInt64;
  # The sending node's run. Where answers go is not said here: the connection a frame arrives on
  # names its sender, and a field an envelope could forge is never read.
  senderNode @3 :UInt64;
  unusedSenderEndpoint @4 :Text;  # not written, not read
  # The target actor: by id (with the node run it belongs to, so that a reference to a node that
  # restarted is refused instead of reaching a stranger), or by name.
  target :union {
    none @5 :Void;
    actorId @6 :UInt64;
    name @7 :Text;
  }
  targetNode @8 :UInt64;
  method @9 :Text;
  # Arguments (a list) of a call; the result of a reply; the item of a stream item.
  payload @10 :Value;
  # A failed reply or stream end: the error as Error::to_value() (category and fields).
  error @11 :Value;
  # Milliseconds the sender will still wait for an answer (relative: clocks are not shared).
  deadlineMs @12 :UInt32;
  # Trace context: who caused this message.
  traceId @13 :UInt64;
  spanId @14 :UInt64;
  # Stream credit granted by the reader (streamOpen: the initial window; streamCredit: more).
  credit @15 :UInt32;
}
