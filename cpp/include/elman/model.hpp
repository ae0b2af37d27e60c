// The whole network: stacked (optionally bidirectional) recurrent layers and a linear head, with
// every parameter in one flat buffer, gradients in a twin buffer, and a workspace that grows only
// when a larger batch arrives, so a warm call allocates nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "elman/clip.hpp"
#include "elman/config.hpp"
#include "elman/init.hpp"
#include "elman/linear.hpp"
#include "elman/loss.hpp"
#include "elman/optim.hpp"
#include "elman/random.hpp"
#include "elman/rnn_layer.hpp"
#include "elman/sampling.hpp"
#include "elman/tensor.hpp"

namespace elman {

// A time-major batch. Exactly one of x and tokens is set.
template <typename S>
struct Batch {
  Steps steps;                           // T, B and optional lengths (B), each in [0, T]
  const S* x = nullptr;                  // (T*B, I)
  const std::int64_t* tokens = nullptr;  // (T*B) classes in [0, I): one-hot input
  const S* h0 = nullptr;                 // (L*D, B, H), or null for zeros
};

// Exactly one is set: values for MSE, classes for cross-entropy.
template <typename S>
struct Target {
  const S* values = nullptr;              // (T*B, O)
  const std::int64_t* classes = nullptr;  // (T*B) in [0, O), or ignore_index
};

// Clipping applied by train_step: by value first, then by global norm; a negative limit is off.
struct Clip {
  double value = -1.0;
  double norm = -1.0;
};

// A loss or gradient that is not finite: train_step leaves the weights as they were.
class NonFiniteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename S>
class Model {
 public:
  explicit Model(const Config& config)
      : config_((config.validate(), config)),
        layout_(config_),
        params_(layout_.total),
        grads_(layout_.total + loss_slots, S(0)),
        dropout_rng_(config_.seed ^ 0xd1b54a32d192ed03ULL) {
    Eigen::setNbThreads(1);  // elman parallelizes its own loops (parallel.hpp)
    Rng rng(config_.seed);
    init_params(config_, layout_, params_.data(), rng);
  }

  const Config& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  Index num_params() const { return layout_.total; }
  S* params() { return params_.data(); }
  const S* params() const { return params_.data(); }
  S* grads() { return grads_.data(); }
  const S* grads() const { return grads_.data(); }

  // The gradients followed by the loss sum and the count of valid positions, the buffer a
  // data-parallel step sums over processes in one in-place all-reduce between gradient_phase and
  // update_phase. (The count, held as S, is exact below 2^24 in float32 and rounded like S beyond.)
  static constexpr Index loss_slots = 2;
  S* reduction_buffer() { return grads_.data(); }
  Index reduction_size() const { return num_params() + loss_slots; }
  Rng& dropout_rng() { return dropout_rng_; }

  // y: (T*B, O), 0 on padded steps; h_n: (L*D, B, H). No dropout.
  void forward(const Batch<S>& batch, S* y, S* h_n) {
    check(batch);
    reserve(batch.steps, false);
    forward_pass(batch, false, y);
    copy_state(batch, h_n);
  }

  // The loss, its gradient in grads() (overwritten), and h_n (if not null). h0 is a constant.
  // flow (L*D, T), if not null, receives ||dL/dh_t|| of every layer and direction at every step.
  double loss_and_grad(const Batch<S>& batch, const Target<S>& target, Loss loss, Reduction reduction,
                       S* h_n, S* flow = nullptr) {
    check(batch);
    check(batch, target, loss);
    const Steps& s = batch.steps;
    reserve(s, true);
    forward_pass(batch, true, ws_.y.data());
    auto y = mat(ws_.y.data(), s.rows(), config_.output_size);
    auto dy = mat(ws_.dy.data(), s.rows(), config_.output_size);
    if (loss == Loss::MSE) {
      auto t = cmat(target.values, s.rows(), config_.output_size);
      last_loss_ = mse_forward(y, t, s);
      mse_backward(y, t, s, last_loss_.scale(reduction), dy);
    } else if (loss == Loss::GaussianNLL) {
      auto t = cmat(target.values, s.rows(), config_.output_size / 2);
      last_loss_ = gaussian_nll_forward(y, t, s);
      gaussian_nll_backward(y, t, s, last_loss_.scale(reduction), dy);
    } else {
      last_loss_ = cross_entropy_forward(y, target.classes, s, dy);
      cross_entropy_backward(target.classes, s, last_loss_.scale(reduction), dy);
    }
    std::fill(grads_.begin(), grads_.end(), S(0));
    backward_pass(batch, flow);
    copy_state(batch, h_n);
    return last_loss_.value(reduction);
  }

