#include "common/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace pulsing {

spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto existing = spdlog::get("pulsing");
    return existing ? existing : spdlog::stderr_color_mt("pulsing");
  }();
  return *logger;
}

}  // namespace pulsing
