// KindTable: the actor kinds this node hosts — classes that other nodes (and the command line)
// may spawn here by name, their constructor arguments given as Values (Node::register_kind).
// The node announces the names in its membership metadata under kMetadataKey, comma-separated
// and sorted, so that every member knows which members host which kinds.
//
// Kind names: 1 to 64 characters from [A-Za-z0-9_.-], starting with a letter or '_' (a comma
// separates them in the metadata, and '/' separates kind and key in an entity's name).
// Thread-safety: every member may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "messaging/error.hpp"
#include "messaging/value.hpp"
#include "runtime/actor_cell.hpp"
#include "runtime/future.hpp"

namespace pulsing {
class MethodTable;
}

namespace pulsing::detail {

struct ActorKind {
  std::string name;
  const MethodTable* methods = nullptr;
  std::string constructor;  // "Calculator(int64)": for errors and listings
  std::type_index type = typeid(void);
  // The factory of instances built from `args`, or why they do not fit the constructor
  // (kBadArguments, naming it and the argument).
  std::function<Result<ActorCell::Factory>(std::vector<Value>&& args)> bind;
};

class KindTable {
 public:
  static constexpr const char* kMetadataKey = "kinds";

  // Adds `kind`. Throws std::invalid_argument when its name breaks the rules, or is taken by
  // another class (registering one class again under its name does nothing).
  void add(ActorKind kind);
  void remove(std::string_view name);
  std::shared_ptr<const ActorKind> find(std::string_view name) const;
  // The name `type` is registered under, if it is.
  std::optional<std::string> name_of(std::type_index type) const;
  std::vector<std::string> names() const;  // sorted
  bool empty() const;
  // names() as the metadata carries them: "Calculator,Cart".
  std::string announcement() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const ActorKind>, std::less<>> kinds_;  // guarded
};

bool valid_kind_name(std::string_view name);
// The kinds a member announces (its metadata's kMetadataKey), as parsed from `text`.
std::vector<std::string_view> announced_kinds(std::string_view text);
bool announces_kind(std::string_view text, std::string_view kind);
// kBadArguments for a constructor: "Calculator(int64): argument 1: expected int64, got text".
Failure bad_constructor_arguments(std::string_view constructor, std::string_view why);

}  // namespace pulsing::detail
