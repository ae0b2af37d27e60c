// Seeded initial weights: "uniform" (PyTorch's nn.RNN and nn.Linear), "normal" (min-char-rnn),
// "orthogonal" (orthogonal W_hh, uniform elsewhere).
#pragma once

#include <cmath>

#include <Eigen/QR>

#include "elman/config.hpp"
#include "elman/random.hpp"
#include "elman/tensor.hpp"

namespace elman {

// Q of the QR decomposition of a standard normal (n, n) matrix, with R's diagonal made positive so
// that Q is uniformly distributed over the orthogonal group.
inline Matrix<double> random_orthogonal(Index n, Rng& rng) {
  Matrix<double> a(n, n);
  for (Index i = 0; i < a.size(); ++i) a.data()[i] = rng.normal();
  Eigen::HouseholderQR<Matrix<double>> qr(a);
  Matrix<double> q = qr.householderQ();
  for (Index j = 0; j < n; ++j)
    if (qr.matrixQR()(j, j) < 0) q.col(j) *= -1.0;
  return q;
}

template <typename S>
void init_params(const Config& c, const ParamLayout& layout, S* params, Rng& rng) {
  auto uniform = [&](Index offset, Index size, double bound) {
    for (Index i = 0; i < size; ++i) params[offset + i] = static_cast<S>(rng.uniform(-bound, bound));
  };
  auto normal = [&](Index offset, Index size) {
    for (Index i = 0; i < size; ++i) params[offset + i] = static_cast<S>(0.01 * rng.normal());
  };
  auto zeros = [&](Index offset, Index size) {
    for (Index i = 0; i < size; ++i) params[offset + i] = S(0);
  };
  const Index H = c.hidden_size;
  const double k_layer = 1.0 / std::sqrt(static_cast<double>(H));
  const double k_head = 1.0 / std::sqrt(static_cast<double>(c.layer_width()));

  for (Index l = 0; l < c.num_layers; ++l) {
    for (Index d = 0; d < c.directions(); ++d) {
      const LayerOffsets& o = layout.layers[l * c.directions() + d];
      const Index in = c.layer_input_size(l);
      if (c.init == Init::Normal) {
        normal(o.W_xh, H * in);
        normal(o.W_hh, H * H);
        zeros(o.b_h, H);
        continue;
      }
      uniform(o.W_xh, H * in, k_layer);
      if (c.init == Init::Orthogonal)
        mat(params + o.W_hh, H, H) = random_orthogonal(H, rng).cast<S>();
      else
        uniform(o.W_hh, H * H, k_layer);
      uniform(o.b_h, H, k_layer);
    }
  }
  const Index head = c.output_size * c.layer_width();
  if (c.init == Init::Normal) {
    normal(layout.W_hy, head);
    zeros(layout.b_y, c.output_size);
  } else {
    uniform(layout.W_hy, head, k_head);
    uniform(layout.b_y, c.output_size, k_head);
  }
}

}  // namespace elman
