// Entities on one node: activated by their first call, on_activate / on_passivate around each
// activation, passivated when idle and activated again by the next call with no call lost or
// reordered, re-activated after a crash; calls by name; the errors of a kind nobody hosts and a
// key that breaks the naming rules.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "../messaging/inbox.hpp"
#include "messaging/zmq_transport.hpp"
#include "test_support.hpp"

namespace pulsing {
namespace {

using namespace std::chrono_literals;

// Where carts keep their items between activations, and what happened to each: the user's
// storage, as far as the runtime knows.
struct Storage {
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> items;
  std::map<std::string, std::vector<std::string>> journal;  // "activate", "passivate"

  void note(const std::string& key, const std::string& what) {
    std::lock_guard lock(mutex);
    journal[key].push_back(what);
  }
  int count(const std::string& key, const std::string& what) {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const auto& e : journal[key]) n += e == what;
    return n;
  }
};
Storage g_storage;

class Cart : public Actor {
 public:
  explicit Cart(std::string key) : key_(std::move(key)) {}
  void on_activate() override {
    std::lock_guard lock(g_storage.mutex);
    items_ = g_storage.items[key_];
    g_storage.journal[key_].push_back("activate");
  }
  void on_passivate() override {
    std::lock_guard lock(g_storage.mutex);
    g_storage.items[key_] = items_;
    g_storage.journal[key_].push_back("passivate");
  }
  int add(std::string item) {
    items_.push_back(std::move(item));
    return static_cast<int>(items_.size());
  }
  std::vector<std::string> items() const { return items_; }
  int explode() { throw std::runtime_error("the cart broke"); }
  PULSING_METHODS(Cart, add, items, explode)

 private:
  std::string key_;
  std::vector<std::string> items_;
};

NodeConfig member(const std::string& name, std::vector<std::string> seeds = {}) {
  NodeConfig config = testing::test_config();
  config.name = name;
  config.listen = "tcp://127.0.0.1:0";
  config.membership.name = name;
  config.seeds = std::move(seeds);
  return config;
}

// The members `node` sees announcing the kind Cart.
std::size_t cart_hosts(const Node& node) {
  std::size_t n = 0;
  for (const auto& m : node.members()) {
    auto kinds = m.meta.find("kinds");
    n += kinds != m.meta.end() && kinds->second.find("Cart") != std::string::npos;
  }
  return n;
}

std::string unique_key(const char* what) {
  static std::atomic<int> n{0};
  return std::string(what) + "-" + std::to_string(n++);
}

}  // namespace

TEST_CASE("an entity is activated by its first call, and keeps its state while active") {
  Node node(testing::test_config());
  node.register_entity<Cart>();
  const std::string key = unique_key("first");
  auto cart = node.entity<Cart>(key);
  CHECK(cart.name() == "Cart/" + key);
  CHECK(cart.ask(&Cart::add, std::string("apple")).get() == 1);
  CHECK(cart.ask(&Cart::add, std::string("pear")).get() == 2);
  // Another reference to the same key reaches the same activation, by name too.
  CHECK(node.entity_any("Cart", key).ask("items").get() == Value(Value::List{"apple", "pear"}));
  CHECK(g_storage.count(key, "activate") == 1);
}

TEST_CASE("an idle entity is passivated, and the next call activates it again with its saved state") {
  Node node(testing::test_config());
  node.register_entity<Cart>("Cart", {.idle_after = 50ms});
  const std::string key = unique_key("idle");
  auto cart = node.entity<Cart>(key);
  CHECK(cart.ask(&Cart::add, std::string("apple")).get() == 1);
  REQUIRE(testing::eventually([&] { return g_storage.count(key, "passivate") == 1; }, 5s));
  CHECK(cart.ask(&Cart::items).get() == std::vector<std::string>{"apple"});
  CHECK(g_storage.count(key, "activate") == 2);
}

TEST_CASE("calls racing passivations are neither lost nor reordered") {
  Node node(testing::test_config());
  node.register_entity<Cart>("Cart", {.idle_after = 1ms});  // passivated between almost any two calls
  const std::string key = unique_key("racing");
  auto cart = node.entity<Cart>(key);
  constexpr int kCalls = 300;
  std::vector<Future<int>> pending;
  for (int i = 0; i < kCalls; ++i) {
    if (i % 3 == 0) {
      cart.tell(&Cart::add, std::to_string(i));
    } else {
      pending.push_back(cart.ask(&Cart::add, std::to_string(i)));
    }
    if (i % 50 == 49) {  // a pause: the sweep passivates it, while the next calls may be on their way
      const int before = g_storage.count(key, "passivate");
      REQUIRE(testing::eventually([&] { return g_storage.count(key, "passivate") > before; }, 10s));
    }
  }
  for (auto& p : pending) p.get();
  std::vector<std::string> expected;
  for (int i = 0; i < kCalls; ++i) expected.push_back(std::to_string(i));
  CHECK(cart.ask(&Cart::items).get() == expected);
  CHECK(g_storage.count(key, "passivate") >= kCalls / 50);
}

TEST_CASE("a crashed activation is replaced by the next call, and no host and bad keys are errors") {
  Node node(testing::test_config());
  node.register_entity<Cart>();
  const std::string key = unique_key("crash");
  auto cart = node.entity<Cart>(key);
  CHECK(cart.ask(&Cart::add, std::string("apple")).get() == 1);
  testing::expect_error<SystemError>([&] { cart.ask(&Cart::explode).get(); });
  // The crashed instance saved nothing (no on_passivate): the new one starts from the storage.
  CHECK(cart.ask(&Cart::add, std::string("pear")).get() == 1);
  CHECK(g_storage.count(key, "passivate") == 0);
  CHECK(g_storage.count(key, "activate") == 2);

  CHECK(testing::runtime_error_kind([&] { node.entity_any("Order", "o-1").ask("total").get(); }) ==
        RuntimeErrorKind::kNoHost);
  CHECK(testing::runtime_error_kind([&] { node.entity<Cart>("a key with spaces").ask(&Cart::items).get(); }) ==
        RuntimeErrorKind::kInvalidName);
}

}  // namespace pulsing

namespace pulsing {

TEST_CASE("a tell that reaches a node which does not own the entity goes on to the owner") {
  Node x(member("x"));
  Node y(member("y", {x.endpoint().substr(std::string("tcp://").size())}));
  x.register_entity<Cart>();
  y.register_entity<Cart>();
  REQUIRE(testing::eventually([&] { return cart_hosts(x) == 2 && cart_hosts(y) == 2; }, 15s));
  std::string key;
  for (;;) {  // a key that y owns, as x sees it
    key = unique_key("forwarded");
    auto at = x.entity<Cart>(key).current();
    REQUIRE(at.ok());
    if (at.value().is_remote()) break;
  }
  const auto active_on_x = x.stats().entities_active;  // the keys x owns that the search activated
  // A caller whose view is behind sends the tell to x.
  Envelope tell;
  tell.kind = EnvelopeKind::kTell;
  tell.target_name = "Cart/" + key;
  tell.method = "add";
  tell.payload = Value(Value::List{"sent to x"});
  testing::Inbox ignored;
  ZmqTransport stale(TransportConfig{}, ignored);
  stale.start();
  stale.send(*stale.peer(x.endpoint()), tell);
  REQUIRE(testing::eventually(
      [&] { return y.entity<Cart>(key).ask(&Cart::items).get() == std::vector<std::string>{"sent to x"}; }, 10s));
  CHECK(x.stats().entities_active == active_on_x);  // x did not activate it
  CHECK(x.dead_letters() == 0);
}

}  // namespace pulsing
