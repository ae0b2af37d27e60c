// One direction of one recurrent layer over a whole batch of sequences:
//   A_t = X_t W_xh^T + b_h + H_(t-1) W_hh^T,   H_t = f(A_t)
// Only the recurrent product is inside the time loop; the input projection and every weight
// gradient are single products over all T*B rows (DESIGN.md, "only the recurrence is sequential").
#pragma once

#include "elman/tensor.hpp"

namespace elman {

template <typename S>
struct LayerWeights {
  ConstMatMap<S> W_xh;  // (H, I)
  ConstMatMap<S> W_hh;  // (H, H)
  ConstRowMap<S> b_h;   // (H)
};

template <typename S>
struct LayerGrads {
  MatMap<S> W_xh;  // (H, I)
  MatMap<S> W_hh;  // (H, H)
  RowMap<S> b_h;   // (H)
};

// In place on a block of pre-activations.
template <typename Block>
void activate(Block&& a, Nonlinearity f) {
  using S = typename std::decay_t<Block>::Scalar;
  if (f == Nonlinearity::Tanh)
    a = a.array().tanh().matrix();
  else
    a = a.array().max(S(0)).matrix();
}

// Multiplies dL/dH by f'(A) in place, f' taken from the stored output H = f(A).
template <typename Block, typename Out>
void activate_backward(Block&& d, const Out& h, Nonlinearity f) {
  using S = typename std::decay_t<Block>::Scalar;
  if (f == Nonlinearity::Tanh)
    d.array() *= S(1) - h.array().square();
  else
    d.array() *= (h.array() > S(0)).template cast<S>();
}

// x is (T*B, I) or tokens; out is (T*B, H), this direction's columns of the layer output;
// state is (B, H): h0 on entry, h_n (the state after each sequence's last valid step) on exit.
// Padded steps leave the state untouched and output 0. The reverse direction runs t = T-1..0, so a
// padded sequence starts at its own last valid step.
template <typename S>
void rnn_forward(const LayerInput<S>& x, const LayerWeights<S>& w, Nonlinearity f, const Steps& s,
                 bool reverse, MatMap<S> out, MatMap<S> state) {
  const Index B = s.batch, T = s.steps;
  if (x.tokens) {
    for (Index r = 0; r < s.rows(); ++r) {
      out.row(r) = w.b_h;
      if (s.valid_row(r)) out.row(r) += w.W_xh.col(x.tokens[r]).transpose();
    }
  } else {
    out.noalias() = cmat(x.dense, s.rows(), w.W_xh.cols(), x.ld) * w.W_xh.transpose();
    out.rowwise() += w.b_h;
  }
  for (Index i = 0; i < T; ++i) {
    const Index t = reverse ? T - 1 - i : i;
    auto a = out.middleRows(t * B, B);  // (B, H)
    a.noalias() += state * w.W_hh.transpose();
    activate(a, f);
    if (!s.lengths) {
      state = a;
      continue;
    }
    for (Index b = 0; b < B; ++b) {
      if (s.valid(t, b))
        state.row(b) = a.row(b);
      else
        a.row(b).setZero();
    }
  }
}

// da holds dL/dH (T*B, H) on entry and dL/dA on exit; out is rnn_forward's output; h0 is (B, H) or
// null for zeros; dstate is (B, H) scratch. Adds into the gradients, and into dx (T*B, I) if given.
// flow (T), if given, receives ||dL/dh_t|| over the batch: the total gradient reaching each state.
template <typename S>
void rnn_backward(const LayerInput<S>& x, const LayerWeights<S>& w, Nonlinearity f, const Steps& s,
                  bool reverse, const MatMap<S>& out, const S* h0, MatMap<S> da, MatMap<S> dstate,
                  LayerGrads<S> g, MatMap<S>* dx, S* flow = nullptr) {
  const Index B = s.batch, T = s.steps;
  dstate.setZero();
  for (Index i = 0; i < T; ++i) {
    const Index t = reverse ? i : T - 1 - i;  // the forward pass's order, backwards
    auto d = da.middleRows(t * B, B);
    d += dstate;
    if (s.lengths)
      for (Index b = 0; b < B; ++b)
        if (!s.valid(t, b)) d.row(b).setZero();
    if (flow) flow[t] = d.norm();
    activate_backward(d, out.middleRows(t * B, B), f);
    if (i + 1 < T) dstate.noalias() = d * w.W_hh;
  }

  if (x.tokens) {
    for (Index r = 0; r < s.rows(); ++r)
      if (s.valid_row(r)) g.W_xh.col(x.tokens[r]) += da.row(r).transpose();
  } else {
    g.W_xh.noalias() += da.transpose() * cmat(x.dense, s.rows(), w.W_xh.cols(), x.ld);
  }
  g.b_h += da.colwise().sum();

  // Step t's previous state is the output of step t-1 (t+1 in reverse); a padded neighbour's output
  // is 0, and the first step of each sequence takes h0 instead.
  const Index shifted = (T - 1) * B;
  if (shifted > 0) {
    if (reverse)
      g.W_hh.noalias() += da.topRows(shifted).transpose() * out.bottomRows(shifted);
    else
      g.W_hh.noalias() += da.bottomRows(shifted).transpose() * out.topRows(shifted);
  }
  if (h0) {
    for (Index b = 0; b < B; ++b) {
      const Index first = reverse ? s.length(b) - 1 : 0;
      if (s.length(b) > 0)
        dstate.row(b) = da.row(first * B + b);
      else
        dstate.row(b).setZero();
    }
    g.W_hh.noalias() += dstate.transpose() * cmat(h0, B, w.W_hh.cols());
  }

  if (dx) dx->noalias() += da * w.W_xh;
}

}  // namespace elman