  // The loss of a forward pass without dropout, and h_n (if not null); no gradients.
  double loss(const Batch<S>& batch, const Target<S>& target, Loss loss, Reduction reduction, S* h_n) {
    check(batch);
    check(batch, target, loss);
    const Steps& s = batch.steps;
    reserve(s, true);
    forward_pass(batch, false, ws_.y.data());
    auto y = mat(ws_.y.data(), s.rows(), config_.output_size);
    if (loss == Loss::MSE)
      last_loss_ = mse_forward(y, cmat(target.values, s.rows(), config_.output_size), s);
    else if (loss == Loss::GaussianNLL)
      last_loss_ = gaussian_nll_forward(y, cmat(target.values, s.rows(), config_.output_size / 2), s);
    else
      last_loss_ = cross_entropy_forward(y, target.classes, s, mat(ws_.dy.data(), s.rows(), config_.output_size));
    copy_state(batch, h_n);
    return last_loss_.value(reduction);
  }

  // One time step of every layer for a batch with steps.steps == 1 and no lengths: y (B, O) and
  // h_next (L, B, H), which may be batch.h0 itself. Unidirectional models only (a reverse direction
  // needs the whole sequence). Stepping through a sequence equals forward over it, up to rounding.
  void step(const Batch<S>& batch, S* y, S* h_next) {
    require_unidirectional("step");
    if (batch.steps.steps != 1 || batch.steps.lengths)
      throw std::invalid_argument("a step has " + std::to_string(batch.steps.steps) +
                                  " time steps; expected 1 and no lengths");
    check(batch, "x_t");
    const Index n = config_.num_layers * batch.steps.batch * config_.hidden_size;
    grow(ws_.step, n);
    if (batch.h0)
      std::copy(batch.h0, batch.h0 + n, ws_.step.data());
    else
      std::fill(ws_.step.begin(), ws_.step.begin() + n, S(0));
    step_pass(batch.x, batch.tokens, batch.steps.batch, ws_.step.data(), y, h_next);
  }

  // For token models (input_size == output_size, unidirectional): feeds the P tokens of prime to N
  // sequences that start from h0 ((L, N, H), or null for zeros), then draws `length` tokens for each
  // into out (N, length), every token fed back. Draw i of sequence b uses counter_uniform(seed, b,
  // first_draw + i), so a call with first_draw = n continues one that drew n tokens, draw for draw.
  // h_n (L, N, H), if not null, receives the state that gave the last draw's distribution (the prime's
  // last state if length is 0): generating from [the last token] and h_n continues the sequence.
  void generate(const std::int64_t* prime, Index P, Index length, Index N, const Sampling& sampling, const S* h0,
                std::int64_t* out, S* h_n) {
    require_unidirectional("generate");
    const Index V = config_.output_size, H = config_.hidden_size, L = config_.num_layers;
    if (config_.input_size != V)
      throw std::invalid_argument("the model has input_size " + std::to_string(config_.input_size) +
                                  " and output_size " + std::to_string(V) +
                                  "; generate expects a token model, whose outputs are its inputs' classes");
    if (P < 1) throw std::invalid_argument("prime is empty; expected at least one token");
    if (length < 0) throw std::invalid_argument("length is " + std::to_string(length) + "; expected an integer >= 0");
    if (N < 1) throw std::invalid_argument("num_samples is " + std::to_string(N) + "; expected an integer >= 1");
    sampling.validate();
    for (Index p = 0; p < P; ++p)
      if (prime[p] < 0 || prime[p] >= V)
        throw std::invalid_argument("prime holds token " + std::to_string(prime[p]) + " at position " +
                                    std::to_string(p) + "; expected a class in [0, " + std::to_string(V) + ")");
    const Index n = L * N * H;
    if (h0) require_finite(h0, n, "h0");
    grow(ws_.step, 2 * n);
    grow(ws_.y, N * V);
    if (static_cast<Index>(ws_.tokens.size()) < N) ws_.tokens.resize(N);
    ws_.sampling.reserve(V);
    S* state = ws_.step.data();
    S* next = state + n;
    if (h0)
      std::copy(h0, h0 + n, state);
    else
      std::fill(state, state + n, S(0));
    auto feed = [&](auto token_of) {
      for (Index b = 0; b < N; ++b) ws_.tokens[b] = token_of(b);
      step_pass(nullptr, ws_.tokens.data(), N, state, ws_.y.data(), next);
      std::swap(state, next);
    };
    for (Index p = 0; p < P; ++p) feed([&](Index) { return prime[p]; });
    for (Index i = 0; i < length; ++i) {
      for (Index b = 0; b < N; ++b)
        out[b * length + i] = sample_logits(ws_.y.data() + b * V, V, sampling,
                                            counter_uniform(sampling.seed, b, sampling.first_draw + i), ws_.sampling);
      if (i + 1 == length) break;
      feed([&](Index b) { return out[b * length + i]; });
    }
    if (h_n) std::copy(state, state + n, h_n);
  }

