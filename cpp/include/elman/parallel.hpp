// Threads: a few coarse parallel loops per call instead of Eigen's per-product threading, which would
// open a parallel region at every time step. The recurrence splits the batch (sequences are
// independent, so each part runs every step of its own sequences); whole-sequence products split rows.
// Eigen's own threading stays off so that no product inside these loops starts threads of its own.
//
// A loop is cut into more parts than threads and the parts are claimed one at a time, the calling
// thread claiming too: a thread that another program keeps off its core delays the loop by at most the
// part it holds, never by a fixed share of the work (which is what made a fixed split, OpenMP's
// static schedule with libgomp's spin-waits, 5-40x slower than one thread on a machine with one core
// busy). Waiting threads spin for microseconds, then yield their core, then sleep.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <Eigen/Core>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define ELMAN_HAS_ATFORK 1
#endif
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#endif

#include "elman/config.hpp"

namespace elman {

namespace detail {

// The first of ELMAN_NUM_THREADS and OMP_NUM_THREADS that is set, or 0. OMP_NUM_THREADS may be a
// list per nesting level ("4,2"): its first entry counts.
inline int threads_from_environment() {
  for (const char* name : {"ELMAN_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') continue;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(text, &end, 10);
    if (end == text || (*end != '\0' && *end != ',') || errno != 0 || n < 1 || n > (1L << 30))
      throw std::invalid_argument(std::string(name) + " is '" + text + "'; expected a positive integer");
    return static_cast<int>(n);
  }
  return 0;
}

// The cores this process may run on (its CPU affinity where the system has one).
inline int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

inline std::atomic<int>& thread_setting() {
  static std::atomic<int> n{0};  // 0: not decided yet
  return n;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Waiting: spin this long, then yield the core until `sleep_after`, then block.
constexpr std::chrono::microseconds spin_for{20}, sleep_after{2000};

// Helper threads that run the parts of one loop at a time, with the thread that calls run().
class ThreadPool {
 public:
  // Runs part(c) for every c in [0, parts), on the calling thread and up to `helpers` pool threads,
  // each claiming the next part not yet claimed; returns when all have run. Rethrows the first
  // exception a part threw. Another thread's call arriving while one runs does its parts alone.
  template <typename Part>
  void run(Index parts, int helpers, Part& part) {
    bool idle = false;
    if (!busy_.compare_exchange_strong(idle, true, std::memory_order_acquire)) {
      for (Index c = 0; c < parts; ++c) part(c);
      return;
    }
    struct Release {
      std::atomic<bool>& busy;
      ~Release() { busy.store(false, std::memory_order_release); }
    } release{busy_};
    grow(helpers);
    helpers_.store(helpers, std::memory_order_relaxed);
    call_.store([](void* p, Index c) { (*static_cast<Part*>(p))(c); }, std::memory_order_relaxed);
    body_.store(&part, std::memory_order_relaxed);
    count_.store(parts, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    const std::uint64_t generation = (ticket_.load(std::memory_order_relaxed) >> part_bits) + 1;
    ticket_.store(generation << part_bits, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    claim_parts(generation);
    for (auto waited = Clock::now(), start = waited; done_.load(std::memory_order_acquire) < parts;) {
      if ((waited = Clock::now()) - start < spin_for)
        cpu_relax();
      else
        std::this_thread::yield();  // a part left is held by a thread that is off its core
    }
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
  }

  // Keeps at most `helpers` threads (called with no loop running).
  void shrink(int helpers) {
    bool idle = false;
    while (!busy_.compare_exchange_weak(idle, true, std::memory_order_acquire)) idle = false;
    while (static_cast<int>(threads_.size()) > helpers) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(static_cast<int>(threads_.size()) - 1, std::memory_order_seq_cst);
        wake_.notify_all();
      }
      threads_.back().join();
      threads_.pop_back();
      stop_.store(-1, std::memory_order_relaxed);
    }
    busy_.store(false, std::memory_order_release);
  }

 private:
  using Clock = std::chrono::steady_clock;
  // ticket_ holds a loop's generation in its high bits and the next part to claim in its low ones.
  static constexpr int part_bits = 24;
  static constexpr std::uint64_t part_mask = (std::uint64_t(1) << part_bits) - 1;

  void grow(int helpers) {
    threads_.reserve(static_cast<std::size_t>(helpers));
    while (static_cast<int>(threads_.size()) < helpers) {
      const int index = static_cast<int>(threads_.size());
      threads_.emplace_back([this, index, seen = ticket_.load() >> part_bits] { work(index, seen); });
    }
  }

  // Claims and runs parts of loop `generation` until none is left.
  void claim_parts(std::uint64_t generation) {
    std::uint64_t ticket = ticket_.load(std::memory_order_acquire);
    for (;;) {
      if (ticket >> part_bits != generation) return;
      const Index c = static_cast<Index>(ticket & part_mask);
      if (c >= count_.load(std::memory_order_relaxed)) return;
      if (!ticket_.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      // Part c is ours, so loop `generation` cannot end before it does: its call and body stay valid.
      try {
        call_.load(std::memory_order_relaxed)(body_.load(std::memory_order_relaxed), c);
      } catch (...) {
        bool first = false;
        if (failed_.compare_exchange_strong(first, true, std::memory_order_acq_rel)) error_ = std::current_exception();
      }
      done_.fetch_add(1, std::memory_order_acq_rel);
      ticket = ticket_.load(std::memory_order_acquire);
    }
  }

  void work(int index, std::uint64_t seen) {
    for (;;) {
      const std::uint64_t ticket = wait_for_loop(index, seen);
      if (stop_.load(std::memory_order_acquire) == index) return;
      seen = ticket >> part_bits;
      if (index < helpers_.load(std::memory_order_relaxed)) claim_parts(seen);
    }
  }

  // The ticket of the first loop after `seen` (or the current one when thread `index` must stop).
  std::uint64_t wait_for_loop(int index, std::uint64_t seen) {
    const auto start = Clock::now();
    for (unsigned i = 0;; ++i) {
      const std::uint64_t ticket = ticket_.load(std::memory_order_acquire);
      if (ticket >> part_bits != seen || stop_.load(std::memory_order_acquire) == index) return ticket;
      if (i % 64 != 63) {
        cpu_relax();
        continue;
      }
      const auto waited = Clock::now() - start;
      if (waited < spin_for) continue;
      if (waited < sleep_after) {
        std::this_thread::yield();
        continue;
      }
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] {
        return ticket_.load(std::memory_order_seq_cst) >> part_bits != seen ||
               stop_.load(std::memory_order_seq_cst) == index;
      });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> busy_{false};
  std::atomic<std::uint64_t> ticket_{0};
  std::atomic<void (*)(void*, Index)> call_{nullptr};
  std::atomic<void*> body_{nullptr};
  std::atomic<Index> count_{0}, done_{0};
  std::atomic<int> helpers_{0}, sleepers_{0}, stop_{-1};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable wake_;
};

// The process's pool, made on first use and never destroyed: its threads may still be waiting when
// the process exits, and a forked child (which has none of them) gets a new one.
inline std::atomic<ThreadPool*>& pool_slot() {
  static std::atomic<ThreadPool*> slot{nullptr};
  return slot;
}

inline void after_fork_in_child() {
  pool_slot().store(nullptr);  // the parent's threads do not exist here; its pool is left as it is
  thread_setting().store(1);
}

inline ThreadPool& pool() {
  static const bool registered = [] {
#ifdef ELMAN_HAS_ATFORK
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
#endif
    return true;
  }();
  (void)registered;
  ThreadPool* p = pool_slot().load(std::memory_order_acquire);
  if (p == nullptr) {
    auto made = std::make_unique<ThreadPool>();
    if (pool_slot().compare_exchange_strong(p, made.get(), std::memory_order_acq_rel)) p = made.release();
  }
  return *p;
}

}  // namespace detail

// Threads elman uses. Default: ELMAN_NUM_THREADS, else OMP_NUM_THREADS, else the cores this process
// may run on. A forked child starts with 1 (the parent's threads do not exist there). Also turns
// Eigen's own threading off.
inline void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("n is " + std::to_string(n) + "; expected a positive integer");
  detail::thread_setting() = n;
  if (detail::pool_slot().load() != nullptr) detail::pool().shrink(n - 1);
  Eigen::setNbThreads(1);
}

inline int get_num_threads() {
  int n = detail::thread_setting().load(std::memory_order_relaxed);
  if (n == 0) {
    const int given = detail::threads_from_environment();
    n = given > 0 ? given : detail::available_cores();
    int unset = 0;
    if (!detail::thread_setting().compare_exchange_strong(unset, n)) n = unset;
    Eigen::setNbThreads(1);
  }
  return n;
}

// Work below which a thread is not worth waking, in multiply-adds (about 20 µs on one core).
constexpr double min_work_per_thread = 1 << 18;
// Parts per thread a loop is cut into: enough that a thread kept off its core holds up little.
constexpr Index parts_per_thread = 4;

// Calls fn(begin, end) on contiguous parts of [0, n), each at least `grain` long, from as many threads
// as `work` (the total cost in multiply-adds) pays for. A part is never split, so fn sees whole parts.
template <typename Fn>
void parallel_for(Index n, double work, Fn fn, Index grain = 1) {
  const Index most = n / std::max<Index>(grain, 1);
  Index threads = std::min<Index>(get_num_threads(), most);
  threads = std::min<Index>(threads, static_cast<Index>(work / min_work_per_thread));
  if (threads <= 1) {
    if (n > 0) fn(Index(0), n);
    return;
  }
  const Index parts = std::min(most, threads * parts_per_thread);
  auto part = [&](Index c) { fn(n * c / parts, n * (c + 1) / parts); };
  detail::pool().run(parts, static_cast<int>(threads - 1), part);
}

}  // namespace elman
