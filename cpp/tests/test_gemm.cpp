// gemm and PackedB against a plain triple loop in long double, over shapes that cross every edge of
// the blocking: one row, rows and columns that are not multiples of the register tile, depths past
// one packed block, transposed and strided operands, accumulate and overwrite.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "check.hpp"
#include "elman/gemm.hpp"
#include "elman/random.hpp"

namespace {

using elman::Index;

template <typename S>
using Matrix = elman::Matrix<S>;

template <typename S>
Matrix<S> random_matrix(Index rows, Index cols, elman::Rng& rng) {
  Matrix<S> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<S>(rng.uniform(-1.0, 1.0));
  return m;
}

// c0 + a b, element by element, in long double.
template <typename S, typename A, typename B>
Matrix<S> reference(const A& a, const B& b, const Matrix<S>& c0, bool accumulate) {
  Matrix<S> out(a.rows(), b.cols());
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < b.cols(); ++j) {
      long double sum = accumulate ? c0(i, j) : 0.0L;
      for (Index k = 0; k < a.cols(); ++k) sum += static_cast<long double>(a(i, k)) * b(k, j);
      out(i, j) = static_cast<S>(sum);
    }
  return out;
}

// Relative to the size of the terms summed: K roundings of numbers up to 1 in magnitude.
template <typename S>
void check_close(const Matrix<S>& got, const Matrix<S>& want, Index K, const std::string& what) {
  const double tol = 4.0 * (K + 1) * static_cast<double>(Eigen::NumTraits<S>::epsilon());
  double worst = 0.0;
  for (Index i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(got.data()[i]) - static_cast<double>(want.data()[i])));
  char numbers[64];
  std::snprintf(numbers, sizeof numbers, "%.3g > %.3g", worst, tol);
  CHECK_MSG(worst <= tol, what + ": max error " + numbers);
}

// An epilogue that depends on the value and on where it goes: 2 v + (64 i + j) / 4096.
struct Marked {
  template <typename S>
  static S mark(Index i, Index j) {
    return static_cast<S>(64 * i + j) / S(4096);
  }
  template <typename V>
  V operator()(const V& v, Index i, Index j) const {
    using namespace Eigen::internal;
    using S = typename unpacket_traits<V>::type;
    if constexpr (std::is_same_v<V, S>) {
      return S(2) * v + mark<S>(i, j);
    } else {
      const V lane = pmul(plset<V>(S(0)), pset1<V>(S(1) / S(4096)));
      return padd(pmul(pset1<V>(S(2)), v), padd(pset1<V>(mark<S>(i, j)), lane));
    }
  }
};

template <typename S>
Matrix<S> marked(Matrix<S> c) {
  for (Index i = 0; i < c.rows(); ++i)
    for (Index j = 0; j < c.cols(); ++j) c(i, j) = S(2) * c(i, j) + Marked::mark<S>(i, j);
  return c;
}

// gemm and PackedB, each without and with an epilogue: c0 [+] op(a) b, op(a) = a or its transpose.
template <typename S, typename B>
void check_products(const Matrix<S>& a, bool transposed, const B& b, const Matrix<S>& c0, bool accumulate,
                    const std::string& what) {
  const Index K = b.rows();
  const Matrix<S> want =
      transposed ? reference<S>(a.transpose(), b, c0, accumulate) : reference<S>(a, b, c0, accumulate);
  Matrix<S> c = c0;
  if (transposed)
    elman::gemm(a.transpose(), b, c, accumulate);
  else
    elman::gemm(a, b, c, accumulate);
  check_close(c, want, K, "gemm " + what);

  c = c0;  // the epilogue, once, after the last block of K
  if (transposed)
    elman::gemm(a.transpose(), b, c, accumulate, Marked());
  else
    elman::gemm(a, b, c, accumulate, Marked());
  check_close(c, marked(want), 2 * K, "gemm with an epilogue " + what);

  elman::PackedB<S> packed;
  packed.pack(b);
  c = c0;
  if (transposed)
    packed.multiply(a.transpose(), c, accumulate);
  else
    packed.multiply(a, c, accumulate);
  check_close(c, want, K, "PackedB " + what);

  c = c0;
  if (transposed)
    packed.multiply(a.transpose(), c, accumulate, Marked());
  else
    packed.multiply(a, c, accumulate, Marked());
  check_close(c, marked(want), 2 * K, "PackedB with an epilogue " + what);
}

