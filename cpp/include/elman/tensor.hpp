// Row-major Eigen views over caller memory, and the description of a batch of sequences.
#pragma once

#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "elman/config.hpp"

namespace elman {

template <typename S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using MatMap = Eigen::Map<Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename S>
using ConstMatMap = Eigen::Map<const Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <typename S>
using RowMap = Eigen::Map<Eigen::Matrix<S, 1, Eigen::Dynamic>>;
template <typename S>
using ConstRowMap = Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>;

// Storage for parameters, gradients and activations. Aligned to Eigen's SIMD width so that equal
// calls on equal models take the same kernel paths and give the same bits.
template <typename S>
using Buffer = std::vector<S, Eigen::aligned_allocator<S>>;

// A (rows, cols) view with rows `ld` elements apart.
template <typename S>
MatMap<S> mat(S* data, Index rows, Index cols, Index ld) {
  return MatMap<S>(data, rows, cols, Eigen::OuterStride<>(ld));
}
template <typename S>
MatMap<S> mat(S* data, Index rows, Index cols) {
  return mat(data, rows, cols, cols);
}
template <typename S>
ConstMatMap<S> cmat(const S* data, Index rows, Index cols, Index ld) {
  return ConstMatMap<S>(data, rows, cols, Eigen::OuterStride<>(ld));
}
template <typename S>
ConstMatMap<S> cmat(const S* data, Index rows, Index cols) {
  return cmat(data, rows, cols, cols);
}

// Time steps and batch of a time-major batch: row t * batch + b of every (T*B, F) matrix is
// sequence b at step t. lengths (B), when given, marks steps t >= lengths[b] as padding.
struct Steps {
  Index steps = 0;
  Index batch = 0;
  const std::int64_t* lengths = nullptr;

  Index rows() const { return steps * batch; }
  Index length(Index b) const { return lengths ? static_cast<Index>(lengths[b]) : steps; }
  bool valid(Index t, Index b) const { return !lengths || t < lengths[b]; }
  bool valid_row(Index row) const { return valid(row / batch, row % batch); }
};

// The input of a layer: a dense (T*B, I) matrix or, for the first layer, T*B class ids in [0, I)
// standing for one-hot rows (never built).
template <typename S>
struct LayerInput {
  const S* dense = nullptr;
  Index ld = 0;  // row stride of dense
  const std::int64_t* tokens = nullptr;
};

}  // namespace elman
