#include "membership/address_cache.hpp"

#include <doctest/doctest.h>

#include <string>

namespace pulsing::membership {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kStart = Clock::time_point{} + 1'000h;  // some time on the clock

AddressCache::Options options(std::size_t max_entries = 16) {
  AddressCache::Options o;
  o.ttl = 30s;
  o.retry_after = 1s;
  o.max_entries = max_entries;
  return o;
}

// Uses `address`, runs the lookup it asks for and answers `endpoint`.
void resolve(AddressCache& cache, const std::string& address, const std::string& endpoint, Clock::time_point now) {
  REQUIRE(cache.use(address, now).lookup_due);
  cache.resolved(address, endpoint, now);
}

}  // namespace

TEST_CASE("a name's first use asks for a lookup and has no answer, and its answer is used after") {
  AddressCache cache(options());
  auto first = cache.use("node1:7000", kStart);
  CHECK_FALSE(first.endpoint.has_value());
  CHECK(first.lookup_due);
  // One lookup at a time: further uses while it runs do not ask again.
  auto waiting = cache.use("node1:7000", kStart + 5s);
  CHECK_FALSE(waiting.endpoint.has_value());
  CHECK_FALSE(waiting.lookup_due);

  cache.resolved("node1:7000", "10.0.0.1:7000", kStart + 5s);
  auto used = cache.use("node1:7000", kStart + 6s);
  CHECK(used.endpoint == "10.0.0.1:7000");
  CHECK_FALSE(used.lookup_due);
  CHECK(cache.address_of("10.0.0.1:7000") == "node1:7000");
  CHECK(cache.size() == 1);
}

TEST_CASE("an expired answer is still used while one fresh lookup runs, and the new answer replaces it") {
  AddressCache cache(options());
  resolve(cache, "node1:7000", "10.0.0.1:7000", kStart);
  CHECK_FALSE(cache.use("node1:7000", kStart + 30s - 1ms).lookup_due);

  auto expired = cache.use("node1:7000", kStart + 30s);
  CHECK(expired.endpoint == "10.0.0.1:7000");  // no datagram dropped
  CHECK(expired.lookup_due);
  auto meanwhile = cache.use("node1:7000", kStart + 31s);
  CHECK(meanwhile.endpoint == "10.0.0.1:7000");
  CHECK_FALSE(meanwhile.lookup_due);  // the lookup already runs

  // The container was recreated: the name now resolves to another IP.
  cache.resolved("node1:7000", "10.0.0.9:7000", kStart + 31s);
  auto moved = cache.use("node1:7000", kStart + 32s);
  CHECK(moved.endpoint == "10.0.0.9:7000");
  CHECK_FALSE(moved.lookup_due);
  CHECK(cache.address_of("10.0.0.9:7000") == "node1:7000");
  CHECK_FALSE(cache.address_of("10.0.0.1:7000").has_value());  // the old IP maps back to nothing
  // The new answer has a full ttl of its own.
  CHECK_FALSE(cache.use("node1:7000", kStart + 61s - 1ms).lookup_due);
  CHECK(cache.use("node1:7000", kStart + 61s).lookup_due);
}

TEST_CASE("an invalidated answer is still used and looked up again at the next use") {
  AddressCache cache(options());
  resolve(cache, "node1:7000", "10.0.0.1:7000", kStart);
  cache.invalidate("node1:7000");
  auto next = cache.use("node1:7000", kStart + 2s);
  CHECK(next.endpoint == "10.0.0.1:7000");
  CHECK(next.lookup_due);
  CHECK_FALSE(cache.use("node1:7000", kStart + 2s).lookup_due);  // once
  cache.resolved("node1:7000", "10.0.0.1:7000", kStart + 2s);
  CHECK_FALSE(cache.use("node1:7000", kStart + 4s).lookup_due);  // fresh again

  // Not sooner than retry_after after the previous lookup: ICMP errors come at every datagram.
  cache.invalidate("node1:7000");
  CHECK_FALSE(cache.use("node1:7000", kStart + 2s + 999ms).lookup_due);
  CHECK(cache.use("node1:7000", kStart + 3s).lookup_due);

  // Unknown and numeric addresses: nothing happens.
  cache.invalidate("other:7000");
  cache.invalidate("10.0.0.1:7000");
  CHECK(cache.size() == 1);
}

TEST_CASE("an invalidation while a lookup runs is answered by that lookup") {
  AddressCache cache(options());
  REQUIRE(cache.use("node1:7000", kStart).lookup_due);
  cache.invalidate("node1:7000");
  cache.resolved("node1:7000", "10.0.0.1:7000", kStart);
  CHECK_FALSE(cache.use("node1:7000", kStart + 5s).lookup_due);
}

