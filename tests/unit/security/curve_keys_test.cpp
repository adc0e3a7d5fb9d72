// CURVE keys: derived pairs are the same for every holder of a key and differ per key and
// purpose; client key files and authorized-clients files read back what was written, and every
// refusal names the file, the line and what is wrong.
#include "security/curve_keys.hpp"

#include <doctest/doctest.h>

#include "key_testing.hpp"

namespace pulsing::security {
namespace {

using testing::key_error;
using testing::TempDir;
using testing::write_file;

TEST_CASE("a derived CURVE pair is the same for every holder of the key, and differs per key and purpose") {
  auto key = ClusterKey::generate();
  auto copy = ClusterKey::parse(key.to_text());
  auto server = derive_curve_pair(key, KeyPurpose::kCurveServer);
  CHECK(server.public_key == derive_curve_pair(copy, KeyPurpose::kCurveServer).public_key);
  CHECK(server.secret_key == derive_curve_pair(copy, KeyPurpose::kCurveServer).secret_key);
  CHECK(server.public_key != derive_curve_pair(key, KeyPurpose::kCurveNode).public_key);
  CHECK(server.public_key != derive_curve_pair(ClusterKey::generate(), KeyPurpose::kCurveServer).public_key);
  // The public key is the secret key's: a pair made from the secret alone matches.
  CHECK(curve_pair_of_secret(server.secret_key).public_key == server.public_key);
}

TEST_CASE("a ring's public keys are those of its keys, in the ring's order") {
  auto primary = ClusterKey::generate();
  auto secondary = ClusterKey::generate();
  Keyring ring({primary, secondary});
  auto servers = ring_public_keys(ring, KeyPurpose::kCurveServer);
  REQUIRE(servers.size() == 2);
  CHECK(servers[0] == derive_curve_pair(primary, KeyPurpose::kCurveServer).public_key);
  CHECK(servers[1] == derive_curve_pair(secondary, KeyPurpose::kCurveServer).public_key);
  CHECK(ring_public_keys(ring, KeyPurpose::kCurveNode)[0] == derive_curve_pair(primary, KeyPurpose::kCurveNode).public_key);
}

TEST_CASE("a curve key's text is 64 hex digits, and nothing else parses") {
  auto pair = random_curve_pair();
  const std::string text = curve_key_text(pair.public_key);
  CHECK(text.size() == 64);
  CHECK(parse_curve_key(" " + text + "\n") == pair.public_key);
  CHECK_FALSE(parse_curve_key(text.substr(1)).has_value());
  CHECK_FALSE(parse_curve_key(text.substr(1) + "g").has_value());
  CHECK_FALSE(parse_curve_key("").has_value());
}

TEST_CASE("a client key file is private, reads back its pair and server keys, and is never replaced") {
  TempDir dir;
  const std::string path = dir.file("client.key");
  ClientKey key;
  key.pair = random_curve_pair();
  key.servers = {random_curve_pair().public_key, random_curve_pair().public_key};
  write_new_client_key_file(path, key);
  CHECK(testing::mode_of(path) == 0600);
  CHECK(is_client_key_file(path));
  ClientKey read = read_client_key_file(path);
  CHECK(read.pair.public_key == key.pair.public_key);
  CHECK(read.pair.secret_key == key.pair.secret_key);
  CHECK(read.servers == key.servers);
  CHECK(key_error([&] { write_new_client_key_file(path, key); }).find("exists already") != std::string::npos);

  const std::string cluster = dir.file("cluster.key");
  write_file(cluster, ClusterKey::generate().to_text() + "\n", 0600);
  CHECK_FALSE(is_client_key_file(cluster));
}

TEST_CASE("bad client key files are refused with the file, the line and the reason") {
  TempDir dir;
  const std::string path = dir.file("client.key");
  const std::string hex = curve_key_text(random_curve_pair().secret_key);
  auto refusal = [&](const std::string& text, mode_t mode = 0600) {
    std::filesystem::remove(path);
    write_file(path, text, mode);
    return key_error([&] { read_client_key_file(path); });
  };
  CHECK(refusal("secret " + hex + "\nserver " + hex + "\n", 0644).find("chmod 600") != std::string::npos);
  CHECK(refusal("server " + hex + "\n").find("no 'secret' line") != std::string::npos);
  CHECK(refusal("secret " + hex + "\n").find("no 'server' line") != std::string::npos);
  CHECK(refusal("secret " + hex + "\nsecret " + hex + "\n").find("line 2: the file holds two secret keys") !=
        std::string::npos);
  CHECK(refusal("# c\nsecret abc\n").find("line 2: 'secret' takes a key of 64 hex digits") != std::string::npos);
  CHECK(refusal("public " + hex + "\n").find("line 1") != std::string::npos);
  std::string four = "secret " + hex + "\n";
  for (int i = 0; i < 4; ++i) four += "server " + hex + "\n";
  CHECK(refusal(four).find("at most 3 server keys") != std::string::npos);
}

TEST_CASE("an authorized-clients file gives each key its role and name, and refuses what it cannot read") {
  TempDir dir;
  const std::string path = dir.file("clients");
  const auto alice = random_curve_pair().public_key, grafana = random_curve_pair().public_key;
  write_file(path,
             "# who may call\n\noperator " + curve_key_text(alice) + " alice's laptop\n  observer " +
                 curve_key_text(grafana) + "\n",
             0644);  // public keys: others may read it
  auto clients = read_authorized_clients(path);
  REQUIRE(clients.size() == 2);
  CHECK(clients[0].key == alice);
  CHECK(clients[0].role == ClientRole::kOperator);
  CHECK(clients[0].name == "alice's laptop");
  CHECK(clients[1].key == grafana);
  CHECK(clients[1].role == ClientRole::kObserver);
  CHECK(clients[1].name.empty());

  auto refusal = [&](const std::string& text, mode_t mode = 0644) {
    std::filesystem::remove(path);
    write_file(path, text, mode);
    return key_error([&] { read_authorized_clients(path); });
  };
  CHECK(refusal("operator " + curve_key_text(alice) + "\n", 0666).find("chmod go-w") != std::string::npos);
  CHECK(refusal("admin " + curve_key_text(alice) + "\n").find("line 1: a line is 'operator|observer") !=
        std::string::npos);
  CHECK(refusal("operator 1234\n").find("64 hex digits") != std::string::npos);
  CHECK(refusal("operator " + curve_key_text(alice) + "\nobserver " + curve_key_text(alice) + "\n")
            .find("line 2: the key is listed already") != std::string::npos);
}

}  // namespace
}  // namespace pulsing::security
