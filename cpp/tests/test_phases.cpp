// train_step in two phases, as data parallelism runs it without MPI: two replicas each take half of
// a batch (gradient_phase), their reduction buffers are summed by hand (what the all-reduce does),
// and update_phase on each must give one model's train_step on the whole batch, up to rounding,
// with the replicas bit-identical.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

namespace {

using elman::Index;

// Row t*B + b of a time-major (T, B, F) batch; the sequences [from, from + n) of it as (T, n, F).
std::vector<double> columns(const std::vector<double>& a, Index T, Index B, Index F, Index from, Index n) {
  std::vector<double> out;
  for (Index t = 0; t < T; ++t)
    for (Index b = from; b < from + n; ++b)
      out.insert(out.end(), a.begin() + (t * B + b) * F, a.begin() + (t * B + b + 1) * F);
  return out;
}

double relative(const double* a, const double* b, Index n) {
  double err = 0.0, scale = 1e-300;
  for (Index i = 0; i < n; ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return err / scale;
}

void two_halves_equal_the_whole(elman::Reduction reduction) {
  const Index T = 7, B = 5, I = 3, H = 6, O = 2, first = 2;  // the halves: 2 and 3 sequences
  elman::Config config;
  config.input_size = I;
  config.hidden_size = H;
  config.output_size = O;
  config.num_layers = 2;
  config.seed = 11;
  std::mt19937_64 gen(5);
  std::normal_distribution<double> normal;
  std::vector<double> x(T * B * I), y(T * B * O);
  for (double& v : x) v = normal(gen);
  for (double& v : y) v = normal(gen);
  const std::vector<std::int64_t> lengths = {2, 3, 7, 6, 7};
  elman::OptimizerConfig adam;
  adam.kind = elman::OptimizerKind::Adam;
  adam.lr = 0.05;
  const elman::Clip clip{0.05, 0.08};

  elman::Model<double> whole(config);
  elman::Optimizer<double> whole_opt(adam, whole.num_params());
  elman::Batch<double> all;
  all.steps = {T, B, lengths.data()};
  all.x = x.data();
  elman::Target<double> all_target;
  all_target.values = y.data();

  struct Replica {
    elman::Model<double> model;
    elman::Optimizer<double> opt;
    std::vector<double> x, y;
    std::vector<std::int64_t> lengths;
    Index batch;
  };
  std::vector<Replica> replicas;
  for (const auto& [from, n] : {std::pair<Index, Index>{0, first}, {first, B - first}})
    replicas.push_back({elman::Model<double>(config), elman::Optimizer<double>(adam, whole.num_params()),
                        columns(x, T, B, I, from, n), columns(y, T, B, O, from, n),
                        std::vector<std::int64_t>(lengths.begin() + from, lengths.begin() + from + n), n});

  for (int step = 0; step < 3; ++step) {
    const double expected = whole.train_step(all, all_target, elman::Loss::MSE, reduction, clip, whole_opt, nullptr);
    std::vector<double> sum(replicas[0].model.reduction_size(), 0.0);
    for (Replica& r : replicas) {
      elman::Batch<double> half;
      half.steps = {T, r.batch, r.lengths.data()};
      half.x = r.x.data();
      elman::Target<double> target;
      target.values = r.y.data();
      r.model.gradient_phase(half, target, elman::Loss::MSE, nullptr);
      for (Index i = 0; i < r.model.reduction_size(); ++i) sum[i] += r.model.reduction_buffer()[i];
    }
    for (Replica& r : replicas) {
      std::copy(sum.begin(), sum.end(), r.model.reduction_buffer());
      const double value = r.model.update_phase(reduction, clip, r.opt);
      CHECK_MSG(std::abs(value - expected) <= 1e-12 * std::abs(expected),
                "loss " + std::to_string(value) + " vs " + std::to_string(expected));
    }
    const double err = relative(replicas[0].model.params(), whole.params(), whole.num_params());
    CHECK_MSG(err <= 1e-12, "weights differ from the whole batch's by " + std::to_string(err));
    CHECK(std::equal(replicas[0].model.params(), replicas[0].model.params() + whole.num_params(),
                     replicas[1].model.params()));
  }
}

}  // namespace

int main() {
  two_halves_equal_the_whole(elman::Reduction::Mean);
  two_halves_equal_the_whole(elman::Reduction::Sum);
  return check::report("test_phases");
}
