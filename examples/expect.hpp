// expect(): how an example checks what it just printed. A broken expectation ends the program
// with exit code 1, so that the example's test fails even when its output still looks right.
#pragma once

#include <cstdlib>
#include <iostream>
#include <string_view>

inline void expect(bool holds, std::string_view what) {
  if (holds) return;
  std::cout.flush();
  std::cerr << "EXPECTATION FAILED: " << what << std::endl;
  std::exit(1);
}
