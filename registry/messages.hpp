// The messages registries exchange, as plain structs (the registry state machine speaks in
// these; the runtime carries them between nodes, the simulator without encoding them).
//
//   Announce      a hosting node to an owner: these names of mine are served here. `complete`:
//                 they are all of my names that you own, so drop my others (a periodic resync,
//                 which also repairs what was lost). `reply`: and send me all of yours that I
//                 own (I had dropped them, or you restarted and mine may be of your old run).
//   Withdraw      a hosting node to an owner: these names of mine are gone.
//   Lookup        a resolving node to an owner: who serves `name`?
//   LookupAnswer  the owner's answer: the instances it knows (none: it knows of none).
//   UpdateAck     the owner's answer to an Announce or Withdraw: applied, held (the sender is
//                 not a member it knows yet: repeat later), or refused (malformed, oversized).
//
// Announces and Withdraws carry the sender's `id` (0: no answer wanted, as for a node's own
// shard), echoed by the UpdateAck: the sender learns which updates arrived, and repairs an owner
// whose answer did not come (registry.hpp, "delivery").
//
// A node speaks for its own names only: `member` and `node_id` are the sender's, and an owner
// keeps what a member announced until that member withdraws it, leaves or dies, or announces
// anew from a later run (another node_id).
//
// Value types; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace pulsing::registry {

// One actor serving a name.
struct Instance {
  std::string member;          // the hosting node's membership name
  std::string endpoint;        // where it is reached ("tcp://host:port")
  std::uint64_t node_id = 0;   // the hosting node's run: a restart makes another
  std::uint64_t actor_id = 0;  // the actor on that node
  std::string class_name;      // its class: a typed resolve checks it
  friend bool operator==(const Instance&, const Instance&) = default;
};

struct NamedActor {
  std::string name;
  std::uint64_t actor_id = 0;
  std::string class_name;
  friend bool operator==(const NamedActor&, const NamedActor&) = default;
};

struct Announce {
  std::string member;
  std::string endpoint;
  std::uint64_t node_id = 0;
  bool complete = false;
  std::vector<NamedActor> names;
  std::uint64_t id = 0;
  bool reply = false;  // REQUIRES: complete
};

struct Withdraw {
  std::string member;
  std::uint64_t node_id = 0;
  std::vector<NamedActor> names;
  std::uint64_t id = 0;
};

struct Lookup {
  std::uint64_t id = 0;  // the asker's, echoed in the answer
  std::string name;
};

struct LookupAnswer {
  std::uint64_t id = 0;
  std::string name;
  std::vector<Instance> instances;
};

enum class UpdateResult : std::uint8_t {
  kApplied,  // the owner's shard has it
  kHeld,     // the owner does not know the sender as a member yet: it holds the update a while
  kRefused,  // malformed or oversized: repeating it would not help
};

struct UpdateAck {
  std::uint64_t id = 0;  // the update's
  UpdateResult result = UpdateResult::kApplied;
};

using Message = std::variant<Announce, Withdraw, Lookup, LookupAnswer, UpdateAck>;

}  // namespace pulsing::registry
