# The one message type of the raw ZeroMQ baseline (bench/raw_zmq_remote.cpp): every tell, ask
# and reply is one Msg, serialised on its own into one ZeroMQ frame. Compiled into the build
# tree at build time; nothing generated is committed.
@0xcd17b05b6aa4d19b;

struct Msg {
  kind @0 :Kind;
  id @1 :UInt64;     # an ask's correlation id, echoed in its reply
  value @2 :Int64;   # an ask's argument, a reply's result, the count in a count reply
  text @3 :Text;     # a tell's payload (64 bytes in W5)

  enum Kind {
    tell @0;         # W5: counted by the server, no reply
    ask @1;          # the server replies with value + 1
    reply @2;
    count @3;        # "how many tells have you counted?"; replied to with value = the count
    stop @4;         # the server exits
  }
}
