// Padding: y is 0 on padded steps, and each sequence's outputs and h_n equal those of running it alone,
// cut to its own length. A sequence of length 0 keeps its h0.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

namespace {

using elman::Index;

void run(bool tokens) {
  elman::Config c;
  c.input_size = 4;
  c.hidden_size = 3;
  c.output_size = 2;
  c.num_layers = 2;
  c.bidirectional = true;
  c.seed = 7;
  elman::Model<double> m(c);
  const Index T = 6, B = 4, I = c.input_size, H = c.hidden_size, O = c.output_size;
  const Index LD = c.num_layers * c.directions();
  const std::vector<std::int64_t> lengths = {6, 3, 0, 1};
  const std::string name = tokens ? "tokens: " : "x: ";

  elman::Rng rng(3);
  std::vector<double> x(T * B * I), h0(LD * B * H);
  std::vector<std::int64_t> ids(T * B);
  for (double& v : x) v = rng.uniform(-1.0, 1.0);
  for (double& v : h0) v = rng.uniform(-0.5, 0.5);
  for (std::int64_t& v : ids) v = static_cast<std::int64_t>(rng.next_u64() % I);

  auto make = [&](Index steps, Index batch, const std::int64_t* lens, const double* xs, const std::int64_t* ts,
                  const double* h) {
    elman::Batch<double> b;
    b.steps = {steps, batch, lens};
    if (tokens)
      b.tokens = ts;
    else
      b.x = xs;
    b.h0 = h;
    return b;
  };

  std::vector<double> y(T * B * O), h_n(LD * B * H);
  m.forward(make(T, B, lengths.data(), x.data(), ids.data(), h0.data()), y.data(), h_n.data());

  for (Index t = 0; t < T; ++t)
    for (Index b = 0; b < B; ++b)
      if (t >= lengths[b])
        for (Index o = 0; o < O; ++o)
          CHECK_MSG(y[(t * B + b) * O + o] == 0.0, name + "y is not 0 at padded step " + std::to_string(t) +
                                                        ", sequence " + std::to_string(b));

  for (Index b = 0; b < B; ++b) {
    const Index len = lengths[b];
    const std::string seq = name + "sequence " + std::to_string(b);
    std::vector<double> h0_b(LD * H);
    for (Index s = 0; s < LD; ++s)
      for (Index j = 0; j < H; ++j) h0_b[s * H + j] = h0[(s * B + b) * H + j];
    if (len == 0) {
      for (Index s = 0; s < LD; ++s)
        for (Index j = 0; j < H; ++j)
          CHECK_MSG(h_n[(s * B + b) * H + j] == h0_b[s * H + j], seq + ": length 0 but h_n is not h0");
      continue;
    }
    std::vector<double> x_b(len * I);
    std::vector<std::int64_t> ids_b(len);
    for (Index t = 0; t < len; ++t) {
      ids_b[t] = ids[t * B + b];
      for (Index i = 0; i < I; ++i) x_b[t * I + i] = x[(t * B + b) * I + i];
    }
    std::vector<double> y_b(len * O), h_n_b(LD * H);
    m.forward(make(len, 1, nullptr, x_b.data(), ids_b.data(), h0_b.data()), y_b.data(), h_n_b.data());
    double worst_y = 0.0, worst_h = 0.0;
    for (Index t = 0; t < len; ++t)
      for (Index o = 0; o < O; ++o) worst_y = std::max(worst_y, std::abs(y[(t * B + b) * O + o] - y_b[t * O + o]));
    for (Index s = 0; s < LD; ++s)
      for (Index j = 0; j < H; ++j)
        worst_h = std::max(worst_h, std::abs(h_n[(s * B + b) * H + j] - h_n_b[s * H + j]));
    CHECK_MSG(worst_y < 1e-12, seq + ": y differs from running it alone by " + std::to_string(worst_y));
    CHECK_MSG(worst_h < 1e-12, seq + ": h_n differs from running it alone by " + std::to_string(worst_h));
  }

  // Lengths that are all T mean no padding at all.
  const std::vector<std::int64_t> full(B, T);
  std::vector<double> y_full(T * B * O), h_n_full(LD * B * H), y_none(T * B * O), h_n_none(LD * B * H);
  m.forward(make(T, B, full.data(), x.data(), ids.data(), h0.data()), y_full.data(), h_n_full.data());
  m.forward(make(T, B, nullptr, x.data(), ids.data(), h0.data()), y_none.data(), h_n_none.data());
  CHECK_MSG(y_full == y_none && h_n_full == h_n_none, name + "lengths all T differ from no lengths");
}

}  // namespace

int main() {
  run(false);
  run(true);
  return check::report("lengths");
}
