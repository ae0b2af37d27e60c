// Losses over the (T*B, O) outputs, padded steps excluded. Each *_forward returns the loss; each
// *_backward writes dL/dy for every row (0 on padded or ignored rows).
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "elman/tensor.hpp"

namespace elman {

enum class Loss { MSE, CrossEntropy, GaussianNLL };
enum class Reduction { Mean, Sum };

constexpr std::int64_t ignore_index = -100;

inline Loss parse_loss(const std::string& name) {
  if (name == "mse") return Loss::MSE;
  if (name == "cross_entropy") return Loss::CrossEntropy;
  if (name == "gaussian_nll") return Loss::GaussianNLL;
  throw std::invalid_argument("loss is '" + name + "'; expected 'mse', 'cross_entropy' or 'gaussian_nll'");
}

// The width of a target row for an output of width O: O values for MSE, O / 2 for the Gaussian NLL
// (whose output is a mean and a log-variance per target, so O must be even), none (one class per row)
// for cross-entropy.
inline Index target_width(Loss loss, Index O) {
  if (loss == Loss::MSE) return O;
  if (loss == Loss::CrossEntropy) return 0;
  if (O % 2 != 0)
    throw std::invalid_argument("loss 'gaussian_nll' needs an even output_size (a mean and a log-variance per "
                                "target); the model has output_size " + std::to_string(O));
  return O / 2;
}

inline Reduction parse_reduction(const std::string& name) {
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  throw std::invalid_argument("reduction is '" + name + "'; expected 'mean' or 'sum'");
}

// A loss before its reduction: the sum over the counted positions and how many were counted (every
// valid (t, b, o) for MSE, every valid non-ignored (t, b) for cross-entropy, every valid (t, b, k) for
// the Gaussian NLL). "mean" divides by the
// count; a batch with nothing to count has loss 0 and zero gradients. The backward functions take the
// scale of the reduction, so that sums and counts gathered from several batches can be reduced as one.
struct LossSum {
  double total = 0.0;
  Index count = 0;

  double scale(Reduction r) const {
    if (r == Reduction::Sum) return 1.0;
    return count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
  }
  double value(Reduction r) const { return total * scale(r); }
};

// y and target are (N, O).
template <typename S>
LossSum mse_forward(const MatMap<S>& y, const ConstMatMap<S>& target, const Steps& s) {
  LossSum sum;
  if (!s.lengths) {
    sum.total = static_cast<double>((y - target).squaredNorm());
    sum.count = y.size();
    return sum;
  }
  for (Index row = 0; row < y.rows(); ++row) {
    if (!s.valid_row(row)) continue;
    sum.total += static_cast<double>((y.row(row) - target.row(row)).squaredNorm());
    sum.count += y.cols();
  }
  return sum;
}

// dy = scale * d(sum of squares)/dy, 0 on padded rows.
template <typename S>
void mse_backward(const MatMap<S>& y, const ConstMatMap<S>& target, const Steps& s, double scale, MatMap<S> dy) {
  dy.noalias() = static_cast<S>(2.0 * scale) * (y - target);
  if (s.lengths)
    for (Index row = 0; row < y.rows(); ++row)
      if (!s.valid_row(row)) dy.row(row).setZero();
}

inline bool counts_for_loss(const Steps& s, const std::int64_t* classes, Index row) {
  return s.valid_row(row) && classes[row] != ignore_index;
}

// Softmax cross-entropy with class indices (N); probs (N, O) receives the softmax of each counted
// row for the backward pass.
template <typename S>
LossSum cross_entropy_forward(const MatMap<S>& y, const std::int64_t* classes, const Steps& s, MatMap<S> probs) {
  LossSum sum;
  for (Index row = 0; row < y.rows(); ++row) {
    if (!counts_for_loss(s, classes, row)) continue;
    const S top = y.row(row).maxCoeff();
    probs.row(row) = (y.row(row).array() - top).exp().matrix();
    const S log_sum = std::log(probs.row(row).sum());
    probs.row(row) /= probs.row(row).sum();
    sum.total += static_cast<double>(top + log_sum - y(row, classes[row]));
    ++sum.count;
  }
  return sum;
}

// dy holds cross_entropy_forward's probs on entry; on exit scale * dL/dy, 0 on rows not counted.
template <typename S>
void cross_entropy_backward(const std::int64_t* classes, const Steps& s, double scale, MatMap<S> dy) {
  const S k = static_cast<S>(scale);
  for (Index row = 0; row < dy.rows(); ++row) {
    if (!counts_for_loss(s, classes, row)) {
      dy.row(row).setZero();
      continue;
    }
    dy(row, classes[row]) -= S(1);
    dy.row(row) *= k;
  }
}

// Gaussian negative log-likelihood: y (N, 2K) holds the mean mu (columns 0..K-1) and the log-variance
// v (columns K..2K-1) of each target (N, K); each counted element adds 0.5 * (v + (target - mu)^2 / e^v),
// torch.nn.GaussianNLLLoss (full=False) of var = e^v. The log-variance keeps the variance positive
// without a clamp.
template <typename S>
LossSum gaussian_nll_forward(const MatMap<S>& y, const ConstMatMap<S>& target, const Steps& s) {
  const Index K = target.cols();
  LossSum sum;
  for (Index row = 0; row < y.rows(); ++row) {
    if (!s.valid_row(row)) continue;
    for (Index k = 0; k < K; ++k) {
      const double r = static_cast<double>(target(row, k)) - static_cast<double>(y(row, k));
      const double v = static_cast<double>(y(row, K + k));
      sum.total += 0.5 * (v + r * r * std::exp(-v));
    }
    sum.count += K;
  }
  return sum;
}

// dy = scale * dL/dy: d/dmu = (mu - target) / e^v, d/dv = 0.5 * (1 - (target - mu)^2 / e^v); 0 on padded rows.
template <typename S>
void gaussian_nll_backward(const MatMap<S>& y, const ConstMatMap<S>& target, const Steps& s, double scale,
                           MatMap<S> dy) {
  const Index K = target.cols();
  for (Index row = 0; row < y.rows(); ++row) {
    if (!s.valid_row(row)) {
      dy.row(row).setZero();
      continue;
    }
    for (Index k = 0; k < K; ++k) {
      const double r = static_cast<double>(y(row, k)) - static_cast<double>(target(row, k));
      const double precision = std::exp(-static_cast<double>(y(row, K + k)));
      dy(row, k) = static_cast<S>(scale * r * precision);
      dy(row, K + k) = static_cast<S>(scale * 0.5 * (1.0 - r * r * precision));
    }
  }
}

}  // namespace elman
