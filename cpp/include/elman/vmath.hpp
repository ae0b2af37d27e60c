// exp and tanh of double packets (Eigen's packet layer: Packet2d, Packet4d, Packet8d), for the
// recurrence's activation in double, where Eigen has no vectorized tanh. Both are within 2 ulp over
// the whole double range (cpp/tests/test_vmath.cpp measures it against long double at many million
// points); the polynomials come from cpp/tools/vmath_coefficients.py.
#pragma once

#include <type_traits>

#include <Eigen/Core>

namespace elman::vmath {

namespace detail {

using namespace Eigen::internal;

// c[0] x^(N-1) + ... + c[N-1], by Horner's rule.
template <typename P, int N>
EIGEN_ALWAYS_INLINE P horner(const P& x, const double (&c)[N]) {
  P p = pset1<P>(c[0]);
  for (int i = 1; i < N; ++i) p = pmadd(p, x, pset1<P>(c[i]));
  return p;
}

// e^x for x in [-746, 710] (no NaN); the caller handles the rest of the range.
//
// Reduction: x = n ln2 + r, n = round(x / ln2), |r| <= ln2 / 2 (Cody and Waite: ln2 = C1 + C2, C1 having
// 42 significant bits, so that n C1 is exact for |n| < 2^11 and x - n C1 is exact by Sterbenz's lemma;
// the error of C1 + C2 is below 2^-95, times n below 2^-84 in r).
// e^r = 1 + r + r^2 q(r), q a degree-10 Chebyshev fit of (e^r - 1 - r) / r^2 on [-0.35, 0.35]
// (approximation error below 0.004 units of 2^-53 relative); 1 + (r + r^2 q) adds the large terms last,
// so that the rounding of the smaller ones counts little. Then e^x = 2^n e^r by Eigen's pldexp, exact
// except where the result is subnormal (one rounding there).
// Error: the final addition rounds by at most 0.5 ulp; r + r^2 q, at most 0.42 in magnitude, adds at
// most 0.25 ulp of the result, the reduction's rounding (0.5 ulp of r) at most 0.18: below 1 ulp.
template <typename P>
EIGEN_ALWAYS_INLINE P exp_kernel(const P& x) {
  static constexpr double q[] = {2.0915433598076003e-09, 2.5106262550879078e-08, 2.755727183153613e-07,
                                 2.755725286336732e-06,  2.480158732699005e-05,  0.00019841269876840357,
                                 0.0013888888888883332,  0.008333333333325551,   0.04166666666666667,
                                 0.1666666666666667,     0.5};
  // Adding and subtracting 1.5 * 2^52 rounds to the nearest integer (|x / ln2| < 2^51).
  const P round = pset1<P>(6755399441055744.0);
  const P n = psub(pmadd(x, pset1<P>(1.4426950408889634), round), round);
  P r = psub(x, pmul(n, pset1<P>(0.6931471805598903)));
  r = psub(r, pmul(n, pset1<P>(5.497923018708371e-14)));
  const P p = padd(pmadd(pmul(r, r), horner(r, q), r), pset1<P>(1.0));
  return pldexp(p, n);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // packets' alignment, as template arguments
// The narrowest packet type of P's family (Packet2d on SSE2 and NEON), for single values.
template <typename P, typename Half = typename unpacket_traits<P>::half>
struct Narrowest {
  using type = typename Narrowest<Half>::type;
};

template <typename P>
struct Narrowest<P, P> {
  using type = P;
};

using Packet = typename Narrowest<typename packet_traits<double>::type>::type;
static_assert(!std::is_same_v<Packet, double>, "vmath needs SIMD packets of doubles");
#pragma GCC diagnostic pop

// The lanes of a where a is not NaN, else those of x (which is NaN there).
template <typename P>
EIGEN_ALWAYS_INLINE P keep_nan(const P& x, const P& a) {
  return pselect(pcmp_eq(x, x), a, x);
}

}  // namespace detail

// e^x for every lane: +inf above 709.78, 0 below -745.13 (subnormal in between, as the exact value
// rounds), NaN for NaN. Within 1 ulp (see exp_kernel).
template <typename P>
P exp(const P& x) {
  using namespace Eigen::internal;
  static_assert(std::is_same_v<typename unpacket_traits<P>::type, double>, "a packet of doubles");
  // Past the clamps e^x is inf or 0 in double: 2^n e^r with n = 1025 or -1076 rounds to them.
  const P xc = pmin(pmax(x, pset1<P>(-746.0)), pset1<P>(710.0));
  return detail::keep_nan(x, detail::exp_kernel(xc));
}

// tanh x for every lane, odd, tanh(+-0) = +-0, +-1 from |x| >= 19.07 (where 1 - tanh|x| < 2^-54) and
// at +-inf, NaN for NaN.
//
// |x| < 0.625: tanh x = x + x^3 g(x^2), g a degree-11 Chebyshev fit of (tanh x - x) / x^3 in x^2 on
// [0, 0.625^2] (approximation error below 0.08 units of 2^-53 relative). The correction x^3 g is at most
// 0.13 x, so its roundings add little to the final addition's 0.5 ulp; for tiny x (|x| < 2^-27 and
// below, subnormals included) it vanishes and tanh x = x, with no cancellation.
// |x| >= 0.625: tanh |x| = 1 - 2 / (e^(2|x|) + 1), |x| clamped at 20. The result is at least 0.55, so the
// error of 2 / (e^(2|x|) + 1) <= 0.45 (about 3 units of 2^-53 relative: exp, the addition and the
// division) becomes at most 1.4 ulp of the result, and the subtraction adds 0.5: below 2 ulp, and
// much less except just past 0.625.
// A packet whose lanes all lie on one side of 0.625 computes only that side.
template <typename P>
P tanh(const P& x) {
  using namespace Eigen::internal;
  static_assert(std::is_same_v<typename unpacket_traits<P>::type, double>, "a packet of doubles");
  static constexpr double g[] = {6.485163482793113e-06,  -3.12011014257974e-05,   9.257116129556769e-05,
                                 -0.0002375906496055562, 0.0005896606577757043,   -0.0014557754120478055,
                                 0.0035921217511549622,  -0.008863235103240878,   0.021869488519008305,
                                 -0.05396825396789699,   0.13333333333333042,     -0.3333333333333333};
  const P tanh_small = pset1<P>(0.625);
  const P ax = pabs(x), sign = pand(x, pset1<P>(-0.0));
  auto small = [&] {
    const P s = pmul(ax, ax);
    return pmadd(pmul(ax, s), detail::horner(s, g), ax);
  };
  auto large = [&] {
    const P e = detail::exp_kernel(padd(pmin(ax, pset1<P>(20.0)), pmin(ax, pset1<P>(20.0))));
    return psub(pset1<P>(1.0), pdiv(pset1<P>(2.0), padd(e, pset1<P>(1.0))));
  };
  // A NaN lane compares false both ways and ends as NaN in either branch.
  const P is_small = pcmp_lt(ax, tanh_small);
  if (!predux_any(pcmp_le(tanh_small, ax))) return por(small(), sign);
  const P t = predux_any(is_small) ? pselect(is_small, small(), large()) : large();
  return detail::keep_nan(x, por(t, sign));
}

// Single values, through the narrowest packet: the same result as in any lane of a wider one.
inline double exp(double x) { return Eigen::internal::pfirst(exp(Eigen::internal::pset1<detail::Packet>(x))); }
inline double tanh(double x) { return Eigen::internal::pfirst(tanh(Eigen::internal::pset1<detail::Packet>(x))); }

}  // namespace elman::vmath
