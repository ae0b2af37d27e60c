// Gradient clipping on small arrays worked out by hand.
#include <algorithm>
#include <cmath>
#include <vector>

#include "check.hpp"
#include "elman/clip.hpp"

namespace {

using Spans = std::vector<elman::Span<double>>;

bool near(double a, double b) { return std::abs(a - b) <= 1e-15 * std::max(1.0, std::abs(b)); }

void clip_value() {
  std::vector<double> g = {-3.0, 0.5, 2.0, -0.2, 1.0};
  elman::clip_grad_value(g.data(), 5, 1.0);
  CHECK((g == std::vector<double>{-1.0, 0.5, 1.0, -0.2, 1.0}));

  elman::clip_grad_value(g.data(), 5, 0.0);
  for (double v : g) CHECK(v == 0.0);

  // Two spans, clipped element by element just as one array would be.
  std::vector<double> a = {5.0, -0.25}, b = {-7.0};
  elman::clip_grad_value(Spans{{a.data(), 2}, {b.data(), 1}}, 0.5);
  CHECK((a == std::vector<double>{0.5, -0.25}));
  CHECK(b[0] == -0.5);
}

void clip_norm() {
  std::vector<double> g = {3.0, 4.0};
  double total = elman::clip_grad_norm(g.data(), 2, 1.0);
  CHECK(near(total, 5.0));
  CHECK(near(g[0], 3.0 / (5.0 + 1e-6)));
  CHECK(near(g[1], 4.0 / (5.0 + 1e-6)));

  // Below the threshold nothing changes, but the norm is still returned.
  g = {3.0, 4.0};
  total = elman::clip_grad_norm(g.data(), 2, 10.0);
  CHECK(near(total, 5.0));
  CHECK((g == std::vector<double>{3.0, 4.0}));

  // The spans {1, 2} and {2} have one total norm, 3, and share one scale factor.
  std::vector<double> a = {1.0, 2.0}, b = {2.0};
  total = elman::clip_grad_norm(Spans{{a.data(), 2}, {b.data(), 1}}, 1.5);
  const double coef = 1.5 / (3.0 + 1e-6);
  CHECK(near(total, 3.0));
  CHECK(near(a[0], 1.0 * coef));
  CHECK(near(a[1], 2.0 * coef));
  CHECK(near(b[0], 2.0 * coef));
  CHECK(near(elman::grad_norm(Spans{{a.data(), 2}, {b.data(), 1}}), 3.0 * coef));

  // All zeros: norm 0, nothing to scale, no division by zero.
  std::vector<double> z = {0.0, 0.0, 0.0};
  total = elman::clip_grad_norm(z.data(), 3, 1.0);
  CHECK(total == 0.0);
  for (double v : z) CHECK(v == 0.0);

  // max_norm 0 zeroes everything.
  g = {3.0, -4.0};
  elman::clip_grad_norm(g.data(), 2, 0.0);
  CHECK(g[0] == 0.0 && g[1] == 0.0);
}

}  // namespace

int main() {
  clip_value();
  clip_norm();
  return check::report("clip");
}
