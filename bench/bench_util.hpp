// What every benchmark program shares: scaling counts, timing, memory readings, and the one
// JSON line it prints (the contract bench/run.sh reads; see bench/README.md).
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A workload's count times --scale, at least 1.
inline int64_t scaled(int64_t base, double scale) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(base) * scale));
}

// Peak resident set of the whole process so far (Linux reports ru_maxrss in KiB).
inline double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// Current resident set in bytes: the second field of /proc/<pid>/statm, in pages (pid 0: this
// process). 0 when the process is gone.
inline int64_t current_rss_bytes(pid_t pid = 0) {
  std::ifstream statm(pid == 0 ? std::string("/proc/self/statm") : "/proc/" + std::to_string(pid) + "/statm");
  int64_t size_pages = 0, resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * sysconf(_SC_PAGESIZE);
}

// The one line of output; `extra` holds further fields, each starting with a comma.
inline void print_result(const char* system, const char* workload, double value, const char* unit,
                         int64_t count, double seconds, const std::string& extra = "") {
  std::printf(
      "{\"workload\":\"%s\",\"system\":\"%s\",\"value\":%.1f,\"unit\":\"%s\","
      "\"count\":%lld,\"seconds\":%.4f,\"peak_rss_mb\":%.1f%s}\n",
      workload, system, value, unit, static_cast<long long>(count), seconds, peak_rss_mb(),
      extra.c_str());
}

// `--workload W [--scale F]`; false (after printing `usage`) when the arguments are wrong.
inline bool parse_args(int argc, char** argv, const char* usage, std::string& workload, double& scale) {
  scale = 1.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--workload") == 0 && i + 1 < argc) {
      workload = argv[++i];
    } else if (std::strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
      scale = std::atof(argv[++i]);
      if (!(scale > 0)) break;
    } else {
      workload.clear();
      break;
    }
  }
  if (workload.empty() || !(scale > 0)) {
    std::fprintf(stderr, "%s\n", usage);
    return false;
  }
  return true;
}

// The workload function `workload` names in `table`; nullptr (with the usage printed) if none.
template <typename Run>
Run pick_workload(const std::string& workload, const char* usage,
                  std::initializer_list<std::pair<const char*, Run>> table) {
  for (const auto& [name, run] : table) {
    if (workload == name) return run;
  }
  std::fprintf(stderr, "%s\n", usage);
  return nullptr;
}

}  // namespace bench
