// How error messages write numbers: the shortest text that reads back as the same double, as
// Python's repr does ("0.1", "1.0", "-1e-05", "nan"), so that a message shows what the caller passed.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace elman {

inline std::string number_str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  std::string s = text;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // an integral value still reads as a real
  return s;
}

}  // namespace elman
