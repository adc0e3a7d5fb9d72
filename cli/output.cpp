#include "cli/output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

#include <fmt/format.h>

#include "messaging/json.hpp"

namespace pulsing::cli {

std::string cell_text(const Value& value) {
  if (value.is_text()) return value.as_text();
  return to_json_text(value);
}

void print_table(std::ostream& out, const std::vector<Column>& columns, const Value& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> widths;
  std::vector<std::string> header;
  for (const auto& column : columns) {
    std::string h = column.header;
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    widths.push_back(h.size());
    header.push_back(std::move(h));
  }
  for (const Value& row : rows.as_list()) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const Value* v = row.find(columns[i].key);
      line.push_back(v != nullptr ? cell_text(*v) : "");
      widths[i] = std::max(widths[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += i + 1 < line.size() ? fmt::format("{:<{}}  ", line[i], widths[i]) : line[i];
    }
    out << text << "\n";
  };
  print_line(header);
  for (const auto& line : cells) print_line(line);
  if (cells.empty()) out << "(none)\n";
}

std::string short_duration(std::chrono::milliseconds duration) {
  auto ms = duration.count();
  if (ms < 1000) return fmt::format("{}ms", ms);
  auto s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  return fmt::format("{}h{}m", s / 3600, s % 3600 / 60);
}

void Progress::update(const std::string& line) {
  if (line == last_) return;
  if (::isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
  last_ = line;
}

void Progress::finish() {
  if (open_) std::fprintf(stderr, "\n");
  open_ = false;
}

}  // namespace pulsing::cli
