// CLI11, as cli/ includes it. g++ 12 reports a "potential null pointer dereference" inside
// std::string where CLI11's code is inlined into ours (App construction, its string splitting):
// a false positive in library code, reported where it is inlined and so out of reach of the
// system-header rule. Silenced for these lines only (a pragma covers what is inlined from them).
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
