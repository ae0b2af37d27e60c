// Matrix products C = [C +] A B for the layers, in the blocked form of BLIS (Goto's algorithm): B is
// packed into panels NR columns wide, A into panels MR rows tall (or read in place when packing would
// not pay), and an MR x NR register tile of C is built from them; an epilogue can transform C on its
// way to memory (the recurrence's activation, a bias). Written here rather than left to
// Eigen because a training step reuses one B many times (W_hh at every time step) and can pack it
// once (PackedB), and because Eigen's own product ran at about 50-60 GFLOP/s on one AVX2 core where
// this one runs at 75-95 (measured on the development machine). The SIMD is Eigen's packet layer, so
// the same code compiles for SSE2, AVX2+FMA, AVX-512 or NEON.
#pragma once

#include <algorithm>
#include <type_traits>

#include <Eigen/Core>

#include "elman/config.hpp"
#include "elman/tensor.hpp"

namespace elman {

// An epilogue maps each finished element of a product's C on its way to memory, for work that would
// otherwise read C back: e(v, i, j) for a packet v of row i, columns j to j + lanes - 1, and for a
// single element (i, j). The identity stores C as it is.
struct NoEpilogue {
  template <typename V>
  V operator()(const V& v, Index, Index) const {
    return v;
  }
};

// Adds a row vector to every row of C: the bias of an affine map.
template <typename S>
struct AddRow {
  const S* row;

  S operator()(S v, Index, Index j) const { return v + row[j]; }

