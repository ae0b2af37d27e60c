// One direction of one recurrent layer over a whole batch of sequences:
//   A_t = X_t W_xh^T + b_h + H_(t-1) W_hh^T,   H_t = f(A_t)
// Only the recurrent product is inside the time loop; the input projection and every weight
// gradient are single products over all T*B rows (docs/architecture.md, "Data flow").
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "elman/gemm.hpp"
#include "elman/parallel.hpp"
#include "elman/tensor.hpp"
#include "elman/vmath.hpp"

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

// H = f(A), as the epilogue (gemm.hpp) of the recurrent product that finishes A. float's tanh is
// Eigen's vectorized rational approximation, double's vmath.hpp's (Eigen has none for double); both
// also for single elements, so that packets and single elements agree to the last bit.
template <typename S>
struct Activation {
  Nonlinearity f;

  S operator()(S a, Index, Index) const {
    if (f == Nonlinearity::Relu) return std::max(a, S(0));
    if constexpr (std::is_same_v<S, double>)
      return vmath::tanh(a);
    else
      return Eigen::numext::tanh(a);
  }

  template <typename P>
  P operator()(const P& a, Index, Index) const {
    using namespace Eigen::internal;
    if (f == Nonlinearity::Relu) return pmax(a, pset1<P>(S(0)));
    if constexpr (std::is_same_v<S, double>) {
      return vmath::tanh(a);
    } else if constexpr (packet_traits<S>::HasTanh) {
      return ptanh(a);
    } else {
      alignas(64) S lanes[unpacket_traits<P>::size];
      pstore(lanes, a);
      for (S& v : lanes) v = std::tanh(v);
      return pload<P>(lanes);
    }
  }
};

// dL/dA = dL/dH f'(A), f' taken from the stored output H = f(A), as the epilogue of the product that
// finishes dL/dH. h points at the element of H that matches C's (0, 0); ld is H's row stride.
template <typename S>
struct ActivationGrad {
  Nonlinearity f;
  const S* h;
  Index ld;

  S operator()(S d, Index i, Index j) const {
    const S y = h[i * ld + j];
    return f == Nonlinearity::Tanh ? d * (S(1) - y * y) : d * (y > S(0) ? S(1) : S(0));
  }

  template <typename P>
  P operator()(const P& d, Index i, Index j) const {
    using namespace Eigen::internal;
    const P y = ploadu<P>(h + i * ld + j), one = pset1<P>(S(1)), zero = pset1<P>(S(0));
    return pmul(d, f == Nonlinearity::Tanh ? psub(one, pmul(y, y)) : pselect(pcmp_lt(zero, y), one, zero));
  }
};

// Parts per thread of the recurrence's batch: each part reads all of W_hh at every step, so once W_hh
// outgrows a core's share of cache (256 KB here) one part per thread, else several, for balance.
template <typename S>
Index recurrence_parts(Index H) {
  return double(H) * H * sizeof(S) > 256 * 1024 ? 1 : parts_per_thread;
}