  // The sum and the count behind the value the last loss call returned (what "mean" divided by), so
  // that losses over many batches can be reduced as one: sum of totals / sum of counts.
  const LossSum& last_loss() const { return last_loss_; }

  // loss_and_grad, clipping and the optimizer's update in one call that allocates nothing once warm.
  double train_step(const Batch<S>& batch, const Target<S>& target, Loss loss, Reduction reduction,
                    const Clip& clip, Optimizer<S>& opt, S* h_n) {
    check_update(clip, opt);
    return apply_update(loss_and_grad(batch, target, loss, reduction, h_n), clip, opt);
  }

  // train_step in two phases, for data parallelism: gradient_phase leaves the summed loss's gradient
  // and then the loss sum and count in reduction_buffer() and returns the sum; once the buffer holds
  // the sums over every process, update_phase divides by the count for "mean", clips, updates and
  // returns the loss. With nothing summed in between they equal train_step up to rounding.
  double gradient_phase(const Batch<S>& batch, const Target<S>& target, Loss loss, S* h_n) {
    const double total = loss_and_grad(batch, target, loss, Reduction::Sum, h_n);
    S* tail = grads_.data() + num_params();
    tail[0] = static_cast<S>(last_loss_.total);
    tail[1] = static_cast<S>(last_loss_.count);
    return total;
  }

  // The loss of the summed buffer (loss and gradients divided by the count for "mean"), which
  // last_loss() then describes.
  double reduce_phase(Reduction reduction) {
    const S* tail = grads_.data() + num_params();
    last_loss_ = LossSum{static_cast<double>(tail[0]), static_cast<Index>(std::llround(static_cast<double>(tail[1])))};
    const double scale = last_loss_.scale(reduction);
    if (scale != 1.0) one_span(grads_.data(), num_params())[0].array() *= static_cast<S>(scale);
    return last_loss_.value(reduction);
  }

  double update_phase(Reduction reduction, const Clip& clip, Optimizer<S>& opt) {
    check_update(clip, opt);
    return apply_update(reduce_phase(reduction), clip, opt);
  }

 private:
  struct Workspace {
    Buffer<S> hidden;   // L x (rows, D*H): each layer's output, kept for the backward pass
    Buffer<S> dropped;  // (L-1) x (rows, D*H): inputs of the layers above the first, after dropout
    Buffer<S> mask;     // (L-1) x (rows, D*H): 0 or 1/(1-p)
    Buffer<S> y, dy;    // (rows, O)
    Buffer<S> grad_a, grad_b;  // (rows, D*H): dL/dH of one layer and dL/dX of the next one down
    Buffer<S> state;    // (L*D, B, H): the running state, h0 in and h_n out
    Buffer<S> dstate;   // (B, H)
    Buffer<S> step;     // step: (L, B, H), the state in; generate: two (L, N, H) states in turn
    std::vector<std::int64_t> tokens;  // generate: (N) the tokens fed at one step
    SamplingScratch sampling;          // generate: one draw's probabilities and order
  };