  template <typename P>
  P operator()(const P& v, Index, Index j) const {
    return Eigen::internal::padd(v, Eigen::internal::ploadu<P>(row + j));
  }
};

namespace gemm_detail {

template <typename S>
struct Tile {
  using Packet = typename Eigen::internal::packet_traits<S>::type;
  static constexpr Index lanes = Eigen::internal::unpacket_traits<Packet>::size;
  static constexpr Index MR = 6;          // rows of the register tile: 12 accumulators, 2 loads of B
  static constexpr Index NR = 2 * lanes;  // columns: two packets
  static constexpr Index KC = 256;        // depth of a packed block: a B panel (KC x NR) stays in L1
  static constexpr Index MC = 72;         // rows of a packed A block (MC x KC), which stays in L2
};

inline Index round_up(Index n, Index to) { return (n + to - 1) / to * to; }

// A strided view: element (i, j) at data[i * rs + j * cs]. Any direct-access Eigen expression,
// including a transposed one, converts to it without copying.
template <typename S>
struct View {
  const S* data;
  Index rows, cols, rs, cs;
  const S& operator()(Index i, Index j) const { return data[i * rs + j * cs]; }
};

template <typename Expr>
View<typename Expr::Scalar> view(const Expr& e) {
  return {e.data(), e.rows(), e.cols(), e.rowStride(), e.colStride()};
}

// Rows r0..r0+kc-1 of b, all its columns, into panels of NR: panel p holds (kc, NR), row-major,
// zero past the last column. dst holds kc * round_up(cols, NR). Rows of b are copied as runs when
// contiguous. A transposed operand (columns contiguous) goes in blocks of lanes x lanes transposed
// in registers; anything else, element by element.
template <typename S>
void pack_b(const View<S>& b, Index r0, Index kc, S* dst) {
  using namespace Eigen::internal;
  using P = typename Tile<S>::Packet;
  constexpr Index NR = Tile<S>::NR, L = Tile<S>::lanes;
  for (Index j0 = 0; j0 < b.cols; j0 += NR, dst += kc * NR) {
    const Index nr = std::min(NR, b.cols - j0);
    if (nr < NR) std::fill(dst, dst + kc * NR, S(0));
    if (b.cs == 1) {
      for (Index k = 0; k < kc; ++k) {
        const S* src = &b(r0 + k, j0);
        Index j = 0;
        for (; j + L <= nr; j += L) pstoreu(dst + k * NR + j, ploadu<P>(src + j));
        for (; j < nr; ++j) dst[k * NR + j] = src[j];
      }
      continue;
    }
    Index j = 0;
    for (; b.rs == 1 && j + L <= nr; j += L) {
      Index k = 0;
      for (; k + L <= kc; k += L) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // P's alignment, which PacketBlock's array keeps
        PacketBlock<P> block;  // column j + c of b, rows k.., then transposed into row k + c, columns j..
#pragma GCC diagnostic pop
        for (Index c = 0; c < L; ++c) block.packet[c] = ploadu<P>(&b(r0 + k, j0 + j + c));
        ptranspose(block);
        for (Index c = 0; c < L; ++c) pstoreu(dst + (k + c) * NR + j, block.packet[c]);
      }
      for (; k < kc; ++k)
        for (Index c = 0; c < L; ++c) dst[k * NR + j + c] = b(r0 + k, j0 + j + c);
    }
    for (; j < nr; ++j) {
      const S* src = &b(r0, j0 + j);
      for (Index k = 0; k < kc; ++k) dst[k * NR + j] = src[k * b.rs];
    }
  }
}

// Block (mc, kc) of a at (i0, k0) into panels of MR rows: panel p holds (kc, MR), zero past the last row.
template <typename S>
void pack_a(const View<S>& a, Index i0, Index mc, Index k0, Index kc, S* dst) {
  constexpr Index MR = Tile<S>::MR;
  for (Index p = 0; p < mc; p += MR) {
    const Index mr = std::min(MR, mc - p);
    const S* src = &a(i0 + p, k0);
    if (mr == MR && a.rs == 1) {  // a transposed operand: each k's MR values are adjacent
      for (Index k = 0; k < kc; ++k, dst += MR, src += a.cs)
        for (Index r = 0; r < MR; ++r) dst[r] = src[r];
      continue;
    }
    for (Index k = 0; k < kc; ++k, dst += MR, src += a.cs)
      for (Index r = 0; r < MR; ++r) dst[r] = r < mr ? src[r * a.rs] : S(0);
  }
}

// c[0, nr) = e(c[0, nr) [+] the W packets v), nr <= W * lanes; c[0] is C's element (i, j).
template <int W, typename P, typename S, typename E>
EIGEN_ALWAYS_INLINE void store(const P (&v)[W], S* c, Index nr, bool accumulate, const E& e, Index i, Index j) {
  using namespace Eigen::internal;
  constexpr Index L = Tile<S>::lanes;
  if (nr == W * L) {
    for (int w = 0; w < W; ++w)
      pstoreu(c + w * L, e(accumulate ? padd(v[w], ploadu<P>(c + w * L)) : v[w], i, j + w * L));
    return;
  }
  alignas(64) S row[W * L];
  for (int w = 0; w < W; ++w) pstore(row + w * L, v[w]);
  for (Index k = 0; k < nr; ++k) c[k] = e(accumulate ? c[k] + row[k] : row[k], i, j + k);
}

// The register tile: C (R rows, nr <= W * lanes columns, row stride ldc) [+]= A (R, kc) x B panel
// (kc, NR), of which the first W packets are used (W = 1 for a last panel at most half full), then
// e(·, i, j) on the way out; the tile's first element is C's (i, j).
// A's element (r, k) is at a[r * ars + k * aks]: a packed panel (ars 1, aks MR) or A read in place
// (its own strides). With one or two rows, sums over k modulo 4 or 2 are kept apart, so that
// the chains of dependent multiply-adds stay short enough for the FMA units to overlap them.
template <int R, int W, typename S, typename E>
void tile(Index kc, const S* a, Index ars, Index aks, const S* b, S* c, Index ldc, Index nr, bool accumulate,
          const E& e, Index i, Index j) {
  using namespace Eigen::internal;
  using P = typename Tile<S>::Packet;
  constexpr Index L = Tile<S>::lanes, NR = Tile<S>::NR;
  constexpr int sets = R == 1 ? 4 : R == 2 ? 2 : 1;
  P acc[sets][R][W];
  for (int s = 0; s < sets; ++s)
    for (int r = 0; r < R; ++r)
      for (int w = 0; w < W; ++w) acc[s][r][w] = pset1<P>(S(0));
  const S* ar[R];
  for (int r = 0; r < R; ++r) ar[r] = a + r * ars;
  auto step = [&](Index k, P(&sum)[R][W]) {
    P bw[W];
    for (int w = 0; w < W; ++w) bw[w] = pload<P>(b + k * NR + w * L);
    for (int r = 0; r < R; ++r) {
      const P x = pset1<P>(ar[r][k * aks]);
      for (int w = 0; w < W; ++w) sum[r][w] = pmadd(x, bw[w], sum[r][w]);
    }
  };
  Index k = 0;
#pragma GCC unroll 2
  for (; k + sets <= kc; k += sets)
    for (int s = 0; s < sets; ++s) step(k + s, acc[s]);
  for (; k < kc; ++k) step(k, acc[0]);
  for (int s = 1; s < sets; ++s)
    for (int r = 0; r < R; ++r)
      for (int w = 0; w < W; ++w) acc[0][r][w] = padd(acc[0][r][w], acc[s][r][w]);
  for (int r = 0; r < R; ++r, c += ldc) store(acc[0][r], c, nr, accumulate, e, i + r, j);
}

// One row of A (element k at a[k * aks]) times NP consecutive panels of B, into c[0, n), which is C's
// row i from column j. A product with a single row (batch 1) is bound by the latency of its
// multiply-add chains: the row is read once for all panels, and even and odd k sum apart.
template <int NP, typename S, typename E>
void row_tile(Index kc, const S* a, Index aks, const S* b, S* c, Index n, bool accumulate, const E& e, Index i,
              Index j) {
  using namespace Eigen::internal;
  using P = typename Tile<S>::Packet;
  constexpr Index L = Tile<S>::lanes, NR = Tile<S>::NR;
  P acc[2][NP][2];
  for (int s = 0; s < 2; ++s)
    for (int q = 0; q < NP; ++q) acc[s][q][0] = acc[s][q][1] = pset1<P>(S(0));
  const S* panel[NP];
  for (int q = 0; q < NP; ++q) panel[q] = b + q * kc * NR;
  auto step = [&](Index k, P(&sum)[NP][2]) {
    const P x = pset1<P>(a[k * aks]);
    for (int q = 0; q < NP; ++q) {
      sum[q][0] = pmadd(x, pload<P>(panel[q] + k * NR), sum[q][0]);
      sum[q][1] = pmadd(x, pload<P>(panel[q] + k * NR + L), sum[q][1]);
    }
  };
  Index k = 0;
  for (; k + 2 <= kc; k += 2) {
    step(k, acc[0]);
    step(k + 1, acc[1]);
  }
  if (k < kc) step(k, acc[0]);
  for (int q = 0; q < NP; ++q) {
    const P sum[2] = {padd(acc[0][q][0], acc[1][q][0]), padd(acc[0][q][1], acc[1][q][1])};
    store(sum, c + q * NR, std::min(NR, n - q * NR), accumulate, e, i, j + q * NR);
  }
}

template <int W, typename S, typename E>
void tile_rows(Index rows, Index kc, const S* a, Index ars, Index aks, const S* b, S* c, Index ldc, Index nr,
               bool accumulate, const E& e, Index i, Index j) {
  static_assert(Tile<S>::MR == 6, "one case per row count below");
  switch (rows) {
    case 1: return tile<1, W>(kc, a, ars, aks, b, c, ldc, nr, accumulate, e, i, j);
    case 2: return tile<2, W>(kc, a, ars, aks, b, c, ldc, nr, accumulate, e, i, j);
    case 3: return tile<3, W>(kc, a, ars, aks, b, c, ldc, nr, accumulate, e, i, j);
    case 4: return tile<4, W>(kc, a, ars, aks, b, c, ldc, nr, accumulate, e, i, j);
    case 5: return tile<5, W>(kc, a, ars, aks, b, c, ldc, nr, accumulate, e, i, j);
    default: return tile<6, W>(kc, a, ars, aks, b, c, ldc, nr, accumulate, e, i, j);
  }
}

// Scratch for packing, one per thread, grown to the largest product seen and then reused, so a
// warm training step allocates nothing.
template <typename S>
Buffer<S>& scratch(int which) {
  thread_local Buffer<S> buffers[2];
  return buffers[which];
}

template <typename S>
S* scratch(int which, Index size) {
  Buffer<S>& v = scratch<S>(which);
  if (static_cast<Index>(v.size()) < size) v.resize(size);
  return v.data();
}

// C (m, n) = e(C [+] A (m, kc) x Bp), where Bp is packed by pack_b (kc rows, n columns). A is read in
// place or packed here in blocks of MC rows.
template <typename S, typename E>
void multiply_packed(const View<S>& a, Index k0, Index kc, const S* bp, S* c, Index ldc, Index n, bool accumulate,
                     const E& e) {
  using T = Tile<S>;
  // A is read in place when its rows are contiguous, or when a transposed operand (each k's rows
  // adjacent) meets so few panels of B that a packed copy would hardly be reused.
  const bool in_place = a.cs == 1 || (a.rs == 1 && n <= 4 * T::NR);
  S* ap = in_place ? nullptr : scratch<S>(0, T::MC * T::KC);
  const Index ars = in_place ? a.rs : 1, aks = in_place ? a.cs : T::MR;  // A's element (r, k), as tile() reads it
  for (Index i0 = 0; i0 < a.rows; i0 += T::MC) {
    const Index mc = std::min(T::MC, a.rows - i0);
    if (!in_place) pack_a(a, i0, mc, k0, kc, ap);
    if (mc == 1) {
      const S* ar = in_place ? &a(i0, k0) : ap;
      for (Index j0 = 0; j0 < n; j0 += 3 * T::NR) {
        const Index panels = std::min<Index>(3, (n - j0 + T::NR - 1) / T::NR);
        auto run = [&](auto np) {
          row_tile<decltype(np)::value>(kc, ar, aks, bp + j0 * kc, c + i0 * ldc + j0, n - j0, accumulate, e, i0, j0);
        };
        if (panels == 3) run(std::integral_constant<int, 3>());
        else if (panels == 2) run(std::integral_constant<int, 2>());
        else run(std::integral_constant<int, 1>());
      }
      continue;
    }
    for (Index j0 = 0; j0 < n; j0 += T::NR) {
      const S* bpanel = bp + j0 * kc;
      for (Index p = 0; p < mc; p += T::MR) {
        const S* ar = in_place ? &a(i0 + p, k0) : ap + p * kc;
        const Index rows = std::min(T::MR, mc - p), nr = std::min(T::NR, n - j0);
        S* ct = c + (i0 + p) * ldc + j0;
        if (nr <= T::lanes)
          tile_rows<1>(rows, kc, ar, ars, aks, bpanel, ct, ldc, nr, accumulate, e, i0 + p, j0);
        else
          tile_rows<2>(rows, kc, ar, ars, aks, bpanel, ct, ldc, nr, accumulate, e, i0 + p, j0);
      }
    }
  }
}

// The block k0..k0+kc of a product over depth K: the epilogue runs with the last block only.
template <typename S, typename E>
void multiply_block(const View<S>& a, Index k0, Index kc, Index depth, const S* bp, S* c, Index ldc, Index n,
                    bool accumulate, const E& e) {
  if (k0 + kc < depth)
    multiply_packed(a, k0, kc, bp, c, ldc, n, accumulate || k0 > 0, NoEpilogue());
  else
    multiply_packed(a, k0, kc, bp, c, ldc, n, accumulate || k0 > 0, e);
}

// Checks c's shape and handles the products with nothing to multiply: true if there is work left.
template <typename C>
bool prepare_output(C& c, Index rows, Index depth, Index cols, bool accumulate) {
  eigen_assert(c.rows() == rows && c.cols() == cols && c.colStride() == 1);
  if (rows == 0 || cols == 0) return false;
  if (depth == 0) {
    if (!accumulate) c.setZero();
    return false;
  }
  return true;
}

}  // namespace gemm_detail

