// Optimizers over the flat parameter buffer, each exactly PyTorch's update rule (torch.optim, with
// dampening 0, no lr decay, centered=False, amsgrad=False). State lives in twin buffers of the same
// size as the parameters, so a step is one pass over a few arrays.
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

#include <Eigen/Core>

#include "elman/config.hpp"
#include "elman/errors.hpp"
#include "elman/tensor.hpp"

namespace elman {

enum class OptimizerKind { SGD, Adagrad, RMSprop, Adam };

inline OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "sgd") return OptimizerKind::SGD;
  if (name == "adagrad") return OptimizerKind::Adagrad;
  if (name == "rmsprop") return OptimizerKind::RMSprop;
  if (name == "adam") return OptimizerKind::Adam;
  throw std::invalid_argument("optimizer is '" + name + "'; expected 'sgd', 'adagrad', 'rmsprop' or 'adam'");
}

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::SGD;
  double lr = 0.01;
  double momentum = 0.0;      // SGD, RMSprop
  bool nesterov = false;      // SGD
  double weight_decay = 0.0;  // SGD, Adam
  double eps = 1e-8;          // Adagrad, RMSprop, Adam
  double alpha = 0.99;        // RMSprop
  double beta1 = 0.9, beta2 = 0.999;  // Adam
  bool decoupled = false;     // Adam: AdamW's weight decay

  void validate() const {
    auto require = [](bool ok, const char* name, double value, const char* expected) {
      if (!ok)
        throw std::invalid_argument(std::string(name) + " is " + number_str(value) + "; expected " + expected);
    };
    require(std::isfinite(lr) && lr >= 0.0, "lr", lr, "a finite number >= 0");
    require(std::isfinite(momentum) && momentum >= 0.0, "momentum", momentum, "a finite number >= 0");
    require(std::isfinite(weight_decay) && weight_decay >= 0.0, "weight_decay", weight_decay, "a finite number >= 0");
    require(std::isfinite(eps) && eps >= 0.0, "eps", eps, "a finite number >= 0");
    require(alpha >= 0.0 && alpha <= 1.0, "alpha", alpha, "a number in [0, 1]");
    require(beta1 >= 0.0 && beta1 < 1.0, "betas[0]", beta1, "a number in [0, 1)");
    require(beta2 >= 0.0 && beta2 < 1.0, "betas[1]", beta2, "a number in [0, 1)");
    if (nesterov && momentum <= 0.0)
      throw std::invalid_argument("nesterov is True with momentum " + number_str(momentum) +
                                  "; expected momentum > 0 (PyTorch's rule)");
  }
};

template <typename S>
class Optimizer {
 public:
  using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
  using ArrayMap = Eigen::Map<Array>;
  using ConstArrayMap = Eigen::Map<const Array>;

  Optimizer(const OptimizerConfig& config, Index size)
      : config_((config.validate(), config)), size_(size), first_(size, S(0)), second_(size, S(0)) {}

  const OptimizerConfig& config() const { return config_; }
  Index size() const { return size_; }
  long long steps() const { return steps_; }

  // First and second state buffers: momentum or exp_avg, and sum of squares, square_avg or exp_avg_sq.
  S* first() { return first_.data(); }
  S* second() { return second_.data(); }
  void set_steps(long long steps) {
    if (steps < 0) throw std::invalid_argument("step is " + std::to_string(steps) + "; expected an integer >= 0");
    steps_ = steps;
  }

  void set_lr(double lr) {
    OptimizerConfig c = config_;
    c.lr = lr;
    c.validate();
    config_ = c;
  }

  // params -= update(grads). grads are not modified.
  void step(S* params, const S* grads) {
    ArrayMap p(params, size_);
    ConstArrayMap g(grads, size_);
    ArrayMap m(first_.data(), size_), v(second_.data(), size_);
    const OptimizerConfig& c = config_;
    const S lr = static_cast<S>(c.lr), wd = static_cast<S>(c.weight_decay), eps = static_cast<S>(c.eps);
    ++steps_;
    switch (c.kind) {
      case OptimizerKind::SGD: {
        const S mu = static_cast<S>(c.momentum);
        if (mu == S(0)) {
          p -= lr * (g + wd * p);
          break;
        }
        const auto grad = g + wd * p;
        if (steps_ == 1)
          m = grad;
        else
          m = mu * m + grad;
        if (c.nesterov)
          p -= lr * (grad + mu * m);
        else
          p -= lr * m;
        break;
      }
      case OptimizerKind::Adagrad:
        v += g.square();
        p -= lr * g / (v.sqrt() + eps);
        break;
      case OptimizerKind::RMSprop: {
        const S alpha = static_cast<S>(c.alpha), mu = static_cast<S>(c.momentum);
        v = alpha * v + (S(1) - alpha) * g.square();
        if (mu > S(0)) {
          m = mu * m + g / (v.sqrt() + eps);
          p -= lr * m;
        } else {
          p -= lr * g / (v.sqrt() + eps);
        }
        break;
      }
      case OptimizerKind::Adam: {
        const S b1 = static_cast<S>(c.beta1), b2 = static_cast<S>(c.beta2);
        if (c.decoupled) p *= S(1) - lr * wd;
        const auto grad = g + (c.decoupled ? S(0) : wd) * p;  // an expression: nothing allocated
        m += (S(1) - b1) * (grad - m);                         // torch's lerp
        v = b2 * v + (S(1) - b2) * grad.square();
        const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(steps_));
        const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(steps_));
        const S step_size = static_cast<S>(c.lr / bc1);
        const S bc2_sqrt = static_cast<S>(std::sqrt(bc2));
        p -= step_size * m / (v.sqrt() / bc2_sqrt + eps);
        break;
      }
    }
  }

 private:
  OptimizerConfig config_;
  Index size_;
  Buffer<S> first_, second_;
  long long steps_ = 0;
};

}  // namespace elman