  void check_update(const Clip& clip, const Optimizer<S>& opt) const {
    if (opt.size() != num_params())
      throw std::invalid_argument("the optimizer holds " + std::to_string(opt.size()) +
                                  " parameters; expected this model's " + std::to_string(num_params()));
    if (std::isnan(clip.value) || clip.value >= 0.0) check_threshold("clip_value", clip.value);
    if (std::isnan(clip.norm) || clip.norm >= 0.0) check_threshold("clip_norm", clip.norm);
  }

  // Clipping and the update from the gradients in grads(), whose loss is `value`.
  double apply_update(double value, const Clip& clip, Optimizer<S>& opt) {
    const auto grads = one_span(grads_.data(), num_params());
    const double norm = grad_norm(grads);
    if (!std::isfinite(value) || !std::isfinite(norm))
      throw NonFiniteError("the loss (" + std::to_string(value) + ") or the gradient norm (" + std::to_string(norm) +
                           ") is not finite; the weights were left unchanged");
    if (clip.value >= 0.0) clip_grad_value(grads, clip.value);
    if (clip.norm >= 0.0) clip_grad_norm(grads, clip.norm);
    opt.step(params_.data(), grads_.data());
    return value;
  }

  static void grow(Buffer<S>& v, Index n) {
    if (static_cast<Index>(v.size()) < n) v.resize(n);
  }

  void reserve(const Steps& s, bool training) {
    const Index rows = s.rows(), width = config_.layer_width(), L = config_.num_layers;
    grow(ws_.hidden, L * rows * width);
    grow(ws_.y, rows * config_.output_size);
    grow(ws_.state, L * config_.directions() * s.batch * config_.hidden_size);
    if (!training) return;
    if (config_.dropout > 0.0) {
      grow(ws_.dropped, (L - 1) * rows * width);
      grow(ws_.mask, (L - 1) * rows * width);
    }
    grow(ws_.dy, rows * config_.output_size);
    grow(ws_.grad_a, rows * width);
    if (L > 1) grow(ws_.grad_b, rows * width);  // dL/dX of the layers above the first
    grow(ws_.dstate, s.batch * config_.hidden_size);
  }

  S* hidden(Index layer, const Steps& s) {
    return ws_.hidden.data() + layer * s.rows() * config_.layer_width();
  }

  bool uses_dropout(bool training) const {
    return training && config_.dropout > 0.0 && config_.num_layers > 1;
  }

  LayerInput<S> layer_input(const Batch<S>& batch, Index layer, bool training) {
    if (layer == 0) return {batch.x, config_.input_size, batch.tokens};
    const Index width = config_.layer_width();
    if (uses_dropout(training))
      return {ws_.dropped.data() + (layer - 1) * batch.steps.rows() * width, width, nullptr};
    return {hidden(layer - 1, batch.steps), width, nullptr};
  }

  LayerWeights<S> weights(Index layer, Index direction) const {
    const LayerOffsets& o = layout_.layers[layer * config_.directions() + direction];
    const Index H = config_.hidden_size;
    const S* p = params_.data();
    return {cmat(p + o.W_xh, H, config_.layer_input_size(layer)), cmat(p + o.W_hh, H, H),
            ConstRowMap<S>(p + o.b_h, H)};
  }

  LayerGrads<S> layer_grads(Index layer, Index direction) {
    const LayerOffsets& o = layout_.layers[layer * config_.directions() + direction];
    const Index H = config_.hidden_size;
    S* g = grads_.data();
    return {mat(g + o.W_xh, H, config_.layer_input_size(layer)), mat(g + o.W_hh, H, H),
            RowMap<S>(g + o.b_h, H)};
  }

  S* state(Index layer, Index direction, const Steps& s) {
    return ws_.state.data() + (layer * config_.directions() + direction) * s.batch * config_.hidden_size;
  }

  const S* h0(const Batch<S>& batch, Index layer, Index direction) const {
    if (!batch.h0) return nullptr;
    return batch.h0 + (layer * config_.directions() + direction) * batch.steps.batch * config_.hidden_size;
  }

