// The smallest test harness that does the job: a failed check prints where and why and is counted;
// main returns check::report(...), so ctest sees a non-zero exit code.
#pragma once

#include <cstdio>
#include <string>

namespace check {

inline int& failures() {
  static int count = 0;
  return count;
}

inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

inline int report(const char* test) {
  if (failures() == 0) {
    std::printf("%s: all checks passed\n", test);
    return 0;
  }
  std::fprintf(stderr, "%s: %d check(s) failed\n", test, failures());
  return 1;
}

}  // namespace check

#define CHECK(cond) \
  do { \
    if (!(cond)) ::check::fail(__FILE__, __LINE__, #cond); \
  } while (0)

// message is a std::string expression, built only when the check fails.
#define CHECK_MSG(cond, message) \
  do { \
    if (!(cond)) ::check::fail(__FILE__, __LINE__, std::string(#cond) + ": " + (message)); \
  } while (0)

#define CHECK_THROWS(expr, Exception) \
  do { \
    bool thrown_ = false; \
    try { \
      expr; \
    } catch (const Exception&) { \
      thrown_ = true; \
    } catch (...) { \
    } \
    if (!thrown_) ::check::fail(__FILE__, __LINE__, #expr " did not throw " #Exception); \
  } while (0)
