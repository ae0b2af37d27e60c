// A warm train_step allocates nothing: Eigen's allocation check (EIGEN_RUNTIME_NO_MALLOC) aborts on
// any allocation through Eigen while it is off, and the model's buffers all allocate through Eigen.
#define EIGEN_RUNTIME_NO_MALLOC
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "check.hpp"
#include "elman/elman.hpp"

template <typename S>
void warm_step_allocates_nothing(elman::Index I, elman::Index H, elman::Index O, elman::Index B, elman::Index T,
                                 elman::Index layers, bool bidirectional, int threads) {
  elman::set_num_threads(threads);
  elman::Config c;
  c.input_size = I, c.hidden_size = H, c.output_size = O, c.num_layers = layers, c.bidirectional = bidirectional;
  c.dropout = layers > 1 ? 0.2 : 0.0;
  elman::Model<S> model(c);
  elman::OptimizerConfig oc;
  oc.kind = elman::OptimizerKind::Adam;
  elman::Optimizer<S> opt(oc, model.num_params());
  std::mt19937 gen(0);
  std::normal_distribution<double> normal;
  std::vector<S> x(T * B * I), target(T * B * O), h_n(layers * (bidirectional ? 2 : 1) * B * H);
  for (auto& v : x) v = S(normal(gen));
  for (auto& v : target) v = S(normal(gen));
  std::vector<std::int64_t> lengths(B, T);
  lengths[0] = T / 2;
  elman::Batch<S> batch;
  batch.steps = {T, B, lengths.data()};
  batch.x = x.data();
  elman::Target<S> tgt;
  tgt.values = target.data();
  const elman::Clip clip{5.0, 1.0};

  model.train_step(batch, tgt, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, h_n.data());  // warm up
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 2; ++i)
    model.train_step(batch, tgt, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, h_n.data());
  // A smaller batch fits in the workspace too.
  batch.steps.steps = T / 2;
  for (auto& l : lengths) l = std::min<std::int64_t>(l, T / 2);
  model.train_step(batch, tgt, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, h_n.data());
  Eigen::internal::set_is_malloc_allowed(true);
  std::printf("H=%ld B=%ld T=%ld L=%ld D=%d threads=%d: no allocation\n", long(H), long(B), long(T), long(layers),
              bidirectional ? 2 : 1, threads);
  CHECK(true);
}

int main() {
  warm_step_allocates_nothing<float>(8, 32, 8, 1, 100, 1, false, 1);
  warm_step_allocates_nothing<float>(64, 256, 64, 32, 40, 2, true, 1);
  warm_step_allocates_nothing<double>(64, 300, 64, 16, 20, 1, false, 2);
  warm_step_allocates_nothing<float>(128, 1024, 128, 64, 8, 1, false, 2);
  return check::report("no_malloc");
}
