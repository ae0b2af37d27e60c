// parallel.hpp's pool: every index runs exactly once whatever the threads, parts and grain; a part that
// throws reaches the caller; calls from several threads at once, nested loops, shrinking and growing
// the pool, a forked child; the default from the environment.
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "check.hpp"
#include "elman/parallel.hpp"

namespace {

using elman::Index;

constexpr double lots = 1e12;  // work enough for every thread

// Runs parallel_for(n, ...) and checks that every index was given to fn exactly once, in parts at
// least `grain` long (or one part, the whole, when n is shorter).
void covers_once(Index n, Index grain, int threads) {
  elman::set_num_threads(threads);
  std::vector<std::atomic<int>> seen(static_cast<std::size_t>(n));
  std::atomic<int> short_parts{0};
  elman::parallel_for(
      n, lots,
      [&](Index b, Index e) {
        if (e - b < grain && e - b < n) ++short_parts;
        for (Index i = b; i < e; ++i) ++seen[static_cast<std::size_t>(i)];
      },
      grain);
  int wrong = 0;
  for (auto& s : seen) wrong += s.load() != 1;
  CHECK_MSG(wrong == 0 && short_parts == 0, "n " + std::to_string(n) + ", grain " + std::to_string(grain) + ", " +
                                              std::to_string(threads) + " threads: " + std::to_string(wrong) +
                                              " indices not run once, " + std::to_string(short_parts) + " short parts");
}

void every_index_once() {
  for (int threads : {1, 2, 3, 8})
    for (Index grain : {1, 4})
      for (Index n : {0, 1, 3, 4, 7, 8, 9, 16, 33, 100, 1000}) covers_once(n, grain, threads);
  // Many loops in a row, as a training run makes them.
  elman::set_num_threads(4);
  std::atomic<long> total{0};
  for (int r = 0; r < 20000; ++r)
    elman::parallel_for(64, lots, [&](Index b, Index e) { total += e - b; });
  CHECK(total == 20000L * 64);
}

void small_work_stays_on_the_caller() {
  elman::set_num_threads(4);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  elman::parallel_for(1000, elman::min_work_per_thread, [&](Index, Index) { elsewhere += std::this_thread::get_id() != caller; });
  CHECK(elsewhere == 0);
}

void a_throwing_part_reaches_the_caller() {
  elman::set_num_threads(3);
  for (int r = 0; r < 200; ++r) {
    bool caught = false;
    try {
      elman::parallel_for(12, lots, [&](Index b, Index) {
        if (b == 6) throw std::runtime_error("part 6");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "part 6";
    }
    CHECK(caught);
  }
  covers_once(50, 1, 3);  // still usable
}

void several_callers_and_nested_loops() {
  elman::set_num_threads(4);
  std::atomic<int> wrong{0};
  auto caller = [&] {
    for (int r = 0; r < 2000; ++r) {
      std::atomic<long> sum{0};
      elman::parallel_for(32, lots, [&](Index b, Index e) {
        for (Index i = b; i < e; ++i) {
          std::atomic<long> inner{0};  // a loop inside a part runs there, on its own
          elman::parallel_for(8, lots, [&](Index b2, Index e2) { inner += e2 - b2; });
          sum += i + 1 + (inner - 8);
        }
      });
      wrong += sum != 32 * 33 / 2;
    }
  };
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) callers.emplace_back(caller);
  for (auto& t : callers) t.join();
  CHECK(wrong == 0);
}

void shrink_and_grow() {
  for (int threads : {8, 1, 5, 2, 6, 1, 3}) {
    elman::set_num_threads(threads);
    CHECK(elman::get_num_threads() == threads);
    covers_once(64, 1, threads);
  }
}

void threads_from_the_environment() {
  auto read = [](const char* elman_value, const char* omp_value) {
    elman_value ? setenv("ELMAN_NUM_THREADS", elman_value, 1) : unsetenv("ELMAN_NUM_THREADS");
    omp_value ? setenv("OMP_NUM_THREADS", omp_value, 1) : unsetenv("OMP_NUM_THREADS");
    try {
      return std::to_string(elman::detail::threads_from_environment());
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
  };
  CHECK(read(nullptr, nullptr) == "0");
  CHECK(read("3", nullptr) == "3");
  CHECK(read(nullptr, "5") == "5");
  CHECK(read(nullptr, "4,2") == "4");
  CHECK(read("2", "5") == "2");
  CHECK(read("", "6") == "6");
  CHECK(read("x", nullptr) == "ELMAN_NUM_THREADS is 'x'; expected a positive integer");
  CHECK(read("0", nullptr) == "ELMAN_NUM_THREADS is '0'; expected a positive integer");
  CHECK(read("3x", nullptr) == "ELMAN_NUM_THREADS is '3x'; expected a positive integer");
  CHECK(read(nullptr, "-2") == "OMP_NUM_THREADS is '-2'; expected a positive integer");
  CHECK(read(nullptr, "99999999999999999999") == "OMP_NUM_THREADS is '99999999999999999999'; expected a positive integer");
  read(nullptr, nullptr);
  CHECK(elman::detail::available_cores() >= 1);
}

void a_forked_child_starts_with_one_thread() {
#if defined(__unix__)
  elman::set_num_threads(3);
  covers_once(64, 1, 3);  // the pool's threads exist in the parent
  const pid_t child = fork();
  if (child == 0) {
    const bool one = elman::get_num_threads() == 1;
    std::atomic<long> total{0};
    elman::set_num_threads(2);  // a new pool of the child's own
    elman::parallel_for(100, lots, [&](Index b, Index e) { total += e - b; });
    _exit(one && total == 100 ? 0 : 1);
  }
  int status = 0;
  CHECK(child > 0 && waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(elman::get_num_threads() == 3);
#endif
}

}  // namespace

int main() {
  threads_from_the_environment();
  CHECK(elman::get_num_threads() >= 1);
  every_index_once();
  small_work_stays_on_the_caller();
  a_throwing_part_reaches_the_caller();
  several_callers_and_nested_loops();
  shrink_and_grow();
  a_forked_child_starts_with_one_thread();
  return check::report("test_parallel");
}
