"""The polynomial coefficients of cpp/include/elman/vmath.hpp: Chebyshev fits in 50-digit arithmetic
(mpmath.chebyfit), rounded to double, with the worst approximation error of the rounded polynomial
on a dense grid, in units of 2^-53 relative to the function's value.

    python cpp/tools/vmath_coefficients.py      # needs mpmath
"""

import mpmath as mp

mp.mp.dps = 50
UNIT = mp.mpf(2) ** -53
EXP_R = mp.mpf("0.35")  # |r| after exp's reduction is at most ln(2)/2 = 0.3466
TANH_SMALL = mp.mpf("0.625")  # vmath.hpp's tanh_small


def exp_q(r):
    """(e^r - 1 - r) / r^2, so that e^r = 1 + r + r^2 q(r)."""
    return mp.mpf(1) / 2 if r == 0 else (mp.exp(r) - 1 - r) / (r * r)


def tanh_g(s):
    """(tanh x - x) / x^3 for x = sqrt(s), so that tanh x = x + x^3 g(x^2)."""
    if s == 0:
        return -mp.mpf(1) / 3
    x = mp.sqrt(s)
    return (mp.tanh(x) - x) / (x * s)


def fit(f, a, b, terms):
    coefficients, _ = mp.chebyfit(f, [a, b], terms, error=True)
    return [float(c) for c in coefficients]  # highest degree first


def worst(error, a, b, points=20001):
    return max(error(a + (b - a) * mp.mpf(i) / (points - 1)) for i in range(points))


def main():
    for terms in (10, 11):
        q = fit(exp_q, -EXP_R, EXP_R, terms)
        err = worst(lambda r, q=q: abs(r * r * (mp.polyval(q, r) - exp_q(r))) / mp.exp(r) / UNIT, -EXP_R, EXP_R)
        print(f"exp: q of degree {terms - 1}, worst error {float(err):.4f} units")
        print("  " + ", ".join(repr(c) for c in q))
    for terms in (11, 12):
        g = fit(tanh_g, 0, TANH_SMALL**2, terms)
        err = worst(lambda x, g=g: abs(x**3 * (mp.polyval(g, x * x) - tanh_g(x * x))) / mp.tanh(x) / UNIT
                    if x else 0, 0, TANH_SMALL)  # fmt: skip
        print(f"tanh: g of degree {terms - 1}, worst error {float(err):.4f} units")
        print("  " + ", ".join(repr(c) for c in g))


if __name__ == "__main__":
    main()
