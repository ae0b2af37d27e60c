// Drawing a token from a model's outputs: softmax(y / temperature), restricted first to the top_k
// likeliest, then to the smallest set whose probability reaches top_p; temperature 0 is argmax. The
// draws come from a counter-based generator, one value per (seed, sequence, position), so they are
// the same on every platform, whatever the batch or the number of threads.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "elman/config.hpp"
#include "elman/errors.hpp"

namespace elman {

struct Sampling {
  double temperature = 1.0;      // >= 0; 0 is greedy
  std::optional<Index> top_k;    // >= 1, or all classes
  std::optional<double> top_p;   // in (0, 1], or all classes
  std::uint64_t seed = 0;
  std::uint64_t first_draw = 0;  // the counter of a sequence's first draw: > 0 continues an earlier call

  void validate() const {
    if (!(std::isfinite(temperature) && temperature >= 0.0))
      throw std::invalid_argument("temperature is " + number_str(temperature) + "; expected a finite number >= 0");
    if (top_k && *top_k < 1)
      throw std::invalid_argument("top_k is " + std::to_string(*top_k) + "; expected an integer >= 1");
    if (top_p && !(*top_p > 0.0 && *top_p <= 1.0))
      throw std::invalid_argument("top_p is " + number_str(*top_p) + "; expected a number in (0, 1]");
  }
};

// Uniform in [0, 1), 53 bits, from (seed, stream, counter) alone: splitmix64's finalizer applied to
// each word in turn (a keyed hash; no state carried from one draw to the next).
inline double counter_uniform(std::uint64_t seed, std::uint64_t stream, std::uint64_t counter) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const std::uint64_t z = mix(mix(mix(seed) ^ stream) ^ counter);
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Scratch of one draw, sized to the number of classes once and reused.
struct SamplingScratch {
  std::vector<double> p;
  std::vector<Index> order;
  void reserve(Index n) {
    if (static_cast<Index>(p.size()) < n) {
      p.resize(n);
      order.resize(n);
    }
  }
};

// One class of logits (n) drawn with u in [0, 1). Ties between classes are broken by their index.
template <typename S>
Index sample_logits(const S* logits, Index n, const Sampling& s, double u, SamplingScratch& scratch) {
  if (s.temperature == 0.0) return std::max_element(logits, logits + n) - logits;
  scratch.reserve(n);
  Index* order = scratch.order.data();
  double* p = scratch.p.data();
  for (Index i = 0; i < n; ++i) order[i] = i;
  const auto likelier = [logits](Index a, Index b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  Index kept = n;
  if (s.top_k && *s.top_k < n) {
    kept = *s.top_k;
    std::partial_sort(order, order + kept, order + n, likelier);
  } else if (s.top_p) {
    std::sort(order, order + n, likelier);
  }
  // Probabilities of the kept classes, in double, relative to the largest logit.
  double top = -INFINITY;
  for (Index i = 0; i < kept; ++i) top = std::max(top, static_cast<double>(logits[order[i]]));
  double total = 0.0;
  for (Index i = 0; i < kept; ++i) total += p[i] = std::exp((static_cast<double>(logits[order[i]]) - top) / s.temperature);
  if (s.top_p) {  // the kept classes are sorted, likeliest first: keep the shortest prefix reaching top_p
    double mass = 0.0;
    Index prefix = 0;
    while (prefix < kept) {
      mass += p[prefix++];
      if (mass >= *s.top_p * total) break;
    }
    kept = prefix;
    total = mass;
  }
  const double target = u * total;
  double cumulative = 0.0;
  for (Index i = 0; i < kept; ++i) {
    cumulative += p[i];
    if (target < cumulative) return order[i];
  }
  return order[kept - 1];  // u * total rounded up to the total
}

}  // namespace elman
