// Losses over the (T*B, O) outputs, padded steps excluded. Each *_forward returns the loss; each
// *_backward writes dL/dy for every row (0 on padded or ignored rows).
#pragma once

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "elman/tensor.hpp"

namespace elman {

enum class Loss { MSE, CrossEntropy };
enum class Reduction { Mean, Sum };

constexpr std::int64_t ignore_index = -100;

inline Loss parse_loss(const std::string& name) {
  if (name == "mse") return Loss::MSE;
  if (name == "cross_entropy") return Loss::CrossEntropy;
  throw std::invalid_argument("loss is '" + name + "'; expected 'mse' or 'cross_entropy'");
}

inline Reduction parse_reduction(const std::string& name) {
  if (name == "mean") return Reduction::Mean;
  if (name == "sum") return Reduction::Sum;
  throw std::invalid_argument("reduction is '" + name + "'; expected 'mean' or 'sum'");
}

// What "mean" divides by: every valid (t, b, o) for MSE, every valid non-ignored (t, b) for
// cross-entropy. A batch with nothing to average has loss 0 and zero gradients.
inline double reduction_scale(Reduction r, Index count) {
  if (r == Reduction::Sum) return 1.0;
  return count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
}

// y and target are (N, O).
template <typename S>
double mse_forward(const MatMap<S>& y, const ConstMatMap<S>& target, const Steps& s, Reduction r) {
  double total = 0.0;
  Index count = 0;
  if (!s.lengths) {
    total = static_cast<double>((y - target).squaredNorm());
    count = y.size();
  } else {
    for (Index row = 0; row < y.rows(); ++row) {
      if (!s.valid_row(row)) continue;
      total += static_cast<double>((y.row(row) - target.row(row)).squaredNorm());
      count += y.cols();
    }
  }
  return total * reduction_scale(r, count);
}

template <typename S>
void mse_backward(const MatMap<S>& y, const ConstMatMap<S>& target, const Steps& s, Reduction r,
                  MatMap<S> dy) {
  Index valid_rows = 0;
  for (Index row = 0; row < y.rows(); ++row) valid_rows += s.valid_row(row);
  const S scale = static_cast<S>(2.0 * reduction_scale(r, valid_rows * y.cols()));
  dy.noalias() = scale * (y - target);
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
double cross_entropy_forward(const MatMap<S>& y, const std::int64_t* classes, const Steps& s,
                             Reduction r, MatMap<S> probs) {
  double total = 0.0;
  Index count = 0;
  for (Index row = 0; row < y.rows(); ++row) {
    if (!counts_for_loss(s, classes, row)) continue;
    const S top = y.row(row).maxCoeff();
    probs.row(row) = (y.row(row).array() - top).exp().matrix();
    const S log_sum = std::log(probs.row(row).sum());
    probs.row(row) /= probs.row(row).sum();
    total += static_cast<double>(top + log_sum - y(row, classes[row]));
    ++count;
  }
  return total * reduction_scale(r, count);
}

// dy holds cross_entropy_forward's probs on entry.
template <typename S>
void cross_entropy_backward(const std::int64_t* classes, const Steps& s, Reduction r, MatMap<S> dy) {
  Index count = 0;
  for (Index row = 0; row < dy.rows(); ++row) count += counts_for_loss(s, classes, row);
  const S scale = static_cast<S>(reduction_scale(r, count));
  for (Index row = 0; row < dy.rows(); ++row) {
    if (!counts_for_loss(s, classes, row)) {
      dy.row(row).setZero();
      continue;
    }
    dy(row, classes[row]) -= S(1);
    dy.row(row) *= scale;
  }
}

}  // namespace elman
