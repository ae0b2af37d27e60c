// Seeds and initialisation: the same seed gives the same bits, another seed other values, orthogonal
// W_hh is orthogonal, and the parameter layout is the documented order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

namespace {

using elman::Index;
using elman::Init;
using Model = elman::Model<double>;

elman::Config config(Init init, std::uint64_t seed, double dropout = 0.0) {
  elman::Config c;
  c.input_size = 3;
  c.hidden_size = 5;
  c.output_size = 2;
  c.num_layers = 2;
  c.bidirectional = true;
  c.init = init;
  c.seed = seed;
  c.dropout = dropout;
  return c;
}

std::vector<double> params(const Model& m) { return {m.params(), m.params() + m.num_params()}; }

void seeds() {
  for (Init init : {Init::Uniform, Init::Normal, Init::Orthogonal}) {
    const std::string name = "init " + std::to_string(static_cast<int>(init));
    const Model a(config(init, 11)), b(config(init, 11)), c(config(init, 12));
    CHECK_MSG(params(a) == params(b), name + ": the same seed gave different parameters");
    CHECK_MSG(params(a) != params(c), name + ": different seeds gave the same parameters");
    // Every weight matrix differs (Init::Normal's biases are all zero whatever the seed).
    for (const elman::TensorInfo& t : a.layout().tensors) {
      if (t.is_vector) continue;
      CHECK_MSG(!std::equal(a.params() + t.offset, a.params() + t.offset + t.size(), c.params() + t.offset),
                name + ": " + t.name + " is the same for seeds 11 and 12");
    }
  }
}

void orthogonal() {
  const Model m(config(Init::Orthogonal, 5));
  const Index H = m.config().hidden_size;
  for (const elman::TensorInfo& t : m.layout().tensors) {
    if (t.name.rfind("W_hh", 0) != 0) continue;
    const auto W = elman::cmat(m.params() + t.offset, H, H);
    const double err = (W.transpose() * W - elman::Matrix<double>::Identity(H, H)).cwiseAbs().maxCoeff();
    CHECK_MSG(err < 1e-12, t.name + ": max |W^T W - I| = " + std::to_string(err));
  }
}

// Dropout masks come from a generator seeded by the config, so training is reproducible too.
void dropout() {
  Model a(config(Init::Uniform, 21, 0.5)), b(config(Init::Uniform, 21, 0.5));
  const Index T = 3, B = 2, rows = T * B;
  std::vector<double> x(rows * 3), values(rows * 2);
  elman::Rng rng(9);
  for (double& v : x) v = rng.uniform(-1.0, 1.0);
  for (double& v : values) v = rng.normal();
  elman::Batch<double> batch;
  batch.steps = {T, B, nullptr};
  batch.x = x.data();
  const elman::Target<double> target{values.data(), nullptr};
  auto step = [&](Model& m) { return m.loss_and_grad(batch, target, elman::Loss::MSE, elman::Reduction::Mean, nullptr); };

  const double la = step(a), lb = step(b);
  CHECK(la == lb);
  CHECK((std::vector<double>(a.grads(), a.grads() + a.num_params()) ==
         std::vector<double>(b.grads(), b.grads() + b.num_params())));
  CHECK_MSG(step(a) != la, "a second training call drew the same dropout masks");
}

void layout() {
  const Model m(config(Init::Uniform, 0));
  const std::vector<std::string> expected = {
      "W_xh_l0", "W_hh_l0", "b_h_l0", "W_xh_l0_reverse", "W_hh_l0_reverse", "b_h_l0_reverse",
      "W_xh_l1", "W_hh_l1", "b_h_l1", "W_xh_l1_reverse", "W_hh_l1_reverse", "b_h_l1_reverse",
      "W_hy",    "b_y"};
  const std::vector<elman::TensorInfo>& tensors = m.layout().tensors;
  CHECK(tensors.size() == expected.size());
  Index offset = 0;
  for (std::size_t i = 0; i < tensors.size() && i < expected.size(); ++i) {
    CHECK_MSG(tensors[i].name == expected[i], "tensor " + std::to_string(i) + " is " + tensors[i].name);
    CHECK_MSG(tensors[i].offset == offset, tensors[i].name + " is not right after the previous tensor");
    offset += tensors[i].size();
  }
  CHECK(offset == m.num_params());
  CHECK(m.layout().tensors[7].rows == 5 && m.layout().tensors[6].cols == 10);  // W_hh_l1, W_xh_l1 (H, D*H)
}

}  // namespace

int main() {
  seeds();
  orthogonal();
  dropout();
  layout();
  return check::report("init");
}
