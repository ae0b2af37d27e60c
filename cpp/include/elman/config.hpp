// Model configuration and the layout of every parameter inside the one flat buffer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "elman/errors.hpp"

namespace elman {

using Index = Eigen::Index;

enum class Nonlinearity { Tanh, Relu };
enum class Init { Uniform, Normal, Orthogonal };

inline Nonlinearity parse_nonlinearity(const std::string& name) {
  if (name == "tanh") return Nonlinearity::Tanh;
  if (name == "relu") return Nonlinearity::Relu;
  throw std::invalid_argument("nonlinearity is '" + name + "'; expected 'tanh' or 'relu'");
}

inline Init parse_init(const std::string& name) {
  if (name == "uniform") return Init::Uniform;
  if (name == "normal") return Init::Normal;
  if (name == "orthogonal") return Init::Orthogonal;
  throw std::invalid_argument("init is '" + name + "'; expected 'uniform', 'normal' or 'orthogonal'");
}

inline const char* name_of(Nonlinearity n) { return n == Nonlinearity::Tanh ? "tanh" : "relu"; }
inline const char* name_of(Init i) {
  return i == Init::Uniform ? "uniform" : i == Init::Normal ? "normal" : "orthogonal";
}

struct Config {
  Index input_size = 0;
  Index hidden_size = 0;
  Index output_size = 0;
  Index num_layers = 1;
  Nonlinearity nonlinearity = Nonlinearity::Tanh;
  bool bidirectional = false;
  double dropout = 0.0;  // between stacked layers, training calls only
  Init init = Init::Uniform;
  std::uint64_t seed = 0;

  Index directions() const { return bidirectional ? 2 : 1; }
  // Width of a layer's output: both directions side by side.
  Index layer_width() const { return directions() * hidden_size; }
  Index layer_input_size(Index layer) const { return layer == 0 ? input_size : layer_width(); }

  void validate() const {
    auto positive = [](const char* name, Index v) {
      if (v < 1)
        throw std::invalid_argument(std::string(name) + " is " + std::to_string(v) +
                                    "; expected an integer >= 1");
    };
    positive("input_size", input_size);
    positive("hidden_size", hidden_size);
    positive("output_size", output_size);
    positive("num_layers", num_layers);
    // Sizes whose products stay far from overflow: a wrapped parameter count would allocate a
    // buffer smaller than the views into it.
    const double limit = double(Index(1) << 24);
    for (auto [name, v] : {std::pair<const char*, Index>{"input_size", input_size}, {"hidden_size", hidden_size},
                           {"output_size", output_size}, {"num_layers", num_layers}})
      if (double(v) > limit)
        throw std::invalid_argument(std::string(name) + " is " + std::to_string(v) + "; expected at most 2**24");
    const double D = bidirectional ? 2.0 : 1.0, H = double(hidden_size), width = D * H;
    const double count = double(num_layers) * D * H * (std::max(double(input_size), width) + H + 1) +
                         double(output_size) * (width + 1);
    if (count > double(Index(1) << 40))
      throw std::invalid_argument("these sizes make " + std::to_string(count) + " parameters; expected at most 2**40");
    if (!(dropout >= 0.0 && dropout < 1.0))
      throw std::invalid_argument("dropout is " + number_str(dropout) + "; expected a number in [0, 1)");
  }
};

// One named tensor inside the flat parameter buffer. Biases have rows == 1 and are reported as 1-D.
struct TensorInfo {
  std::string name;
  Index rows;
  Index cols;
  Index offset;
  bool is_vector;
  Index size() const { return rows * cols; }
};

// Offsets of one direction of one layer: W_xh (H, I_l), W_hh (H, H), b_h (H).
struct LayerOffsets {
  Index W_xh, W_hh, b_h;
};

// Where every parameter lives, and the one place its names are made: per layer, the forward direction
// (W_xh_l{k}, W_hh_l{k}, b_h_l{k}) then the reverse one (the same with _reverse), then the head
// W_hy (O, D*H) and b_y (O). Python's m.params, the files and the interop all read this layout.
struct ParamLayout {
  std::vector<LayerOffsets> layers;  // index layer * D + direction
  Index W_hy = 0, b_y = 0;
  Index total = 0;
  std::vector<TensorInfo> tensors;

  explicit ParamLayout(const Config& c) {
    const Index H = c.hidden_size;
    auto add = [this](std::string name, Index rows, Index cols, bool is_vector) {
      tensors.push_back({std::move(name), rows, cols, total, is_vector});
      total += rows * cols;
      return tensors.back().offset;
    };
    for (Index l = 0; l < c.num_layers; ++l) {
      for (Index d = 0; d < c.directions(); ++d) {
        const std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
        LayerOffsets o;
        o.W_xh = add("W_xh" + suffix, H, c.layer_input_size(l), false);
        o.W_hh = add("W_hh" + suffix, H, H, false);
        o.b_h = add("b_h" + suffix, 1, H, true);
        layers.push_back(o);
      }
    }
    W_hy = add("W_hy", c.output_size, c.layer_width(), false);
    b_y = add("b_y", 1, c.output_size, true);
  }
};

}  // namespace elman