// x is (T*B, I) or tokens; out is (T*B, H), this direction's columns of the layer output;
// state is (B, H): h0 on entry, h_n (the state after each sequence's last valid step) on exit.
// Padded steps leave the state untouched and output 0. The reverse direction runs t = T-1..0, so a
// padded sequence starts at its own last valid step.
template <typename S>
void rnn_forward(const LayerInput<S>& x, const LayerWeights<S>& w, Nonlinearity f, const Steps& s,
                 bool reverse, MatMap<S> out, MatMap<S> state) {
  const Index B = s.batch, T = s.steps, H = w.W_hh.rows(), I = w.W_xh.cols();
  // 1. The input projection of every step at once.
  parallel_for(s.rows(), double(s.rows()) * H * (x.tokens ? 1 : I), [&](Index r0, Index r1) {
    auto o = out.middleRows(r0, r1 - r0);
    if (x.tokens) {
      for (Index r = r0; r < r1; ++r) {
        o.row(r - r0) = w.b_h;
        if (s.valid_row(r)) o.row(r - r0) += w.W_xh.col(x.tokens[r]).transpose();
      }
    } else {
      gemm(cmat(x.dense + r0 * x.ld, r1 - r0, I, x.ld), w.W_xh.transpose(), o, false, AddRow<S>{w.b_h.data()});
    }
  });
  // 2. The recurrence: each thread runs every step for its own sequences b0..b1, all with W_hh^T
  //    packed once.
  const PackedB<S>& w_hh_t = packed_scratch<S>(w.W_hh.transpose());
  parallel_for(B, double(s.rows()) * H * H, [&](Index b0, Index b1) {
    const Index n = b1 - b0;
    auto st = state.middleRows(b0, n);
    for (Index i = 0; i < T; ++i) {
      const Index t = reverse ? T - 1 - i : i, previous = reverse ? t + 1 : t - 1;
      auto a = out.middleRows(t * B + b0, n);  // (n, H)
      // Without padding the previous state is the previous step's output, read in place.
      if (s.lengths || i == 0)
        w_hh_t.multiply(st, a, true, Activation<S>{f});
      else
        w_hh_t.multiply(out.middleRows(previous * B + b0, n), a, true, Activation<S>{f});
      if (!s.lengths) {
        if (i + 1 == T) st = a;
        continue;
      }
      for (Index b = b0; b < b1; ++b) {
        if (s.valid(t, b))
          state.row(b) = a.row(b - b0);
        else
          a.row(b - b0).setZero();
      }
    }
  }, 4, recurrence_parts<S>(H));
}

// y (B, n) [+]= x (B, K) W^T, W being (n, K), for one time step. At batch 1 a matrix-vector product
// read from W where it lies (no packing), so a token costs one pass over W; otherwise the packed
// product. Threads take rows of W (columns of y) when W is big enough to pay: at batch 1 each then
// reads its own part of W, which for a large W_hh may fit the caches of its core.
template <typename S>
void step_product(const ConstMatMap<S>& x, const ConstMatMap<S>& W, MatMap<S> y, bool accumulate) {
  parallel_for(W.rows(), double(x.rows()) * W.rows() * W.cols(), [&](Index c0, Index c1) {
    const auto w = W.middleRows(c0, c1 - c0);
    auto part = y.middleCols(c0, c1 - c0);
    if (x.rows() == 1) {
      if (accumulate)
        part.row(0).transpose().noalias() += w * x.row(0).transpose();
      else
        part.row(0).transpose().noalias() = w * x.row(0).transpose();
    } else {
      gemm(x, w.transpose(), part, accumulate);
    }
  }, 16);
}

// One step of a forward layer for B sequences: out (B, H) = f(x W_xh^T + b_h + prev W_hh^T), x being
// (B, I) or B tokens; prev (B, H) must not overlap out. The same arithmetic as rnn_forward's step, up
// to rounding (the products sum in another order).
template <typename S>
void rnn_step(const LayerInput<S>& x, const LayerWeights<S>& w, Nonlinearity f, Index B, const ConstMatMap<S>& prev,
              MatMap<S> out) {
  const Index I = w.W_xh.cols();
  if (x.tokens) {
    for (Index b = 0; b < B; ++b) out.row(b) = w.b_h + w.W_xh.col(x.tokens[b]).transpose();
  } else {
    step_product<S>(cmat(x.dense, B, I, x.ld), w.W_xh, out, false);
    out.rowwise() += w.b_h;
  }
  step_product<S>(prev, w.W_hh, out, true);
  apply_epilogue(Activation<S>{f}, out);
}

