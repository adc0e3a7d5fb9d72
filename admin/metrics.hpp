// The node's counters and gauges in the Prometheus text exposition format (version 0.0.4), for
// the admin endpoint's /metrics. Every name starts with "pulsing_"; counters end in "_total".
//
// Stateless; safe from any thread.
#pragma once

#include <string>

#include "runtime/node.hpp"

namespace pulsing::admin {

std::string prometheus_text(const Node& node);

}  // namespace pulsing::admin
