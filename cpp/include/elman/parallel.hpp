// Threads: a few coarse parallel loops per call instead of Eigen's per-product threading, which would
// open a parallel region at every time step. The recurrence splits the batch (sequences are
// independent, so each part runs every step of its own sequences); whole-sequence products split rows.
// Eigen's own threading stays off so that no product inside these loops starts threads of its own.
//
// A loop is cut into more parts than threads and the parts are claimed one at a time, the calling
// thread claiming too: a thread that another program keeps off its core delays the loop by at most the
// part it holds, never by a fixed share of the work (which is what made a fixed split, OpenMP's
// static schedule with libgomp's spin-waits, 5-40x slower than one thread on a machine with one core
// busy). Waiting threads spin for microseconds, then yield their core, then sleep. When a loop's caller
// still waits longer for a preempted helper's part than it worked itself, its next loops run alone
// for a while (the same parts in order, so the same bits), and try the helpers again after.
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
//
// The parts are dealt out in contiguous ranges, one per participant (the caller is participant 0,
// pool thread i is i + 1), and each range has its own ticket: the loop's generation in the high bits
// and the range's next part in the low ones. A participant claims the parts of its own range first,
// then those left in the others'. On a quiet machine every thread thus runs the same rows of the
// same loop from call to call (at batch 1 a thread's share of W_hh stays in its core's cache); when
// one is kept off its core, the others take what it has not claimed.
class ThreadPool {
 public:
  // Runs part(c) for every c in [0, parts), on the calling thread and up to `helpers` pool threads;
  // returns when all have run. Rethrows the first exception a part threw. A call from another
  // thread while a loop runs does its parts alone.
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
    const auto begin = Clock::now();
    if (begin < alone_until_) {  // the same parts, so the same bits, as with the helpers
      for (Index c = 0; c < parts; ++c) part(c);
      return;
    }
    grow(helpers);
    const int participants = helpers + 1;
    const std::uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
    participants_.store(participants, std::memory_order_relaxed);
    call_.store([](void* p, Index c) { (*static_cast<Part*>(p))(c); }, std::memory_order_relaxed);
    body_.store(&part, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    Range* ranges = ranges_.load(std::memory_order_relaxed);
    for (int r = 0; r < participants; ++r) {
      ranges[r].end.store(parts * (r + 1) / participants, std::memory_order_relaxed);
      ranges[r].ticket.store(generation << part_bits | static_cast<std::uint64_t>(parts * r / participants),
                              std::memory_order_release);
    }
    generation_.store(generation, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    claim_parts(0, participants, generation);
    const auto own = Clock::now();
    auto now = own;
    while (done_.load(std::memory_order_acquire) < parts) {
      if (now - own < spin_for)
        cpu_relax();
      else
        std::this_thread::yield();  // a part left is held by a thread that is off its core
      now = Clock::now();
    }
    // Held up: the caller waited longer for a preempted helper's part than it worked itself.
    held_up(now - own > std::max<Clock::duration>(own - begin, least_wait), now);
    if (failed_.load(std::memory_order_acquire)) std::rethrow_exception(error_);
  }

  // Keeps at most `helpers` threads (waits for a running loop to end first).
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
  static constexpr int part_bits = 24;
  static constexpr std::uint64_t part_mask = (std::uint64_t(1) << part_bits) - 1;

  // After a loop, `held` if another program held it up: the caller's loops then run alone
  // for a while, twice as long each time this happens again (up to most_alone); a calm stretch of
  // four times that long since halves it. So a machine that is busy for long settles on loops alone
  // with a try every half second, and one stall among calm loops costs a few milliseconds alone.
  void held_up(bool held, Clock::time_point now) {
    if (held) {
      alone_for_ = std::min<Clock::duration>(std::max<Clock::duration>(2 * alone_for_, least_alone), most_alone);
      alone_until_ = calm_since_ = now + alone_for_;
    } else if (alone_for_.count() > 0 && now - calm_since_ > 4 * alone_for_) {
      alone_for_ /= 2;
      calm_since_ = now;
    }
  }

  struct alignas(64) Range {  // a cache line each: participants claim in their own without contention
    std::atomic<std::uint64_t> ticket{0};
    std::atomic<Index> end{0};
  };

  // Room for `helpers` threads and their ranges (called by run's caller, with no loop running).
  void grow(int helpers) {
    if (capacity_ < helpers + 1) {
      // A thread late for the last loop may still look at the old ranges (and find that loop over),
      // so they are kept, not freed: this happens only when the threads grow past their most.
      arrays_.emplace_back(new Range[static_cast<std::size_t>(helpers + 1)]);
      ranges_.store(arrays_.back().get(), std::memory_order_release);
      capacity_ = helpers + 1;
    }
    threads_.reserve(static_cast<std::size_t>(helpers));
    while (static_cast<int>(threads_.size()) < helpers) {
      const int index = static_cast<int>(threads_.size());
      threads_.emplace_back([this, index, seen = generation_.load()] { work(index, seen); });
    }
  }

  // Participant `me` claims and runs parts of loop `generation`: its own range's, then the others'.
  void claim_parts(int me, int participants, std::uint64_t generation) {
    Range* ranges = ranges_.load(std::memory_order_acquire);
    for (int k = 0; k < participants; ++k) {
      Range& range = ranges[(me + k) % participants];
      std::uint64_t ticket = range.ticket.load(std::memory_order_acquire);
      for (;;) {
        if (ticket >> part_bits != generation) return;  // the loop is over (every part has run)
        const Index c = static_cast<Index>(ticket & part_mask);
        if (c >= range.end.load(std::memory_order_relaxed)) break;
        if (!range.ticket.compare_exchange_weak(ticket, ticket + 1, std::memory_order_acq_rel,
                                                std::memory_order_acquire))
          continue;
        // Part c is ours, so loop `generation` cannot end before it does: its call and body stay valid.
        try {
          call_.load(std::memory_order_relaxed)(body_.load(std::memory_order_relaxed), c);
        } catch (...) {
          bool first = false;
          if (failed_.compare_exchange_strong(first, true, std::memory_order_acq_rel))
            error_ = std::current_exception();
        }
        done_.fetch_add(1, std::memory_order_acq_rel);
        ticket = range.ticket.load(std::memory_order_acquire);
      }
    }
  }

  void work(int index, std::uint64_t seen) {
    for (;;) {
      seen = wait_for_loop(index, seen);
      if (stop_.load(std::memory_order_acquire) == index) return;
      const int participants = participants_.load(std::memory_order_relaxed);
      if (index + 1 < participants) claim_parts(index + 1, participants, seen);
    }
  }

  // The generation of the first loop after `seen` (or `seen` when thread `index` must stop).
  std::uint64_t wait_for_loop(int index, std::uint64_t seen) {
    const auto start = Clock::now();
    for (unsigned i = 0;; ++i) {
      const std::uint64_t generation = generation_.load(std::memory_order_acquire);
      if (generation != seen || stop_.load(std::memory_order_acquire) == index) return generation;
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
        return generation_.load(std::memory_order_seq_cst) != seen || stop_.load(std::memory_order_seq_cst) == index;
      });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  static constexpr std::chrono::microseconds least_wait{50};
  static constexpr std::chrono::milliseconds least_alone{5}, most_alone{500};

  std::vector<std::thread> threads_;
  Clock::time_point alone_until_{};  // the caller's loops run alone until then (owned by busy_'s holder)
  Clock::duration alone_for_{0};
  Clock::time_point calm_since_{};
  std::vector<std::unique_ptr<Range[]>> arrays_;  // every range array made; the last is in use
  std::atomic<Range*> ranges_{nullptr};
  int capacity_ = 0;
  std::atomic<bool> busy_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<void (*)(void*, Index)> call_{nullptr};
  std::atomic<void*> body_{nullptr};
  std::atomic<Index> done_{0};
  std::atomic<int> participants_{0}, sleepers_{0}, stop_{-1};
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

// Registers after_fork_in_child once, as soon as a thread count is decided or a pool made.
inline void watch_forks() {
  static const bool registered = [] {
#ifdef ELMAN_HAS_ATFORK
    pthread_atfork(nullptr, nullptr, after_fork_in_child);
#endif
    return true;
  }();
  (void)registered;
}

inline ThreadPool& pool() {
  watch_forks();
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
  detail::watch_forks();
  detail::thread_setting() = n;
  if (detail::pool_slot().load() != nullptr) detail::pool().shrink(n - 1);
  Eigen::setNbThreads(1);
}

inline int get_num_threads() {
  int n = detail::thread_setting().load(std::memory_order_relaxed);
  if (n == 0) {
    detail::watch_forks();
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
// as `work` (the total cost in multiply-adds) pays for, in up to `per_thread` parts per thread (fewer
// where each part has a fixed cost, such as reading a large W_hh at every step). A part is never
// split, so fn sees whole parts.
template <typename Fn>
void parallel_for(Index n, double work, Fn fn, Index grain = 1, Index per_thread = parts_per_thread) {
  const Index most = n / std::max<Index>(grain, 1);
  Index threads = std::min<Index>(get_num_threads(), most);
  threads = std::min<Index>(threads, static_cast<Index>(work / min_work_per_thread));
  if (threads <= 1) {
    if (n > 0) fn(Index(0), n);
    return;
  }
  const Index parts = std::min(most, threads * std::max<Index>(per_thread, 1));
  auto part = [&](Index c) { fn(n * c / parts, n * (c + 1) / parts); };
  detail::pool().run(parts, static_cast<int>(threads - 1), part);
}

}  // namespace elman
