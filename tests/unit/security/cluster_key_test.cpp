// Cluster keys and keyrings: text form, ids, derivation, and the refusals a user sees.
#include "security/cluster_key.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "key_testing.hpp"

namespace pulsing::security {
namespace {

using testing::key_error;

TEST_CASE("a generated key survives its text form, and keys differ") {
  auto key = ClusterKey::generate();
  std::string text = key.to_text();
  CHECK(text.size() == ClusterKey::kTextSize);
  auto again = ClusterKey::parse("  " + text + "\n");
  CHECK(again == key);
  CHECK(again.id() == key.id());
  CHECK(key.id().size() == 8);
  CHECK_FALSE(ClusterKey::generate() == key);
}

TEST_CASE("a key's id and derived keys are the same wherever the key is, and differ by purpose") {
  auto key = ClusterKey::parse(std::string(64, 'a'));
  auto twin = ClusterKey::parse(std::string(64, 'A'));  // hex digits in either case
  CHECK(twin.id() == key.id());
  CHECK(twin.derive(KeyPurpose::kGossip) == key.derive(KeyPurpose::kGossip));
  std::set<ClusterKey::Bytes> derived;
  for (auto purpose : {KeyPurpose::kKeyId, KeyPurpose::kGossip, KeyPurpose::kCurveServer, KeyPurpose::kCurveNode}) {
    derived.insert(key.derive(purpose));
  }
  CHECK(derived.size() == 4);
  CHECK(key.derive(KeyPurpose::kGossip) != ClusterKey::parse(std::string(64, 'b')).derive(KeyPurpose::kGossip));
  // The id reveals nothing of the key: it is not a piece of its text.
  CHECK(key.to_text().find(key.id()) == std::string::npos);
}

TEST_CASE("malformed key text is refused with the reason, without echoing the text") {
  std::string wrong_length = key_error([] { ClusterKey::parse("abc123"); });
  CHECK(wrong_length.find("64 hex digits") != std::string::npos);
  CHECK(wrong_length.find("abc123") == std::string::npos);
  std::string not_hex = key_error([] { ClusterKey::parse(std::string(63, 'a') + "z"); });
  CHECK(not_hex.find("hex digits only") != std::string::npos);
  CHECK(key_error([] { ClusterKey::parse(""); }).find("64 hex digits") != std::string::npos);
}

TEST_CASE("a keyring holds one to three distinct keys, the first being the primary") {
  auto a = ClusterKey::generate();
  auto b = ClusterKey::generate();
  auto c = ClusterKey::generate();
  Keyring ring({b, a});
  CHECK(ring.primary() == b);
  REQUIRE(ring.find(a.id()) != nullptr);
  CHECK(*ring.find(a.id()) == a);
  CHECK(ring.find(c.id()) == nullptr);

  CHECK(key_error([] { Keyring({}); }).find("needs a key") != std::string::npos);
  CHECK(key_error([&] { Keyring({a, b, c, ClusterKey::generate()}); }).find("at most 3") != std::string::npos);
  CHECK(key_error([&] { Keyring({a, b, a}); }).find("twice") != std::string::npos);
}

}  // namespace
}  // namespace pulsing::security
