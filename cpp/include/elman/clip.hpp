// Gradient clipping. A model's gradients are one flat buffer, so the usual call passes one span;
// several spans (any container of Span) are clipped as if they were one array.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "elman/config.hpp"
#include "elman/errors.hpp"

namespace elman {

template <typename S>
struct Span {
  S* data;
  Index size;
  Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>> array() const { return {data, size}; }
};

inline void check_threshold(const char* name, double value) {
  if (!(value >= 0.0) || std::isinf(value))
    throw std::invalid_argument(std::string(name) + " is " + number_str(value) + "; expected a finite number >= 0");
}

// Each element into [-threshold, threshold] (min-char-rnn's np.clip rule).
template <typename Spans>
void clip_grad_value(const Spans& grads, double threshold) {
  check_threshold("threshold", threshold);
  for (const auto& g : grads) {
    using S = std::remove_pointer_t<decltype(g.data)>;
    const S t = static_cast<S>(threshold);
    g.array() = g.array().max(-t).min(t);
  }
}

template <typename Spans>
double grad_norm(const Spans& grads) {
  double sum = 0.0;
  for (const auto& g : grads) sum += static_cast<double>(g.array().matrix().squaredNorm());
  return std::sqrt(sum);
}

// PyTorch's clip_grad_norm_: scale by min(1, max_norm / (total + 1e-6)); returns the total norm
// measured before scaling.
template <typename Spans>
double clip_grad_norm(const Spans& grads, double max_norm) {
  check_threshold("max_norm", max_norm);
  const double total = grad_norm(grads);
  const double coef = std::min(1.0, max_norm / (total + 1e-6));
  for (const auto& g : grads) g.array() *= static_cast<std::remove_pointer_t<decltype(g.data)>>(coef);
  return total;
}

template <typename S>
std::array<Span<S>, 1> one_span(S* data, Index n) {
  return {Span<S>{data, n}};
}

template <typename S>
void clip_grad_value(S* grads, Index n, double threshold) {
  clip_grad_value(one_span(grads, n), threshold);
}

template <typename S>
double clip_grad_norm(S* grads, Index n, double max_norm) {
  return clip_grad_norm(one_span(grads, n), max_norm);
}

}  // namespace elman
