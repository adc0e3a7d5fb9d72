# The wire form of pulsing::Value (messaging/value.hpp): the dynamic value that carries actor
# arguments and results. Embeddable: an envelope schema imports this file and holds a `Value`.
#
# Evolution: new kinds are appended as new union members with new ordinals; never renumber or
# retype a member. A reader that meets a member it does not know rejects the value
# (messaging/value_codec.hpp) rather than guessing.
@0xbc932fae366a7404;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("pulsing::wire");

struct Value {
  union {
    null @0 :Void;
    bool @1 :Bool;
    int @2 :Int64;
    uint @3 :UInt64;
    float @4 :Float64;
    text @5 :Text;          # UTF-8
    bytes @6 :Data;
    list @7 :List(Value);
    map @8 :List(Entry);    # keys unique; writers emit them sorted
    actor @9 :ActorAddress;
  }

  struct Entry {
    key @0 :Text;
    value @1 :Value;
  }
}

# common/address.hpp: where an actor lives.
struct ActorAddress {
  node @0 :UInt64;
  endpoint @1 :Text;
  actor @2 :UInt64;
}
