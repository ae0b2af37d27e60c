// Bad arguments throw std::invalid_argument before any work is done.
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

namespace {

using elman::Index;
using elman::Loss;
using elman::Reduction;
using Model = elman::Model<double>;

const double nan = std::numeric_limits<double>::quiet_NaN();
const double inf = std::numeric_limits<double>::infinity();

elman::Config good_config() {
  elman::Config c;
  c.input_size = 3;
  c.hidden_size = 4;
  c.output_size = 2;
  return c;
}

void config() {
  auto with = [](auto change) {
    elman::Config c = good_config();
    change(c);
    return c;
  };
  CHECK_THROWS(Model(with([](elman::Config& c) { c.hidden_size = 0; })), std::invalid_argument);
  CHECK_THROWS(Model(with([](elman::Config& c) { c.input_size = 0; })), std::invalid_argument);
  CHECK_THROWS(Model(with([](elman::Config& c) { c.output_size = -1; })), std::invalid_argument);
  CHECK_THROWS(Model(with([](elman::Config& c) { c.num_layers = 0; })), std::invalid_argument);
  CHECK_THROWS(Model(with([](elman::Config& c) { c.dropout = 1.0; })), std::invalid_argument);
  CHECK_THROWS(Model(with([](elman::Config& c) { c.dropout = -0.1; })), std::invalid_argument);
  CHECK_THROWS(Model(with([](elman::Config& c) { c.dropout = nan; })), std::invalid_argument);
  CHECK_THROWS(elman::parse_nonlinearity("sigmoid"), std::invalid_argument);
  CHECK_THROWS(elman::parse_init("xavier"), std::invalid_argument);
  CHECK_THROWS(elman::parse_loss("l1"), std::invalid_argument);
  CHECK_THROWS(elman::parse_reduction("none"), std::invalid_argument);
}

void batch() {
  Model m(good_config());
  const Index T = 2, B = 2, I = 3, O = 2, LDH = 1 * 1 * B * 4;
  std::vector<double> x(T * B * I, 0.1), y(T * B * O), h_n(LDH), h0(LDH, 0.2), values(T * B * O, 0.0);
  std::vector<std::int64_t> tokens(T * B, 1), classes(T * B, 0);
  const elman::Target<double> mse{values.data(), nullptr};

  auto dense = [&](Index steps, Index batch, const std::int64_t* lengths) {
    elman::Batch<double> b;
    b.steps = {steps, batch, lengths};
    b.x = x.data();
    return b;
  };
  auto forward = [&](const elman::Batch<double>& b) { m.forward(b, y.data(), h_n.data()); };
  auto train = [&](const elman::Batch<double>& b, const elman::Target<double>& t, Loss loss) {
    m.loss_and_grad(b, t, loss, Reduction::Mean, nullptr);
  };

  forward(dense(T, B, nullptr));  // the baseline is fine
  CHECK_THROWS(forward(dense(0, B, nullptr)), std::invalid_argument);
  CHECK_THROWS(forward(dense(T, 0, nullptr)), std::invalid_argument);
  CHECK_THROWS(train(dense(0, B, nullptr), mse, Loss::MSE), std::invalid_argument);

  const std::vector<std::int64_t> negative = {-1, 2}, too_long = {2, 3}, edges = {0, 2};
  CHECK_THROWS(forward(dense(T, B, negative.data())), std::invalid_argument);
  CHECK_THROWS(forward(dense(T, B, too_long.data())), std::invalid_argument);
  forward(dense(T, B, edges.data()));  // 0 and T are both allowed

  elman::Batch<double> neither = dense(T, B, nullptr), both = dense(T, B, nullptr);
  neither.x = nullptr;
  both.tokens = tokens.data();
  CHECK_THROWS(forward(neither), std::invalid_argument);
  CHECK_THROWS(forward(both), std::invalid_argument);

  elman::Batch<double> ids = neither;
  ids.tokens = tokens.data();
  forward(ids);
  tokens[3] = I;
  CHECK_THROWS(forward(ids), std::invalid_argument);
  tokens[3] = -1;
  CHECK_THROWS(forward(ids), std::invalid_argument);
  tokens[3] = 1;

  x[4] = nan;
  CHECK_THROWS(forward(dense(T, B, nullptr)), std::invalid_argument);
  x[4] = inf;
  CHECK_THROWS(train(dense(T, B, nullptr), mse, Loss::MSE), std::invalid_argument);
  x[4] = 0.1;

  elman::Batch<double> with_h0 = dense(T, B, nullptr);
  with_h0.h0 = h0.data();
  forward(with_h0);
  h0[LDH - 1] = -inf;
  CHECK_THROWS(forward(with_h0), std::invalid_argument);
  h0[LDH - 1] = nan;
  CHECK_THROWS(forward(with_h0), std::invalid_argument);

  const elman::Target<double> ce{nullptr, classes.data()};
  classes[1] = elman::ignore_index;
  train(dense(T, B, nullptr), ce, Loss::CrossEntropy);  // ignore_index is allowed
  classes[1] = O;
  CHECK_THROWS(train(dense(T, B, nullptr), ce, Loss::CrossEntropy), std::invalid_argument);
  classes[1] = -1;
  CHECK_THROWS(train(dense(T, B, nullptr), ce, Loss::CrossEntropy), std::invalid_argument);
  classes[1] = 0;

  CHECK_THROWS(train(dense(T, B, nullptr), ce, Loss::MSE), std::invalid_argument);
  CHECK_THROWS(train(dense(T, B, nullptr), mse, Loss::CrossEntropy), std::invalid_argument);
  values[0] = nan;
  CHECK_THROWS(train(dense(T, B, nullptr), mse, Loss::MSE), std::invalid_argument);
  values[0] = 0.0;

  // gaussian_nll: O = 2 outputs are a mean and a log-variance, so a target row holds one value
  train(dense(T, B, nullptr), mse, Loss::GaussianNLL);
  values[T * B - 1] = inf;
  CHECK_THROWS(train(dense(T, B, nullptr), mse, Loss::GaussianNLL), std::invalid_argument);
  values[T * B - 1] = 0.0;
  CHECK_THROWS(train(dense(T, B, nullptr), ce, Loss::GaussianNLL), std::invalid_argument);
  CHECK(elman::target_width(Loss::GaussianNLL, 4) == 2 && elman::target_width(Loss::MSE, 3) == 3);
  CHECK_THROWS(elman::target_width(Loss::GaussianNLL, 3), std::invalid_argument);
}

void clip() {
  std::vector<double> g = {1.0, -2.0};
  for (double bad : {-1.0, -1e-300, nan, inf}) {
    CHECK_THROWS(elman::clip_grad_value(g.data(), 2, bad), std::invalid_argument);
    CHECK_THROWS(elman::clip_grad_norm(g.data(), 2, bad), std::invalid_argument);
  }
  CHECK((g == std::vector<double>{1.0, -2.0}));
}

}  // namespace

int main() {
  config();
  batch();
  clip();
  return check::report("errors");
}
