// How commands print: tables for people, JSON for scripts (--json), progress on stderr.
//
// Stateless functions, but they write to the process's streams: one thread at a time.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "messaging/value.hpp"

namespace pulsing::cli {

struct Column {
  std::string header;  // printed in capitals
  std::string key;     // the row map's entry shown in it
};

// Rows (a list of maps) as aligned columns under a header line; "(none)" when empty.
void print_table(std::ostream& out, const std::vector<Column>& columns, const Value& rows);

// A cell's text: text as is, other values as JSON.
std::string cell_text(const Value& value);

// "850ms", "12s", "3m4s", "2h1m".
std::string short_duration(std::chrono::milliseconds duration);

// Rewrites one status line on stderr ("waiting for 3 members: 2 so far (4s)") when it is a
// terminal; elsewhere prints it as a new line, only when it changes. finish() ends it.
class Progress {
 public:
  void update(const std::string& line);
  void finish();
  ~Progress() { finish(); }

 private:
  std::string last_;
  bool open_ = false;
};

}  // namespace pulsing::cli