  void draw_dropout(Index layer, const Steps& s) {
    const Index n = s.rows() * config_.layer_width();
    const double p = config_.dropout;
    const S keep = static_cast<S>(1.0 / (1.0 - p));
    S* m = ws_.mask.data() + (layer - 1) * n;
    S* out = ws_.dropped.data() + (layer - 1) * n;
    const S* in = hidden(layer - 1, s);
    for (Index i = 0; i < n; ++i) {
      m[i] = dropout_rng_.uniform() < p ? S(0) : keep;
      out[i] = in[i] * m[i];
    }
  }

  // Runs every layer and the head, writing y (rows, O); the final states stay in ws_.state.
  // The workspace must be reserved for this batch first.
  void forward_pass(const Batch<S>& batch, bool training, S* y) {
    const Steps& s = batch.steps;
    const Index H = config_.hidden_size, width = config_.layer_width(), rows = s.rows();
    for (Index l = 0; l < config_.num_layers; ++l) {
      if (l > 0 && uses_dropout(training)) draw_dropout(l, s);
      const LayerInput<S> in = layer_input(batch, l, training);
      for (Index d = 0; d < config_.directions(); ++d) {
        auto st = mat(state(l, d, s), s.batch, H);
        if (const S* init = h0(batch, l, d))
          st = cmat(init, s.batch, H);
        else
          st.setZero();
        rnn_forward(in, weights(l, d), config_.nonlinearity, s, d == 1,
                    mat(hidden(l, s) + d * H, rows, H, width), st);
      }
    }
    auto out = mat(y, rows, config_.output_size);
    linear_forward(mat(hidden(config_.num_layers - 1, s), rows, width), head_weight(), head_bias(), out);
    if (s.lengths)
      for (Index r = 0; r < rows; ++r)
        if (!s.valid_row(r)) out.row(r).setZero();
  }

  // From dL/dy in ws_.dy to every gradient.
  void backward_pass(const Batch<S>& batch, S* flow) {
    const Steps& s = batch.steps;
    const Index H = config_.hidden_size, width = config_.layer_width(), rows = s.rows();
    const Index L = config_.num_layers;
    S* dh = ws_.grad_a.data();
    S* dx = ws_.grad_b.data();
    linear_backward(mat(ws_.dy.data(), rows, config_.output_size), mat(hidden(L - 1, s), rows, width),
                    head_weight(), mat(grads_.data() + layout_.W_hy, config_.output_size, width),
                    RowMap<S>(grads_.data() + layout_.b_y, config_.output_size), mat(dh, rows, width));
    for (Index l = L - 1; l >= 0; --l) {
      const LayerInput<S> in = layer_input(batch, l, true);
      auto dx_map = mat(dx, rows, width);
      if (l > 0) dx_map.setZero();
      for (Index d = 0; d < config_.directions(); ++d) {
        rnn_backward(in, weights(l, d), config_.nonlinearity, s, d == 1,
                     mat(hidden(l, s) + d * H, rows, H, width), h0(batch, l, d),
                     mat(dh + d * H, rows, H, width), mat(ws_.dstate.data(), s.batch, H),
                     layer_grads(l, d), l > 0 ? &dx_map : nullptr,
                     flow ? flow + (l * config_.directions() + d) * s.steps : nullptr);
      }
      if (l > 0 && uses_dropout(true))
        dx_map.array() *= mat(ws_.mask.data() + (l - 1) * rows * width, rows, width).array();
      std::swap(dh, dx);
    }
  }

  ConstMatMap<S> head_weight() const {
    return cmat(params_.data() + layout_.W_hy, config_.output_size, config_.layer_width());
  }
  ConstRowMap<S> head_bias() const { return ConstRowMap<S>(params_.data() + layout_.b_y, config_.output_size); }

  void copy_state(const Batch<S>& batch, S* h_n) const {
    if (!h_n) return;
    const Index n = config_.num_layers * config_.directions() * batch.steps.batch * config_.hidden_size;
    std::copy(ws_.state.data(), ws_.state.data() + n, h_n);
  }

  void require_unidirectional(const char* what) const {
    if (config_.bidirectional)
      throw std::invalid_argument(std::string("the model is bidirectional; ") + what +
                                  " needs a unidirectional one (a reverse direction needs the whole sequence)");
  }

