// Placement: three nodes on 127.0.0.1 (in one process for the example's sake). b and c host the
// kind "Worker"; a hosts nothing and spawns a pool of workers across them, on the least loaded,
// on the owner of a key, and by kind name with Value arguments as the command line does. A kind
// nobody hosts fails with no_host, and bad constructor arguments with bad_arguments.
// Then entities: shopping carts, one per key, that need no spawn. Each lives on the node that
// owns its key, saves its items when idle or when its node stops, and loads them again wherever
// it is activated next.
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <pulsing/pulsing.hpp>

#include "cluster_nodes.hpp"
#include "expect.hpp"

using namespace std::chrono_literals;

class Worker : public pulsing::Actor {
 public:
  explicit Worker(std::string pool) : pool_(std::move(pool)) {}
  std::string work(int task) { return pool_ + " did task " + std::to_string(task); }
  PULSING_METHODS(Worker, work)

 private:
  std::string pool_;
};

// Where carts keep their items between activations: a database, in a real program.
struct Database {
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> carts;
};
Database g_database;

// [guide:entity-class]
class ShoppingCart : public pulsing::Actor {
 public:
  explicit ShoppingCart(std::string key) : key_(std::move(key)) {}  // built from its key
  void on_activate() override {  // load
    std::lock_guard lock(g_database.mutex);
    items_ = g_database.carts[key_];
  }
  void on_passivate() override {  // save: it was idle, it moved, or its node stops
    std::lock_guard lock(g_database.mutex);
    g_database.carts[key_] = items_;
  }
  int add_item(std::string item) {
    items_.push_back(std::move(item));
    return static_cast<int>(items_.size());
  }
  std::vector<std::string> items() const { return items_; }
  PULSING_METHODS(ShoppingCart, add_item, items)

 private:
  std::string key_;
  std::vector<std::string> items_;
};
// [/guide:entity-class]

// A class no node registers as a kind.
class Ledger : public pulsing::Actor {
 public:
  int entries() { return 0; }
  PULSING_METHODS(Ledger, entries)
};

// The members `node` sees announcing `kind`.
std::size_t hosts_seen(const pulsing::Node& node, const std::string& kind) {
  std::size_t n = 0;
  for (const auto& m : node.members()) {
    auto kinds = m.meta.find("kinds");
    n += kinds != m.meta.end() && kinds->second.find(kind) != std::string::npos;
  }
  return n;
}

// Which node an actor runs on, by its endpoint.
std::string node_of(const pulsing::AnyRef& ref, const std::map<std::string, std::string>& names) {
  return names.at(ref.address().endpoint);
}

int main() {
  pulsing::Node a(member_config("a", {}));
  const std::string seed = a.endpoint().substr(std::string("tcp://").size());
  pulsing::Node b(member_config("b", {seed}));
  pulsing::Node c(member_config("c", {seed}));
  const std::map<std::string, std::string> names = {{a.endpoint(), "a"}, {b.endpoint(), "b"}, {c.endpoint(), "c"}};

  // [guide:placement-kinds]
  b.register_kind<Worker, std::string>();  // "Worker", built from one string
  c.register_kind<Worker, std::string>();
  // [/guide:placement-kinds]
  wait_until([&] { return hosts_seen(a, "Worker") == 2; }, "a sees b and c host Worker");
  std::cout << "b and c host Worker; a hosts nothing\n";

  // [guide:placement-any]
  std::vector<pulsing::ActorRef<Worker>> pool;
  for (int i = 0; i < 4; ++i) {  // any host of the kind, in turn
    pool.push_back(a.spawn<Worker>({.placement = pulsing::Placement::any()}, std::string("pool")).get());
  }
  std::cout << pool[0].ask(&Worker::work, 1).get() << "\n";  // runs on b or c, called from a
  // [/guide:placement-any]
  std::map<std::string, int> spread;
  for (const auto& worker : pool) ++spread[node_of(worker, names)];
  for (const auto& [node, count] : spread) std::cout << count << " workers on " << node << "\n";
  expect(spread.size() == 2 && spread["b"] == 2, "the pool is spread over b and c");

  // [guide:placement-others]
  using pulsing::Placement;
  auto on_c = a.spawn<Worker>({.name = "reports", .placement = Placement::on("c")}, std::string("reports")).get();
  auto light = a.spawn<Worker>({.placement = Placement::least_loaded()}, std::string("light")).get();
  auto keyed = a.spawn<Worker>({.placement = Placement::by_key("customer-42")}, std::string("customer")).get();
  pulsing::AnyRef by_name = a.spawn_kind("Worker", {.placement = Placement::any()}, {pulsing::Value("untyped")}).get();
  // [/guide:placement-others]
  std::cout << on_c.ask(&Worker::work, 2).get() << " on " << node_of(on_c, names) << "\n";
  expect(node_of(light, names) != "a", "the least loaded host is b or c");
  auto again = a.spawn<Worker>({.placement = Placement::by_key("customer-42")}, std::string("customer")).get();
  expect(node_of(again, names) == node_of(keyed, names), "one key, one host");
  std::cout << "customer-42's workers share a host\n";
  std::cout << by_name.ask("work", {3}).get().as_text() << "\n";

  // [guide:placement-errors]
  try {
    a.spawn<Ledger>({.placement = Placement::any()}).get();  // nobody registered Ledger
  } catch (const pulsing::RuntimeError& e) {
    std::cout << e.what() << "\n";  // "no_host: no live member hosts kind 'Ledger' ..."
  }
  try {
    a.spawn_kind("Worker", {.placement = Placement::on("b")}, {pulsing::Value(7)}).get();
  } catch (const pulsing::RuntimeError& e) {
    std::cout << e.what() << "\n";  // "bad_arguments: Worker(text): argument 1: expected text, ..."
  }
  // [/guide:placement-errors]

  // [guide:entity-use]
  for (auto* node : {&b, &c}) node->register_entity<ShoppingCart>("ShoppingCart", {.idle_after = 200ms});
  // [/guide:entity-use]
  wait_until([&] { return hosts_seen(a, "ShoppingCart") == 2; }, "a sees b and c host ShoppingCart");
  // [guide:entity-call]
  auto cart = a.entity<ShoppingCart>("cart-42");  // no spawn: the first call activates it
  cart.ask(&ShoppingCart::add_item, std::string("tea")).get();
  std::cout << "cart-42 holds " << cart.ask(&ShoppingCart::add_item, std::string("milk")).get() << " items\n";
  // [/guide:entity-call]
  auto activation = cart.current();  // the activation's reference, as a routes to it now
  const std::string home = node_of(activation.value(), names);
  std::cout << "cart-42 lives on b or c\n";
  wait_until([&] { return b.stats().entities_active + c.stats().entities_active == 0; }, "cart-42 is passivated when idle");
  std::cout << "idle: passivated, its items saved\n";
  // Its node stops (a graceful stop passivates it too): the next call activates it on the other.
  (home == "b" ? b : c).shutdown();
  std::vector<std::string> items;
  wait_until(
      [&] {
        try {
          items = cart.with_timeout(1s).ask(&ShoppingCart::items).get();
          return true;
        } catch (const pulsing::Error&) {  // until a sees the node gone
          return false;
        }
      },
      "cart-42 answers from the other node");
  activation = cart.current();
  expect(node_of(activation.value(), names) != home, "cart-42 moved");
  std::cout << "after its node stopped, cart-42 answers from the other, with " << items.size() << " items\n";
  expect(items == std::vector<std::string>{"tea", "milk"}, "the items came along");
  return 0;
}