// da holds dL/dH (T*B, H) on entry and dL/dA on exit; out is rnn_forward's output; h0 is (B, H) or
// null for zeros; dstate is (B, H) scratch. Adds into the gradients, and into dx (T*B, I) if given.
// flow (T), if given, receives ||dL/dh_t|| over the batch: the total gradient reaching each state.
template <typename S>
void rnn_backward(const LayerInput<S>& x, const LayerWeights<S>& w, Nonlinearity f, const Steps& s,
                  bool reverse, const MatMap<S>& out, const S* h0, MatMap<S> da, MatMap<S> dstate,
                  LayerGrads<S> g, MatMap<S>* dx, S* flow = nullptr) {
  const Index B = s.batch, T = s.steps, H = w.W_hh.rows(), I = w.W_xh.cols();
  // 1. Back through time, each thread for its own sequences (one thread when measuring the flow,
  //    which sums over the whole batch at every step).
  const PackedB<S>& w_hh = packed_scratch<S>(w.W_hh);
  parallel_for(B, flow ? 0.0 : double(s.rows()) * H * H, [&](Index b0, Index b1) {
    const Index n = b1 - b0;
    auto derivative = [&](Index t) { return ActivationGrad<S>{f, &out(t * B + b0, 0), out.outerStride()}; };
    for (Index i = 0; i < T; ++i) {
      const Index t = reverse ? i : T - 1 - i, previous = reverse ? t + 1 : t - 1;  // forward order, backwards
      // (n, H): dL/dH_t, complete once the next step has added its part, and already turned into
      // dL/dA_t by that product's epilogue unless this is the first step or the flow is measured.
      auto d = da.middleRows(t * B + b0, n);
      if (s.lengths)
        for (Index b = b0; b < b1; ++b)
          if (!s.valid(t, b)) d.row(b - b0).setZero();
      if (flow) flow[t] = d.norm();
      if (i == 0 || flow) apply_epilogue(derivative(t), d);
      if (i + 1 == T) continue;
      auto d_previous = da.middleRows(previous * B + b0, n);  // through W_hh
      if (flow)
        w_hh.multiply(d, d_previous, true);
      else
        w_hh.multiply(d, d_previous, true, derivative(previous));
    }
  }, 4, recurrence_parts<S>(H));

  // 2. The first step of each sequence takes h0 as its previous state: gather its dA rows.
  if (h0) {
    for (Index b = 0; b < B; ++b) {
      const Index first = reverse ? s.length(b) - 1 : 0;
      if (s.length(b) > 0)
        dstate.row(b) = da.row(first * B + b);
      else
        dstate.row(b).setZero();
    }
  }

  // 3. Weight gradients over all steps at once, each thread for its own rows k0..k1 of the weights.
  //    Step t's previous state is the output of step t-1 (t+1 in reverse); a padded neighbour's
  //    output is 0.
  const Index shifted = (T - 1) * B;
  parallel_for(H, double(s.rows()) * H * (H + (x.tokens ? 1 : I)), [&](Index k0, Index k1) {
    const Index n = k1 - k0;
    auto dak = da.middleCols(k0, n);
    if (x.tokens) {
      for (Index r = 0; r < s.rows(); ++r)
        if (s.valid_row(r)) g.W_xh.col(x.tokens[r]).segment(k0, n) += dak.row(r).transpose();
    } else {
      gemm(dak.transpose(), cmat(x.dense, s.rows(), I, x.ld), g.W_xh.middleRows(k0, n), true);
    }
    g.b_h.segment(k0, n) += dak.colwise().sum();
    if (shifted > 0) {
      if (reverse)
        gemm(dak.topRows(shifted).transpose(), out.bottomRows(shifted), g.W_hh.middleRows(k0, n), true);
      else
        gemm(dak.bottomRows(shifted).transpose(), out.topRows(shifted), g.W_hh.middleRows(k0, n), true);
    }
    if (h0) gemm(dstate.middleCols(k0, n).transpose(), cmat(h0, B, H), g.W_hh.middleRows(k0, n), true);
  });

  // 4. The gradient for the layer below, each thread for its own rows.
  if (dx)
    parallel_for(s.rows(), double(s.rows()) * H * I, [&](Index r0, Index r1) {
      gemm(da.middleRows(r0, r1 - r0), w.W_xh, dx->middleRows(r0, r1 - r0), true);
    });
}

}  // namespace elman
