// The output head y = h W^T + b over all T*B rows at once.
#pragma once

#include "elman/gemm.hpp"
#include "elman/parallel.hpp"
#include "elman/tensor.hpp"

namespace elman {

// h is (N, K), W (O, K), b (O), y (N, O). Threads take rows.
template <typename S>
void linear_forward(const MatMap<S>& h, const ConstMatMap<S>& W, const ConstRowMap<S>& b, MatMap<S> y) {
  parallel_for(h.rows(), double(h.rows()) * W.rows() * W.cols(), [&](Index r0, Index r1) {
    gemm(h.middleRows(r0, r1 - r0), W.transpose(), y.middleRows(r0, r1 - r0), false, AddRow<S>{b.data()});
  });
}

// Adds into dW (O, K) and db (O); overwrites dh (N, K) with dL/dh. Threads take rows of dW, then of dh.
template <typename S>
void linear_backward(const MatMap<S>& dy, const MatMap<S>& h, const ConstMatMap<S>& W, MatMap<S> dW,
                     RowMap<S> db, MatMap<S> dh) {
  const double work = double(dy.rows()) * W.rows() * W.cols();
  parallel_for(W.rows(), work, [&](Index o0, Index o1) {
    gemm(dy.middleCols(o0, o1 - o0).transpose(), h, dW.middleRows(o0, o1 - o0), true);
    db.segment(o0, o1 - o0) += dy.middleCols(o0, o1 - o0).colwise().sum();
  });
  parallel_for(dy.rows(), work, [&](Index r0, Index r1) {
    gemm(dy.middleRows(r0, r1 - r0), W, dh.middleRows(r0, r1 - r0), false);
  });
}

}  // namespace elman
