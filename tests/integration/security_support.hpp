// What the security tests share (tests/integration/security_test.cpp, curve_test.cpp): the
// `pulsing` command line, nodes it starts on 127.0.0.1, key files made with `pulsing keygen`,
// and what /metrics and `pulsing members` say.
#pragma once

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "integration_support.hpp"
#include "messaging/json.hpp"

#ifndef PULSING_CLI_PATH
#error "define PULSING_CLI_PATH: the path of the pulsing executable"
#endif

namespace pulsing::integration {

inline std::pair<int, std::string> pulsing(std::vector<std::string> args) {
  return NodeProcess::run_program(PULSING_CLI_PATH, std::move(args), 30s);
}

inline std::string address_of(const NodeProcess& node) { return node.endpoint().substr(6); }
inline std::uint16_t port_of(const NodeProcess& node) {
  return static_cast<std::uint16_t>(std::stoi(node.endpoint().substr(node.endpoint().rfind(':') + 1)));
}

inline NodeProcess start_node(std::vector<std::string> args) {
  args.insert(args.begin(), {"node", "--listen", "127.0.0.1:0", "--workers", "1"});
  return NodeProcess::start_program(PULSING_CLI_PATH, args);
}

// Key files made with `pulsing keygen`, in a directory of their own, removed at the end.
class KeyFiles {
 public:
  KeyFiles() {
    char dir[] = "/tmp/pulsing-security-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    dir_ = dir;
  }
  ~KeyFiles() {
    for (const auto& file : files_) std::remove(file.c_str());
    ::rmdir(dir_.c_str());
  }
  // A path in the directory, for a file the test makes (removed at the end).
  std::string path(const std::string& name) {
    files_.push_back(dir_ + "/" + name);
    return files_.back();
  }
  // A new cluster key file (`pulsing keygen`), or with `extra` arguments another kind of key
  // (--client --cluster-key-file FILE).
  std::string make(const std::string& name, std::vector<std::string> extra = {}) {
    std::string file = path(name);
    std::vector<std::string> args{"keygen", file};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [status, text] = pulsing(std::move(args));
    REQUIRE_MESSAGE(status == 0, text);
    return file;
  }
  // The key lines of a key file (its comments left out).
  static std::vector<std::string> keys_in(const std::string& file) {
    std::ifstream in(file);
    std::vector<std::string> keys;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') keys.push_back(line);
    }
    return keys;
  }
  // Replaces `file`'s keys with `keys` (the first the primary), keeping its mode.
  static void write(const std::string& file, const std::vector<std::string>& keys) {
    std::ofstream out(file, std::ios::trunc);
    for (const auto& key : keys) out << key << "\n";
  }

 private:
  std::string dir_;
  std::vector<std::string> files_;
};

// name → state, from `pulsing members --json` on `node`, calling with `key_file` ("": none).
inline std::map<std::string, std::string> members_seen_by(const NodeProcess& node, const std::string& key_file = "") {
  std::vector<std::string> args{"members", "--node", address_of(node), "--json"};
  if (!key_file.empty()) args.insert(args.end(), {"--key-file", key_file});
  auto [status, text] = NodeProcess::run_program(PULSING_CLI_PATH, std::move(args), 30s, /*with_stderr=*/false);
  REQUIRE_MESSAGE(status == 0, text);
  const Value rows = parse_json(text);  // kept: as_list() refers into it
  std::map<std::string, std::string> seen;
  for (const Value& row : rows.as_list()) seen[row.find("name")->as_text()] = row.find("state")->as_text();
  return seen;
}

inline std::uint64_t metric(const NodeProcess& node, const std::string& sample) {
  auto metrics = admin_get(node, "/metrics");
  REQUIRE(metrics.status == 200);
  return metric_value(metrics.body, sample);
}

}  // namespace pulsing::integration