// e applied in place to each element of c (rows contiguous), in the same packets and single elements
// as a product of c's shape would apply it, so the two give the same values to the last bit.
template <typename E, typename C>
void apply_epilogue(const E& e, C&& c) {
  using S = typename std::decay_t<C>::Scalar;
  using T = gemm_detail::Tile<S>;
  using P = typename T::Packet;
  for (Index i = 0; i < c.rows(); ++i) {
    S* row = c.data() + i * c.rowStride();
    for (Index j = 0; j < c.cols(); j += T::NR) {
      const Index nr = std::min(T::NR, c.cols() - j);
      alignas(64) S v[T::NR] = {};
      std::copy(row + j, row + j + nr, v);
      const P one[1] = {Eigen::internal::pload<P>(v)}, two[2] = {one[0], Eigen::internal::pload<P>(v + T::lanes)};
      if (nr <= T::lanes)
        gemm_detail::store(one, row + j, nr, false, e, i, j);
      else
        gemm_detail::store(two, row + j, nr, false, e, i, j);
    }
  }
}

// c = e(c [+] a b). a is (M, K), b (K, N) and c (M, N), each any direct-access Eigen expression (a
// block, a map, a transpose of one); c's rows must be contiguous. accumulate=false overwrites c. The
// epilogue e is applied once, after the last block of K.
template <typename A, typename B, typename C, typename E = NoEpilogue>
void gemm(const A& a, const B& b, C&& c, bool accumulate, const E& e = E()) {
  using S = typename std::decay_t<C>::Scalar;
  using T = gemm_detail::Tile<S>;
  const gemm_detail::View<S> av = gemm_detail::view(a), bv = gemm_detail::view(b);
  eigen_assert(av.cols == bv.rows);
  if (!gemm_detail::prepare_output(c, av.rows, bv.rows, bv.cols, accumulate)) return apply_epilogue(e, c);
  S* bp = gemm_detail::scratch<S>(1, T::KC * gemm_detail::round_up(bv.cols, T::NR));
  for (Index k0 = 0; k0 < bv.rows; k0 += T::KC) {
    const Index kc = std::min(T::KC, bv.rows - k0);
    gemm_detail::pack_b(bv, k0, kc, bp);
    gemm_detail::multiply_block(av, k0, kc, bv.rows, bp, c.data(), c.rowStride(), bv.cols, accumulate, e);
  }
}

