// The output head y = h W^T + b over all T*B rows at once.
#pragma once

#include "elman/tensor.hpp"

namespace elman {

// h is (N, K), W (O, K), b (O), y (N, O).
template <typename S>
void linear_forward(const MatMap<S>& h, const ConstMatMap<S>& W, const ConstRowMap<S>& b, MatMap<S> y) {
  y.noalias() = h * W.transpose();
  y.rowwise() += b;
}

// Adds into dW (O, K) and db (O); overwrites dh (N, K) with dL/dh.
template <typename S>
void linear_backward(const MatMap<S>& dy, const MatMap<S>& h, const ConstMatMap<S>& W, MatMap<S> dW,
                     RowMap<S> db, MatMap<S> dh) {
  dW.noalias() += dy.transpose() * h;
  db += dy.colwise().sum();
  dh.noalias() = dy * W;
}

}  // namespace elman
