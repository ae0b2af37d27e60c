// Model<double> against two independent references: forward against the recurrence written as plain
// loops, and loss_and_grad's gradient against central finite differences of the loss, for configs
// that between them take every branch of the core.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

namespace {

using elman::Index;
using elman::Loss;
using elman::Nonlinearity;
using elman::Reduction;

struct Case {
  std::string name;
  elman::Config config;
  Index steps, batch;
  std::vector<std::int64_t> lengths;  // empty: every sequence has all the steps
  bool tokens;                        // integer input instead of x
  bool h0;
  Loss loss;
  Reduction reduction;
};

// A batch and its targets. Padded tokens and classes are out of range on purpose: nothing may read them.
struct Data {
  Index steps, batch;
  std::vector<std::int64_t> lengths, tokens, classes;
  std::vector<double> x, h0, values;

  bool valid(Index row) const { return lengths.empty() || row / batch < lengths[row % batch]; }

  elman::Batch<double> batch_view() const {
    elman::Batch<double> b;
    b.steps = {steps, batch, lengths.empty() ? nullptr : lengths.data()};
    b.x = x.empty() ? nullptr : x.data();
    b.tokens = tokens.empty() ? nullptr : tokens.data();
    b.h0 = h0.empty() ? nullptr : h0.data();
    return b;
  }
  elman::Target<double> target() const { return {values.data(), classes.data()}; }
};

Data make_data(const Case& k) {
  const elman::Config& c = k.config;
  elman::Rng rng(1234);
  auto below = [&](Index n) { return static_cast<std::int64_t>(rng.next_u64() % static_cast<std::uint64_t>(n)); };
  Data d{k.steps, k.batch, k.lengths, {}, {}, {}, {}, {}};
  const Index rows = k.steps * k.batch;
  for (Index r = 0; r < rows; ++r) {
    if (k.tokens) d.tokens.push_back(d.valid(r) ? below(c.input_size) : -1);
    if (!d.valid(r))
      d.classes.push_back(c.output_size);
    else
      d.classes.push_back(r % 4 == 3 ? elman::ignore_index : below(c.output_size));
  }
  // |x| <= 1 keeps relu's pre-activations O(0.1..1): the chance that one of the few hundred lies
  // within the 1e-6 step of its kink is ~1e-4, and the fixed seeds make the draw the same every run.
  if (!k.tokens)
    for (Index i = 0; i < rows * c.input_size; ++i) d.x.push_back(rng.uniform(-1.0, 1.0));
  if (k.h0)
    for (Index i = 0; i < c.num_layers * c.directions() * k.batch * c.hidden_size; ++i)
      d.h0.push_back(rng.uniform(-0.5, 0.5));
  const Index width = k.loss == Loss::GaussianNLL ? elman::target_width(k.loss, c.output_size) : c.output_size;
  for (Index i = 0; i < rows * width; ++i) d.values.push_back(rng.normal());
  return d;
}

double activation(Nonlinearity f, double a) { return f == Nonlinearity::Tanh ? std::tanh(a) : std::max(a, 0.0); }

// y (T*B, O) and h_n (L*D, B, H) one sequence and one step at a time; tokens become one-hot rows.
void reference_forward(const elman::Model<double>& m, const Data& d, std::vector<double>& y,
                       std::vector<double>& h_n) {
  const elman::Config& c = m.config();
  const elman::ParamLayout& layout = m.layout();
  const double* p = m.params();
  const Index T = d.steps, B = d.batch, H = c.hidden_size, D = c.directions(), O = c.output_size;
  Index width = c.input_size;
  std::vector<double> in = d.x;
  if (!d.tokens.empty()) {
    in.assign(T * B * width, 0.0);
    for (Index r = 0; r < T * B; ++r)
      if (d.valid(r)) in[r * width + d.tokens[r]] = 1.0;
  }
  h_n.assign(c.num_layers * D * B * H, 0.0);
  for (Index l = 0; l < c.num_layers; ++l) {
    std::vector<double> out(T * B * D * H, 0.0);
    for (Index dir = 0; dir < D; ++dir) {
      const elman::LayerOffsets& o = layout.layers[l * D + dir];
      for (Index b = 0; b < B; ++b) {
        double* h = &h_n[((l * D + dir) * B + b) * H];
        if (!d.h0.empty()) std::copy_n(&d.h0[((l * D + dir) * B + b) * H], H, h);
        const Index len = d.lengths.empty() ? T : d.lengths[b];
        for (Index i = 0; i < len; ++i) {
          const Index t = dir == 1 ? len - 1 - i : i;
          const double* xt = &in[(t * B + b) * width];
          double* ht = &out[(t * B + b) * D * H + dir * H];
          for (Index j = 0; j < H; ++j) {
            double a = p[o.b_h + j];
            for (Index k = 0; k < width; ++k) a += p[o.W_xh + j * width + k] * xt[k];
            for (Index k = 0; k < H; ++k) a += p[o.W_hh + j * H + k] * h[k];
            ht[j] = activation(c.nonlinearity, a);
          }
          std::copy_n(ht, H, h);
        }
      }
    }
    in = std::move(out);
    width = D * H;
  }
  y.assign(T * B * O, 0.0);
  for (Index r = 0; r < T * B; ++r) {
    if (!d.valid(r)) continue;
    for (Index o = 0; o < O; ++o) {
      double v = p[layout.b_y + o];
      for (Index k = 0; k < width; ++k) v += p[layout.W_hy + o * width + k] * in[r * width + k];
      y[r * O + o] = v;
    }
  }
}

double reference_loss(const Case& k, const Data& d, const std::vector<double>& y) {
  const Index O = k.config.output_size;
  double total = 0.0;
  Index count = 0;
  for (Index r = 0; r < d.steps * d.batch; ++r) {
    if (!d.valid(r)) continue;
    const double* yr = &y[r * O];
    if (k.loss == Loss::MSE) {
      for (Index o = 0; o < O; ++o, ++count) total += (yr[o] - d.values[r * O + o]) * (yr[o] - d.values[r * O + o]);
    } else if (k.loss == Loss::GaussianNLL) {
      // the log density of N(mean, e^v) without its constant, negated: 0.5 v + (target - mean)^2 / (2 e^v)
      const Index K = O / 2;
      for (Index j = 0; j < K; ++j, ++count) {
        const double residual = d.values[r * K + j] - yr[j], variance = std::exp(yr[K + j]);
        total += 0.5 * std::log(variance) + residual * residual / (2.0 * variance);
      }
    } else if (d.classes[r] != elman::ignore_index) {
      double sum = 0.0;
      for (Index o = 0; o < O; ++o) sum += std::exp(yr[o]);
      total += std::log(sum) - yr[d.classes[r]];
      ++count;
    }
  }
  return k.reduction == Reduction::Sum ? total : total / static_cast<double>(count);
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

const std::string& tensor_name(const elman::ParamLayout& layout, Index i) {
  for (const elman::TensorInfo& t : layout.tensors)
    if (i >= t.offset && i < t.offset + t.size()) return t.name;
  return layout.tensors.back().name;
}

void run(const Case& k) {
  const elman::Config& c = k.config;
  elman::Model<double> m(c);
  const Data d = make_data(k);
  const elman::Batch<double> batch = d.batch_view();
  const elman::Target<double> target = d.target();
  const Index state_size = c.num_layers * c.directions() * k.batch * c.hidden_size;

  std::vector<double> y(k.steps * k.batch * c.output_size), h_n(state_size), ref_y, ref_h_n;
  m.forward(batch, y.data(), h_n.data());
  reference_forward(m, d, ref_y, ref_h_n);
  CHECK_MSG(max_abs_diff(y, ref_y) < 1e-12, k.name + ": y is off by " + std::to_string(max_abs_diff(y, ref_y)));
  CHECK_MSG(max_abs_diff(h_n, ref_h_n) < 1e-12,
            k.name + ": h_n is off by " + std::to_string(max_abs_diff(h_n, ref_h_n)));

  // Each call draws the same dropout masks, so the loss is one deterministic function of the parameters.
  const elman::Rng::State rng_state = m.dropout_rng().state();
  auto loss = [&](double* state) {
    m.dropout_rng().set_state(rng_state);
    return m.loss_and_grad(batch, target, k.loss, k.reduction, state);
  };
  std::vector<double> train_h_n(state_size);
  const double value = loss(train_h_n.data());
  if (c.dropout == 0.0) {
    const double expected = reference_loss(k, d, ref_y);
    CHECK_MSG(std::abs(value - expected) <= 1e-12 * std::max(1.0, std::abs(expected)),
              k.name + ": loss " + std::to_string(value) + ", reference " + std::to_string(expected));
    CHECK_MSG(max_abs_diff(train_h_n, h_n) < 1e-12, k.name + ": loss_and_grad's h_n differs from forward's");
  }

  const std::vector<double> analytic(m.grads(), m.grads() + m.num_params());
  const double eps = 1e-6;
  double* p = m.params();
  double worst = 0.0, scale = 0.0;
  Index worst_at = 0;
  for (Index i = 0; i < m.num_params(); ++i) {
    const double saved = p[i];
    p[i] = saved + eps;
    const double up = loss(nullptr);
    p[i] = saved - eps;
    const double down = loss(nullptr);
    p[i] = saved;
    const double numeric = (up - down) / (2.0 * eps);
    scale = std::max(scale, std::abs(numeric));
    if (std::abs(numeric - analytic[i]) > worst) {
      worst = std::abs(numeric - analytic[i]);
      worst_at = i;
    }
  }
  const double ratio = worst / scale;
  std::printf("%-60s %4ld params  max|err|/max|numeric| = %.2e\n", k.name.c_str(), static_cast<long>(m.num_params()),
              ratio);
  CHECK_MSG(scale > 0.0 && ratio < 1e-6, k.name + ": max|err|/max|numeric| = " + std::to_string(ratio) +
                                             ", worst at " + tensor_name(m.layout(), worst_at));
}

elman::Config config(Index input, Index layers, bool bidirectional, Nonlinearity f, double dropout = 0.0,
                     Index output = 3) {
  elman::Config c;
  c.input_size = input;
  c.hidden_size = 4;
  c.output_size = output;
  c.num_layers = layers;
  c.bidirectional = bidirectional;
  c.nonlinearity = f;
  c.dropout = dropout;
  c.seed = 42;
  return c;
}

}  // namespace

int main() {
  const auto tanh = Nonlinearity::Tanh, relu = Nonlinearity::Relu;
  const std::vector<Case> cases = {
      {"1 layer, tanh, mse mean", config(3, 1, false, tanh), 5, 3, {}, false, false, Loss::MSE, Reduction::Mean},
      {"2 layers, bidirectional, tanh, h0, lengths, mse mean", config(3, 2, true, tanh), 5, 3, {5, 2, 0}, false, true,
       Loss::MSE, Reduction::Mean},
      {"2 layers, relu, h0, cross-entropy sum", config(3, 2, false, relu), 5, 3, {}, false, true, Loss::CrossEntropy,
       Reduction::Sum},
      {"1 layer, bidirectional, relu, tokens, lengths, cross-entropy sum", config(5, 1, true, relu), 5, 3, {3, 5, 1},
       true, false, Loss::CrossEntropy, Reduction::Sum},
      {"2 layers, bidirectional, tanh, tokens, h0, lengths, ce mean", config(5, 2, true, tanh), 4, 3, {4, 0, 2}, true,
       true, Loss::CrossEntropy, Reduction::Mean},
      {"2 layers, bidirectional, relu, h0, mse sum", config(3, 2, true, relu), 4, 2, {}, false, true, Loss::MSE,
       Reduction::Sum},
      {"1 step, bidirectional, tanh, h0, mse sum", config(3, 1, true, tanh), 1, 2, {}, false, true, Loss::MSE,
       Reduction::Sum},
      {"3 layers, tanh, dropout 0.3, lengths, mse sum", config(3, 3, false, tanh, 0.3), 5, 3, {5, 3, 4}, false, false,
       Loss::MSE, Reduction::Sum},
      {"2 layers, tanh, h0, lengths, gaussian nll mean", config(3, 2, false, tanh, 0.0, 4), 5, 3, {5, 2, 4}, false,
       true, Loss::GaussianNLL, Reduction::Mean},
      {"1 layer, bidirectional, relu, gaussian nll sum", config(3, 1, true, relu, 0.0, 6), 4, 2, {}, false, false,
       Loss::GaussianNLL, Reduction::Sum},
  };
  for (const Case& k : cases) run(k);
  return check::report("gradients");
}
