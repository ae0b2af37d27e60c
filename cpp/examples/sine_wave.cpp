// Trains an Elman RNN to predict the next value of sine waves with the C++ API alone, printing the
// falling loss (the mean over the last print_every steps). Each step draws a batch of waves of random
// phase and frequency; the target is the input one step later, so the network must infer each wave's
// frequency from what it has seen so far.
#include <cmath>
#include <cstdio>
#include <vector>

#include <elman/elman.hpp>

int main() {
  const elman::Index T = 50, B = 16;  // steps per sequence, sequences per batch
  const int steps = 1000, print_every = 100;
  const double two_pi = 6.283185307179586;

  elman::Config config;
  config.input_size = 1;
  config.hidden_size = 32;
  config.output_size = 1;
  config.seed = 0;
  elman::Model<float> model(config);

  elman::OptimizerConfig adam;
  adam.kind = elman::OptimizerKind::Adam;
  adam.lr = 0.01;
  elman::Optimizer<float> opt(adam, model.num_params());
  elman::Clip clip;
  clip.norm = 1.0;

  // Time-major (T*B, 1): row t*B + b is wave b at step t.
  std::vector<float> x(T * B), next(T * B);
  elman::Batch<float> batch;
  batch.steps.steps = T;
  batch.steps.batch = B;
  batch.x = x.data();
  elman::Target<float> target;
  target.values = next.data();

  elman::Rng rng(1);
  double recent = 0.0;  // loss summed since the last print
  for (int step = 1; step <= steps; ++step) {
    for (elman::Index b = 0; b < B; ++b) {
      const double phase = rng.uniform(0.0, two_pi), freq = rng.uniform(0.1, 0.4);  // radians per step
      for (elman::Index t = 0; t < T; ++t) {
        x[t * B + b] = static_cast<float>(std::sin(phase + freq * t));
        next[t * B + b] = static_cast<float>(std::sin(phase + freq * (t + 1)));
      }
    }
    recent += model.train_step(batch, target, elman::Loss::MSE, elman::Reduction::Mean, clip, opt, /*h_n=*/nullptr);
    if (step % print_every == 0) {
      std::printf("step %4d  loss %.6f\n", step, recent / print_every);
      recent = 0.0;
    }
  }
  return 0;
}