// A right-hand factor packed once for many products, as W_hh is for every step of a sequence.
template <typename S>
class PackedB {
 public:
  // b is (K, N), any direct-access Eigen expression.
  template <typename B>
  void pack(const B& b) {
    using T = gemm_detail::Tile<S>;
    const gemm_detail::View<S> bv = gemm_detail::view(b);
    rows_ = bv.rows;
    cols_ = bv.cols;
    const Index width = gemm_detail::round_up(cols_, T::NR);
    if (static_cast<Index>(data_.size()) < rows_ * width) data_.resize(rows_ * width);
    for (Index k0 = 0; k0 < rows_; k0 += T::KC)
      gemm_detail::pack_b(bv, k0, std::min(T::KC, rows_ - k0), data_.data() + k0 * width);
  }

  // c = e(c [+] a b), a (M, K) and c (M, N) as in gemm(); e is applied once, after the last block of K.
  template <typename A, typename C, typename E = NoEpilogue>
  void multiply(const A& a, C&& c, bool accumulate, const E& e = E()) const {
    using T = gemm_detail::Tile<S>;
    const gemm_detail::View<S> av = gemm_detail::view(a);
    eigen_assert(av.cols == rows_);
    if (!gemm_detail::prepare_output(c, av.rows, rows_, cols_, accumulate)) return apply_epilogue(e, c);
    const Index width = gemm_detail::round_up(cols_, T::NR);
    for (Index k0 = 0; k0 < rows_; k0 += T::KC)
      gemm_detail::multiply_block(av, k0, std::min(T::KC, rows_ - k0), rows_, data_.data() + k0 * width, c.data(),
                                  c.rowStride(), cols_, accumulate, e);
  }

 private:
  Index rows_ = 0, cols_ = 0;
  Buffer<S> data_;
};

// b packed into this thread's scratch PackedB, valid until this thread packs again: a factor reused
// throughout one call (W_hh over a pass), whose other threads read it through the reference.
template <typename S, typename B>
const PackedB<S>& packed_scratch(const B& b) {
  thread_local PackedB<S> scratch;
  scratch.pack(b);
  return scratch;
}

}  // namespace elman
