// pulsing's logger, shared by every layer: spdlog logger "pulsing", writing to stderr so that it
// never mixes with a program's own output. Adjust it like any spdlog logger, e.g.
//   pulsing::log().set_level(spdlog::level::warn);
// Thread-safe.
#pragma once

#include <spdlog/spdlog.h>

namespace pulsing {

spdlog::logger& log();

}  // namespace pulsing
