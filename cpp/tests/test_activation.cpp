// The activations over a dense sweep of inputs. float's tanh is Eigen's vectorized approximation,
// which must stay within 1e-6 relative of the exact value; double's is vmath.hpp's, within 2 ulp of
// long double std::tanh (test_vmath.cpp measures it more densely).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "check.hpp"
#include "elman/rnn_layer.hpp"

namespace {

template <typename S>
std::vector<S> sweep() {
  const long n = 1 << 20;
  std::vector<S> v(n);
  for (long i = 0; i < n; ++i) v[i] = static_cast<S>(-12.0 + 24.0 * i / n);
  v.push_back(S(0));
  v.push_back(S(1e-30));
  v.push_back(S(-1e-6));
  return v;
}

// f over v as the forward recurrence applies it, in packets (v as one long row) or one element at a
// time (v as a column): both must meet the same bounds.
template <typename S>
std::vector<S> activated(std::vector<S> v, elman::Nonlinearity f, bool packets) {
  const auto n = static_cast<elman::Index>(v.size());
  elman::apply_epilogue(elman::Activation<S>{f}, packets ? elman::mat(v.data(), 1, n) : elman::mat(v.data(), n, 1));
  return v;
}

void tanh_float(bool packets) {
  const std::vector<float> x = sweep<float>(), y = activated(x, elman::Nonlinearity::Tanh, packets);
  double worst = 0.0, at = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double exact = std::tanh(static_cast<double>(x[i]));
    const double rel = exact == 0.0 ? std::abs(y[i]) : std::abs(y[i] - exact) / std::abs(exact);
    if (rel > worst) worst = rel, at = x[i];
  }
  char message[80];
  std::snprintf(message, sizeof message, "relative error %.3g at x = %.9g", worst, at);
  CHECK_MSG(worst <= 1e-6, std::string(message));
}

void tanh_double(bool packets) {
  const std::vector<double> x = sweep<double>(), y = activated(x, elman::Nonlinearity::Tanh, packets);
  double worst = 0.0, at = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    const long double exact = std::tanh(static_cast<long double>(x[i]));
    const int e = exact == 0 ? -1022 : std::max(std::ilogb(exact), -1022);
    const double ulp = static_cast<double>(std::fabs(y[i] - exact) / std::ldexp(1.0L, e - 52));
    if (ulp > worst) worst = ulp, at = x[i];
  }
  char message[80];
  std::snprintf(message, sizeof message, "%.3f ulp at x = %.17g", worst, at);
  CHECK_MSG(worst <= 2.0, std::string(message));
}

void relu(bool packets) {
  const std::vector<double> x = sweep<double>(), y = activated(x, elman::Nonlinearity::Relu, packets);
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == std::max(x[i], 0.0));
}

}  // namespace

int main() {
  for (bool packets : {true, false}) {
    tanh_float(packets);
    tanh_double(packets);
    relu(packets);
  }
  return check::report("test_activation");
}
