// vmath's exp and tanh against long double std::exp and std::tanh (64-bit significands, so the
// reference's own error is about 2^-11 ulp of a double), in ulp of the double result: dense sweeps of
// the ranges where such functions go wrong, random points over the whole range and the special
// values, in every width of double packet this build has (Packet8d, Packet4d and Packet2d on AVX-512).
// Each range prints its worst error; every one must be within 2 ulp.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "elman/vmath.hpp"

namespace {

using Points = std::vector<double>;
constexpr double max_ulp = 2.0;

double from_bits(std::uint64_t b) {
  double x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// |y - exact| in units of the spacing of doubles at exact (2^-1074 among subnormals); 0 when exact
// rounds to the infinity y is, infinite when y is NaN and exact is not, or the other way round.
double ulp_error(double y, long double exact) {
  if (std::isnan(y) || std::isnan(exact)) return std::isnan(y) == std::isnan(exact) ? 0.0 : INFINITY;
  if (std::isinf(y)) return static_cast<double>(exact) == y ? 0.0 : INFINITY;
  const int e = exact == 0 ? -1022 : std::max(std::min(std::ilogb(exact), 1023), -1022);
  return static_cast<double>(std::fabs(static_cast<long double>(y) - exact) / std::ldexp(1.0L, e - 52));
}

// One function: its packet form for P, and its exact value.
struct Function {
  const char* name;
  std::function<long double(long double)> exact;
};

template <typename P>
P apply(const char* name, const P& x) {
  return std::strcmp(name, "exp") == 0 ? elman::vmath::exp(x) : elman::vmath::tanh(x);
}

template <typename P>
const char* packet_name() {
  switch (int(Eigen::internal::unpacket_traits<P>::size)) {
    case 2: return "Packet2d";
    case 4: return "Packet4d";
    default: return "Packet8d";
  }
}

// The worst error of f over xs with packets P (xs padded to whole packets with its last point).
template <typename P>
void measure(const Function& f, const std::string& range, Points xs) {
  using namespace Eigen::internal;
  constexpr size_t L = unpacket_traits<P>::size;
  const size_t n = xs.size();
  while (xs.size() % L) xs.push_back(xs.back());
  Points ys(xs.size());
  for (size_t i = 0; i < xs.size(); i += L) pstoreu(ys.data() + i, apply(f.name, ploadu<P>(xs.data() + i)));
  double worst = 0.0, at = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double err = ulp_error(ys[i], f.exact(xs[i]));
    if (!(err <= worst)) worst = err, at = xs[i];
  }
  std::printf("  %-4s %-8s %-44s %9zu points, worst %.3f ulp at x = %.17g\n", f.name, packet_name<P>(),
              range.c_str(), n, worst, at);
  char message[160];
  std::snprintf(message, sizeof message, "%s %s %s: %.3f ulp at x = %.17g", f.name, packet_name<P>(), range.c_str(),
                worst, at);
  CHECK_MSG(worst <= max_ulp, std::string(message));
}

// Every packet width of this build, widest first.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // packets' alignment, as template arguments
template <typename P>
void measure_all(const Function& f, const std::string& range, const Points& xs) {
  measure<P>(f, range, xs);
  using Half = typename Eigen::internal::unpacket_traits<P>::half;
  if constexpr (!std::is_same_v<Half, P>) measure_all<Half>(f, range, xs);
}
#pragma GCC diagnostic pop

void measure(const Function& f, const std::string& range, const Points& xs) {
  measure_all<Eigen::internal::packet_traits<double>::type>(f, range, xs);
}

std::mt19937_64& rng() {
  static std::mt19937_64 r(20261203);
  return r;
}

Points uniform(double lo, double hi, size_t n) {
  std::uniform_real_distribution<double> u(lo, hi);
  Points xs(n);
  for (double& x : xs) x = u(rng());
  return xs;
}

// Doubles drawn uniformly by bit pattern between 0 and hi (so every binade below hi equally, the
// subnormals included), each with a random sign if signed.
Points by_bits(double hi, size_t n, bool signed_) {
  std::uniform_int_distribution<std::uint64_t> u(0, bits(hi));
  Points xs(n);
  for (double& x : xs) x = from_bits(u(rng()) | (signed_ && (rng()() & 1) ? 1ULL << 63 : 0));
  return xs;
}

// Every double from `count` steps below x to `count` steps above it.
Points around(double x, size_t count) {
  Points xs;
  double lo = x;
  for (size_t i = 0; i < count; ++i) lo = std::nextafter(lo, -INFINITY);
  for (size_t i = 0; i <= 2 * count; ++i, lo = std::nextafter(lo, INFINITY)) xs.push_back(lo);
  return xs;
}

Points specials() {
  const double inf = INFINITY, nan = std::numeric_limits<double>::quiet_NaN();
  Points xs = {0.0, -0.0, inf, -inf, nan, -nan, DBL_MIN, -DBL_MIN, DBL_MAX, -DBL_MAX, DBL_TRUE_MIN, -DBL_TRUE_MIN,
               1.0, -1.0, 0.625, -0.625, 19.0, 20.0, -20.0, 700.0, 709.0, 710.0, -708.0, -745.0, -746.0, 1e300, -1e300};
  return xs;
}

void test_tanh() {
  const Function f{"tanh", [](long double x) { return std::tanh(x); }};
  measure(f, "special values", specials());
  measure(f, "|x| < 1e-8 by bits (subnormals included)", by_bits(1e-8, 2'000'000, true));
  measure(f, "2^20 doubles either side of 2^-27", around(std::ldexp(1.0, -27), 1 << 20));
  measure(f, "2^20 doubles either side of 0.625 (the branch)", around(0.625, 1 << 20));
  measure(f, "2^20 doubles either side of -0.625", around(-0.625, 1 << 20));
  measure(f, "uniform in [0.5, 0.75]", uniform(0.5, 0.75, 2'000'000));
  measure(f, "uniform in [-5, 5]", uniform(-5.0, 5.0, 4'000'000));
  measure(f, "uniform in [18, 21] (saturation)", uniform(18.0, 21.0, 2'000'000));
  measure(f, "2^20 doubles either side of 19.0615 (rounds to 1)", around(19.0615, 1 << 20));
  measure(f, "2^16 doubles either side of 20 (the clamp)", around(20.0, 1 << 16));
  measure(f, "random bit patterns (NaN included)", by_bits(from_bits(~0ULL >> 1), 4'000'000, true));
}

void test_exp() {
  const Function f{"exp", [](long double x) { return std::exp(x); }};
  measure(f, "special values", specials());
  measure(f, "|x| < 1e-8 by bits (subnormals included)", by_bits(1e-8, 2'000'000, true));
  measure(f, "uniform in [-1, 1]", uniform(-1.0, 1.0, 2'000'000));
  measure(f, "uniform in [-750, 750]", uniform(-750.0, 750.0, 4'000'000));
  measure(f, "uniform in [700, 710] (overflow)", uniform(700.0, 710.0, 2'000'000));
  measure(f, "2^20 doubles either side of 709.7827 (overflow)", around(709.782712893384, 1 << 20));
  measure(f, "uniform in [-746, -700] (subnormal results)", uniform(-746.0, -700.0, 2'000'000));
  measure(f, "2^20 doubles either side of -708.3964 (subnormal)", around(-708.39641853226408, 1 << 20));
  measure(f, "2^20 doubles either side of -745.1332 (to 0)", around(-745.13321910194111, 1 << 20));
  // The reduction's branch points: x = (k + 1/2) ln 2, where n = round(x / ln 2) changes.
  Points halfway;
  for (int k = -1076; k <= 1024; ++k) {
    const Points near = around((k + 0.5) * 0.69314718055994531, 200);
    halfway.insert(halfway.end(), near.begin(), near.end());
  }
  measure(f, "400 doubles around each (k + 1/2) ln 2", halfway);
  measure(f, "random bit patterns (NaN included)", by_bits(from_bits(~0ULL >> 1), 4'000'000, true));
}

// The single-value forms go through the narrowest packet and must equal a lane of the widest.
void test_scalars() {
  using P = Eigen::internal::packet_traits<double>::type;
  const Points xs = uniform(-30.0, 30.0, 1 << 16);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double t = Eigen::internal::pfirst(elman::vmath::tanh(Eigen::internal::pset1<P>(xs[i])));
    const double e = Eigen::internal::pfirst(elman::vmath::exp(Eigen::internal::pset1<P>(xs[i])));
    CHECK(bits(elman::vmath::tanh(xs[i])) == bits(t));
    CHECK(bits(elman::vmath::exp(xs[i])) == bits(e));
  }
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::signbit(elman::vmath::tanh(-0.0)) && elman::vmath::tanh(-0.0) == 0.0);
  CHECK(elman::vmath::tanh(-inf) == -1.0 && elman::vmath::exp(-inf) == 0.0);
  CHECK(std::isinf(elman::vmath::exp(inf)) && std::isnan(elman::vmath::tanh(nan)));
}

}  // namespace

int main() {
  test_tanh();
  test_exp();
  test_scalars();
  return check::report("test_vmath");
}