// Sorted, without duplicates and without values below 1 (lanes - 1 is 0 without vectorization).
std::vector<Index> sizes(std::initializer_list<Index> list) {
  std::vector<Index> v;
  for (Index n : list)
    if (n >= 1) v.push_back(n);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::string join(const std::vector<Index>& v) {
  std::string s;
  for (Index n : v) s += (s.empty() ? "" : " ") + std::to_string(n);
  return s;
}

// The shapes come from the blocking constants of the build (which depend on its SIMD: NR is 16 float
// columns with AVX2, 32 with AVX-512), so that every path of the packing and of the tiles runs for
// float and for double:
// - rows: each register tile height 1..MR, more than one tile, and past one block of MC rows (a last
//   block of one row, and one of a full tile and a partial one);
// - depths: one and a few, past one lanes x lanes block of a transposed B with a remainder, one full
//   block of KC, and two or three blocks with remainders;
// - columns: one, a packet and around it, one panel (NR) and one more, the three-panel row tile,
//   and around the width up to which a transposed A is read in place rather than packed (pack_a).
template <typename S>
void shapes() {
  using T = elman::gemm_detail::Tile<S>;
  constexpr Index L = T::lanes, NR = T::NR, MR = T::MR, KC = T::KC, MC = T::MC;
  // multiply_packed reads a transposed A in place up to 4 panels of B (n <= 4 NR), and packs it past that.
  constexpr Index in_place_cols = 4 * NR;
  const std::vector<Index> rows = sizes({1, 2, 3, 4, MR - 1, MR, MR + 1, 2 * MR + 1, MC + 1, MC + MR + 2});
  const std::vector<Index> depths = sizes({1, 3, 2 * L - 1, KC, KC + 44, 2 * KC + 18});
  const std::vector<Index> cols = sizes({1, L - 1, L, L + 1, NR, NR + 1, 3 * NR, in_place_cols, in_place_cols + 1,
                                         in_place_cols + NR + L + 1});
  const std::string type = sizeof(S) == 4 ? "float" : "double";
  std::printf("%s: lanes %ld, MR %ld, NR %ld, KC %ld, MC %ld; rows %s; depths %s; columns %s\n", type.c_str(),
              long(L), long(MR), long(NR), long(KC), long(MC), join(rows).c_str(), join(depths).c_str(),
              join(cols).c_str());
  CHECK(cols.back() > in_place_cols && rows.back() > MC && depths.back() > 2 * KC);
  elman::Rng rng(7);
  for (Index M : rows)
    for (Index K : depths)
      for (Index N : cols)
        for (int variant = 0; variant < 8; ++variant) {
          const bool transposed = variant & 1, accumulate = variant & 2, b_transposed = variant & 4;
          const std::string what = type + " M=" + std::to_string(M) + " K=" + std::to_string(K) +
                                   " N=" + std::to_string(N) + (transposed ? " A^T" : "") +
                                   (b_transposed ? " B^T" : "") + (accumulate ? " +=" : " =");
          // A read through a transpose is packed when N > in_place_cols; a plain one is read in place.
          // B is a block of a wider matrix, so its rows are not contiguous with each other, or the
          // transpose of a block of a taller one, packed column by column.
          const Matrix<S> a_store = transposed ? random_matrix<S>(K, M, rng) : random_matrix<S>(M, K, rng);
          const Matrix<S> b_store = b_transposed ? random_matrix<S>(N + 3, K, rng) : random_matrix<S>(K, N + 3, rng);
          const Matrix<S> c0 = random_matrix<S>(M, N, rng);
          if (b_transposed)
            check_products(a_store, transposed, b_store.middleRows(1, N).transpose(), c0, accumulate, what);
          else
            check_products(a_store, transposed, b_store.middleCols(1, N), c0, accumulate, what);
        }
}

// A product over nothing (K = 0) leaves c or zeroes it.
void empty_depth() {
  Matrix<float> a(3, 0), b(0, 4), c = Matrix<float>::Constant(3, 4, 2.0f);
  elman::gemm(a, b, c, true);
  CHECK(c.isConstant(2.0f));
  elman::gemm(a, b, c, false);
  CHECK(c.isZero());
  elman::gemm(a, b, c, true, Marked());  // the epilogue still runs
  CHECK(c.isApprox(marked(Matrix<float>(Matrix<float>::Zero(3, 4)))));

  elman::PackedB<float> packed;
  packed.pack(b);
  c.setConstant(2.0f);
  packed.multiply(a, c, true);
  CHECK(c.isConstant(2.0f));
  packed.multiply(a, c, false);
  CHECK(c.isZero());
  packed.multiply(a, c, true, Marked());  // the epilogue still runs
  CHECK(c.isApprox(marked(Matrix<float>(Matrix<float>::Zero(3, 4)))));
}

// apply_epilogue gives what a product's epilogue gives, to the last bit, at every width.
template <typename S>
void epilogue_alone() {
  elman::Rng rng(11);
  for (Index N : {1, 3, 8, 15, 16, 17, 33}) {
    const Matrix<S> a = random_matrix<S>(3, 5, rng), b = random_matrix<S>(5, N, rng);
    Matrix<S> fused(3, N), separate(3, N);
    elman::PackedB<S> packed;
    packed.pack(b);
    packed.multiply(a, fused, false, Marked());
    packed.multiply(a, separate, false);
    elman::apply_epilogue(Marked(), separate);
    CHECK_MSG(fused == separate, "N=" + std::to_string(N));
  }
}

}  // namespace

int main() {
  shapes<float>();
  shapes<double>();
  empty_depth();
  epilogue_alone<float>();
  epilogue_alone<double>();
  return check::report("test_gemm");
}
