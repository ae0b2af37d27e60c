// Threads: a few coarse parallel loops per call instead of Eigen's per-product threading, which would
// open a parallel region at every time step. The recurrence splits the batch (sequences are
// independent, so each thread runs every step of its own slice); whole-sequence products split rows.
// Eigen's own threading stays off so that no product inside these loops starts threads of its own.
#pragma once

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#include <Eigen/Core>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "elman/config.hpp"

namespace elman {

namespace detail {
inline std::atomic<int>& thread_setting() {
  static std::atomic<int> n{1};
  return n;
}
}  // namespace detail

// Threads elman may use: 1 unless set (more pay off from medium sizes on, and a busy machine makes
// every parallel region wait for its slowest thread). Without OpenMP it stays 1. Also turns
// Eigen's own threading off.
inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("n is " + std::to_string(n) + "; expected a positive integer");
#ifdef _OPENMP
  detail::thread_setting() = n;
#endif
  Eigen::setNbThreads(1);
}

inline int get_num_threads() { return detail::thread_setting(); }

// Work below which a thread is not worth waking, in multiply-adds (about 20 µs on one core).
constexpr double min_work_per_thread = 1 << 18;

// Calls fn(begin, end) on contiguous parts of [0, n), one per thread, each part at least `grain` long;
// `work` is the total cost in multiply-adds, which decides how many threads pay.
template <typename Fn>
void parallel_for(Index n, double work, Fn fn, Index grain = 1) {
  Index threads = std::min<Index>(get_num_threads(), n / std::max<Index>(grain, 1));
  threads = std::min<Index>(threads, static_cast<Index>(work / min_work_per_thread));
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
      const Index t = omp_get_thread_num(), count = omp_get_num_threads();
      const Index begin = n * t / count, end = n * (t + 1) / count;
      if (begin < end) fn(begin, end);
    }
    return;
  }
#endif
  if (n > 0) fn(0, n);
}

}  // namespace elman
