// A warm train_step allocates nothing: every heap allocation made while the warm calls run, on any
// thread and through any route, is counted, and the count must be 0.
//
// How allocations are seen, by build:
// - glibc (no AddressSanitizer): this program replaces every form of the global operator new and
//   delete, and the C allocation functions (malloc, calloc, realloc, aligned_alloc, posix_memalign,
//   memalign, valloc, pvalloc, free), forwarding to glibc's own allocator (__libc_malloc and friends),
//   which glibc documents as the way to replace malloc. glibc's own internal calls (strdup, fopen...)
//   and libgomp's reach the replacements too.
// - AddressSanitizer: the sanitizer owns malloc and operator new, so neither is replaced; its
//   allocator calls a hook for every allocation (C or C++), which counts them.
// - elsewhere: operator new and delete only (C's malloc is not counted there), said on stdout.
// Eigen's own check (EIGEN_RUNTIME_NO_MALLOC) stays on as well, but it is an eigen_assert: it aborts
// at an allocation through Eigen in builds with assertions (Debug, the sanitizers'), and does nothing
// under NDEBUG, where the count is the only check.
#define EIGEN_RUNTIME_NO_MALLOC
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define ELMAN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ELMAN_TEST_ASAN 1
#endif
#endif

namespace counter {
std::atomic<bool> on{false};
std::atomic<long> allocations{0};
std::atomic<long> bytes{0};

inline void count(std::size_t size) {
  if (on.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(static_cast<long>(size), std::memory_order_relaxed);
  }
}
}  // namespace counter

#if defined(ELMAN_TEST_ASAN)

// The sanitizer's allocator calls the hook for every allocation: malloc and its family, operator new.
// (Declared here: GCC ships no <sanitizer/allocator_interface.h>.)
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, std::size_t),
                                                          void (*free_hook)(const volatile void*));
namespace counter {
const char* const method = "AddressSanitizer's allocation hook (C and C++ allocations)";
void on_malloc(const volatile void*, std::size_t size) { count(size); }
void on_free(const volatile void*) {}
inline void install() { __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free); }
}  // namespace counter

#else  // not ASan: replace operator new and delete, and on glibc the C allocation functions

#if defined(__GLIBC__)
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* __libc_valloc(std::size_t);
void* __libc_pvalloc(std::size_t);
void __libc_free(void*);
}

namespace counter {
const char* const method = "replaced operator new/delete and C allocation functions (glibc)";
inline void* raw_malloc(std::size_t size) { return __libc_malloc(size); }
inline void* raw_aligned(std::size_t alignment, std::size_t size) { return __libc_memalign(alignment, size); }
inline void raw_free(void* p) { __libc_free(p); }
inline void install() {}
}  // namespace counter