  // One step of every layer from state (L, B, H) into h_next (L, B, H), which must not overlap it,
  // and the head into y (B, O). Arguments already checked.
  void step_pass(const S* x, const std::int64_t* tokens, Index B, const S* state, S* y, S* h_next) {
    const Index H = config_.hidden_size;
    for (Index l = 0; l < config_.num_layers; ++l) {
      const LayerInput<S> in = l == 0 ? LayerInput<S>{x, config_.input_size, tokens}
                                      : LayerInput<S>{h_next + (l - 1) * B * H, H, nullptr};
      rnn_step(in, weights(l, 0), config_.nonlinearity, B, cmat(state + l * B * H, B, H), mat(h_next + l * B * H, B, H));
    }
    auto out = mat(y, B, config_.output_size);
    step_product<S>(cmat(h_next + (config_.num_layers - 1) * B * H, B, H), head_weight(), out, false);
    out.rowwise() += head_bias();
  }

  static void require_finite(const S* data, Index n, const char* name) {
    // x * 0 is 0 for finite x and NaN otherwise: one vectorized sum tells whether to look further.
    if ((Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(data, n) * S(0)).sum() == S(0)) return;
    for (Index i = 0; i < n; ++i)
      if (!std::isfinite(data[i]))
        throw std::invalid_argument(std::string(name) + " holds a non-finite value (" +
                                    std::to_string(static_cast<double>(data[i])) + ") at flat index " +
                                    std::to_string(i) + "; expected finite numbers");
  }

  // x_name: what the caller calls the input ("x", or "x_t" for one step).
  void check(const Batch<S>& batch, const char* x_name = "x") const {
    const Steps& s = batch.steps;
    const std::string x(x_name);
    if (s.steps < 1 || s.batch < 1)
      throw std::invalid_argument(x + " has " + std::to_string(s.steps) + " steps and batch size " +
                                  std::to_string(s.batch) + "; expected at least 1 of each");
    if ((batch.x == nullptr) == (batch.tokens == nullptr))
      throw std::invalid_argument("a batch needs exactly one of " + x + " and tokens");
    if (s.lengths && s.batch > 0) {
      const auto [low, high] = std::minmax_element(s.lengths, s.lengths + s.batch);
      if (*low < 0 || *high > s.steps)
        throw std::invalid_argument("lengths holds " + std::to_string(*low) + ".." + std::to_string(*high) +
                                    "; expected each in [0, " + std::to_string(s.steps) + "]");
    }
    if (batch.x) require_finite(batch.x, s.rows() * config_.input_size, x_name);
    if (batch.tokens)
      for (Index r = 0; r < s.rows(); ++r)
        if (s.valid_row(r) && (batch.tokens[r] < 0 || batch.tokens[r] >= config_.input_size))
          throw std::invalid_argument(x + " holds token " + std::to_string(batch.tokens[r]) +
                                      (s.steps > 1 ? " at step " + std::to_string(r / s.batch) + "," : "") +
                                      " in sequence " + std::to_string(r % s.batch) + "; expected a class in [0, " +
                                      std::to_string(config_.input_size) + ")");
    if (batch.h0)
      require_finite(batch.h0, config_.num_layers * config_.directions() * s.batch * config_.hidden_size, "h0");
  }

  void check(const Batch<S>& batch, const Target<S>& target, Loss loss) const {
    const Steps& s = batch.steps;
    if (loss != Loss::CrossEntropy) {
      if (!target.values) throw std::invalid_argument("a loss of values needs a target of values");
      require_finite(target.values, s.rows() * target_width(loss, config_.output_size), "target");
      return;
    }
    if (!target.classes) throw std::invalid_argument("loss 'cross_entropy' needs a target of class indices");
    for (Index r = 0; r < s.rows(); ++r) {
      const std::int64_t c = target.classes[r];
      if (s.valid_row(r) && c != ignore_index && (c < 0 || c >= config_.output_size))
        throw std::invalid_argument("target holds class " + std::to_string(c) + " at step " +
                                    std::to_string(r / s.batch) + ", sequence " + std::to_string(r % s.batch) +
                                    "; expected a class in [0, " + std::to_string(config_.output_size) +
                                    ") or " + std::to_string(ignore_index) + " to ignore");
    }
  }

  Config config_;
  ParamLayout layout_;
  Buffer<S> params_;
  Buffer<S> grads_;
  Rng dropout_rng_;
  Workspace ws_;
  LossSum last_loss_;
};

}  // namespace elman