TEST_CASE("a failed lookup keeps the answer in use and is retried after the backoff") {
  AddressCache cache(options());
  resolve(cache, "node1:7000", "10.0.0.1:7000", kStart);
  REQUIRE(cache.use("node1:7000", kStart + 30s).lookup_due);
  CHECK(cache.failed("node1:7000", kStart + 30s) == 1);

  auto during_backoff = cache.use("node1:7000", kStart + 30s + 500ms);
  CHECK(during_backoff.endpoint == "10.0.0.1:7000");  // the member is not cut off
  CHECK_FALSE(during_backoff.lookup_due);
  CHECK(cache.address_of("10.0.0.1:7000") == "node1:7000");

  auto retry = cache.use("node1:7000", kStart + 31s);
  CHECK(retry.endpoint == "10.0.0.1:7000");
  CHECK(retry.lookup_due);
  CHECK(cache.failed("node1:7000", kStart + 31s) == 2);  // failures in a row are counted
  REQUIRE(cache.use("node1:7000", kStart + 32s).lookup_due);
  cache.resolved("node1:7000", "10.0.0.1:7000", kStart + 32s);
  REQUIRE(cache.use("node1:7000", kStart + 62s).lookup_due);
  CHECK(cache.failed("node1:7000", kStart + 62s) == 1);  // a success started the count again
}

TEST_CASE("a name that never resolved is retried after the backoff, without an answer meanwhile") {
  AddressCache cache(options());
  REQUIRE(cache.use("late:7000", kStart).lookup_due);
  cache.failed("late:7000", kStart);
  auto waiting = cache.use("late:7000", kStart + 999ms);
  CHECK_FALSE(waiting.endpoint.has_value());
  CHECK_FALSE(waiting.lookup_due);
  CHECK(cache.use("late:7000", kStart + 1s).lookup_due);
}

TEST_CASE("numeric addresses are never cached") {
  AddressCache cache(options());
  for (const char* numeric : {"10.0.0.1:7000", "[::1]:7000", "[fe80::1%eth0]:7000", "::1:7000"}) {
    CAPTURE(numeric);
    CHECK(AddressCache::is_numeric(numeric));
    auto use = cache.use(numeric, kStart);
    CHECK_FALSE(use.endpoint.has_value());
    CHECK_FALSE(use.lookup_due);
    cache.resolved(numeric, "10.0.0.1:7000", kStart);  // not asked for: ignored
  }
  CHECK(cache.size() == 0);
  CHECK_FALSE(cache.address_of("10.0.0.1:7000").has_value());
  for (const char* name : {"localhost:7000", "node-1.cluster.local:7000", "[node1]:7000", "10.0.0.1.example:1"}) {
    CAPTURE(name);
    CHECK_FALSE(AddressCache::is_numeric(name));
  }
}

TEST_CASE("a full cache forgets the name used least recently, and its way back with it") {
  AddressCache cache(options(2));
  resolve(cache, "a:1", "10.0.0.1:1", kStart);
  resolve(cache, "b:1", "10.0.0.2:1", kStart);
  CHECK(cache.use("a:1", kStart + 1s).endpoint == "10.0.0.1:1");  // a is now used more recently than b

  REQUIRE(cache.use("c:1", kStart + 2s).lookup_due);  // b goes
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.address_of("10.0.0.2:1").has_value());
  CHECK(cache.address_of("10.0.0.1:1") == "a:1");
  cache.resolved("c:1", "10.0.0.3:1", kStart + 2s);
  CHECK(cache.address_of("10.0.0.3:1") == "c:1");

  // b is a stranger again: no answer, a new lookup.
  auto b = cache.use("b:1", kStart + 3s);  // a goes now
  CHECK_FALSE(b.endpoint.has_value());
  CHECK(b.lookup_due);
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.address_of("10.0.0.1:1").has_value());

  // A lookup that ends after its name was forgotten changes nothing.
  cache.resolved("a:1", "10.0.0.1:1", kStart + 4s);
  CHECK(cache.failed("a:1", kStart + 4s) == 0);
  CHECK(cache.size() == 2);
  CHECK_FALSE(cache.address_of("10.0.0.1:1").has_value());
}

TEST_CASE("many names stay within the bound, and so does the way back") {
  AddressCache cache(options(8));
  for (int i = 0; i < 1'000; ++i) {
    std::string name = "node" + std::to_string(i) + ":7000";
    resolve(cache, name, "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":7000", kStart);
    CHECK(cache.size() <= 8);
  }
  CHECK(cache.size() == 8);
  CHECK(cache.address_of("10.0.3.231:7000") == "node999:7000");
  CHECK(cache.address_of("10.0.3.224:7000") == "node992:7000");
  CHECK_FALSE(cache.address_of("10.0.3.223:7000").has_value());  // node991: forgotten
}

TEST_CASE("two names with one answer: the way back goes to the one resolved last") {
  AddressCache cache(options());
  resolve(cache, "localhost:7000", "127.0.0.1:7000", kStart);
  resolve(cache, "me:7000", "127.0.0.1:7000", kStart);
  CHECK(cache.address_of("127.0.0.1:7000") == "me:7000");
  // localhost moving elsewhere leaves me's way back alone.
  REQUIRE(cache.use("localhost:7000", kStart + 30s).lookup_due);
  cache.resolved("localhost:7000", "127.0.0.2:7000", kStart + 30s);
  CHECK(cache.address_of("127.0.0.1:7000") == "me:7000");
  CHECK(cache.address_of("127.0.0.2:7000") == "localhost:7000");
}

}  // namespace pulsing::membership