extern "C" {
void* malloc(std::size_t size) noexcept {
  counter::count(size);
  return __libc_malloc(size);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  counter::count(n * size);
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t size) noexcept {
  if (size > 0) counter::count(size);
  return __libc_realloc(p, size);
}
void free(void* p) noexcept { __libc_free(p); }
void* memalign(std::size_t alignment, std::size_t size) noexcept {
  counter::count(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  counter::count(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) noexcept {
  if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) return EINVAL;
  counter::count(size);
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void* valloc(std::size_t size) noexcept {
  counter::count(size);
  return __libc_valloc(size);
}
void* pvalloc(std::size_t size) noexcept {
  counter::count(size);
  return __libc_pvalloc(size);
}
}

#else  // neither ASan nor glibc: C++ allocations only

namespace counter {
const char* const method = "replaced operator new/delete (C allocations are not counted on this platform)";
inline void* raw_malloc(std::size_t size) { return std::malloc(size); }
inline void* raw_aligned(std::size_t alignment, std::size_t size) {
  void* p = nullptr;
  return posix_memalign(&p, std::max(alignment, sizeof(void*)), size) == 0 ? p : nullptr;
}
inline void raw_free(void* p) { std::free(p); }
inline void install() {}
}  // namespace counter

#endif  // __GLIBC__

namespace counter {
inline void* allocate(std::size_t size) {
  count(size);
  return raw_malloc(size ? size : 1);
}
inline void* allocate(std::size_t size, std::align_val_t alignment) {
  count(size);
  return raw_aligned(static_cast<std::size_t>(alignment), size ? size : 1);
}
inline void* or_throw(void* p) {
  if (!p) throw std::bad_alloc();
  return p;
}
}  // namespace counter

void* operator new(std::size_t size) { return counter::or_throw(counter::allocate(size)); }
void* operator new[](std::size_t size) { return counter::or_throw(counter::allocate(size)); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counter::allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counter::allocate(size); }
void* operator new(std::size_t size, std::align_val_t a) { return counter::or_throw(counter::allocate(size, a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counter::or_throw(counter::allocate(size, a)); }
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counter::allocate(size, a);
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counter::allocate(size, a);
}

void operator delete(void* p) noexcept { counter::raw_free(p); }
void operator delete[](void* p) noexcept { counter::raw_free(p); }
void operator delete(void* p, std::size_t) noexcept { counter::raw_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counter::raw_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counter::raw_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counter::raw_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counter::raw_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counter::raw_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counter::raw_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counter::raw_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { counter::raw_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { counter::raw_free(p); }

#endif  // ELMAN_TEST_ASAN

namespace {

// The hooks must see what a program does: each route once, counted while on, and nothing while off.
// The pointers go through a volatile so the compiler cannot drop an allocation it sees unused.
void counting_works() {
  void* volatile sink = nullptr;
  counter::allocations = 0;
  counter::on = true;
  sink = std::malloc(24);
  std::free(sink);
  sink = std::calloc(3, 8);
  sink = std::realloc(sink, 64);
  std::free(sink);
  sink = new int(1);
  delete static_cast<int*>(sink);
  sink = new (std::nothrow) double[3];
  delete[] static_cast<double*>(sink);
  struct alignas(64) Wide {
    double v[8];
  };
  sink = new Wide;
  delete static_cast<Wide*>(sink);
  { std::vector<float> v(100); sink = v.data(); }
  counter::on = false;
  const long seen = counter::allocations;
  sink = std::malloc(24);  // not counted
  std::free(sink);
#if defined(ELMAN_TEST_ASAN) || defined(__GLIBC__)
  const long expected = 7;  // malloc, calloc, realloc, new, new[] nothrow, aligned new, the vector
#else
  const long expected = 4;  // the C++ ones
#endif
  CHECK_MSG(seen == expected && counter::allocations == seen,
            "counted " + std::to_string(seen) + " allocations, expected " + std::to_string(expected));
}

template <typename S>
void warm_step_allocates_nothing(elman::Index I, elman::Index H, elman::Index O, elman::Index B, elman::Index T,
                                 elman::Index layers, bool bidirectional, int threads) {
  elman::set_num_threads(threads);
  elman::Config c;
  c.input_size = I, c.hidden_size = H, c.output_size = O, c.num_layers = layers, c.bidirectional = bidirectional;
  c.dropout = layers > 1 ? 0.2 : 0.0;
  elman::Model<S> model(c);
  elman::OptimizerConfig oc;
  oc.kind = elman::OptimizerKind::Adam;
  elman::Optimizer<S> opt(oc, model.num_params());
  std::mt19937 gen(0);
  std::normal_distribution<double> normal;
  std::vector<S> x(T * B * I), target(T * B * O), h_n(layers * (bidirectional ? 2 : 1) * B * H);
  for (auto& v : x) v = S(normal(gen));
  for (auto& v : target) v = S(normal(gen));
  std::vector<std::int64_t> lengths(B, T);
  lengths[0] = T / 2;
  elman::Batch<S> batch;
  batch.steps = {T, B, lengths.data()};
  batch.x = x.data();
  elman::Target<S> tgt;
  tgt.values = target.data();
  const elman::Clip clip{5.0, 1.0};

  model.train_step(batch, tgt, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, h_n.data());  // warm up
  counter::allocations = 0;
  counter::bytes = 0;
  counter::on = true;
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 2; ++i)
    model.train_step(batch, tgt, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, h_n.data());
  // A smaller batch fits in the workspace too.
  batch.steps.steps = T / 2;
  for (auto& l : lengths) l = std::min<std::int64_t>(l, T / 2);
  model.train_step(batch, tgt, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, h_n.data());
  Eigen::internal::set_is_malloc_allowed(true);
  counter::on = false;
  const long count = counter::allocations, bytes = counter::bytes;
  std::printf("H=%ld B=%ld T=%ld L=%ld D=%d threads=%d: %ld allocations (%ld bytes) in 3 warm steps\n", long(H),
              long(B), long(T), long(layers), bidirectional ? 2 : 1, threads, count, bytes);
  CHECK_MSG(count == 0, std::to_string(count) + " allocations (" + std::to_string(bytes) + " bytes) in warm steps");
}

}  // namespace

int main() {
  counter::install();
  std::printf("counting allocations with %s\n", counter::method);
  counting_works();
  warm_step_allocates_nothing<float>(8, 32, 8, 1, 100, 1, false, 1);
  warm_step_allocates_nothing<float>(64, 256, 64, 32, 40, 2, true, 1);
  warm_step_allocates_nothing<double>(64, 300, 64, 16, 20, 1, false, 2);
  warm_step_allocates_nothing<float>(128, 1024, 128, 64, 8, 1, false, 2);
  return check::report("no_malloc");
}
