#pragma once
/// @file
/// The one kernel front door of every row op: an op that reads each row of an m×n matrix on its
/// own and gives one value per row (logsumexp, max_rows: N×C → N×1) or a row (N×C → N×C).
///
/// As for the elementwise ops (fusegrad/kernels/unary.hpp), an op's arithmetic is a *body* in
/// its own header, written once; here its members get a *row context* r instead of a value:
///
///   struct logsumexp {                                  // namespace fusegrad::kernels::body
///       static constexpr std::string_view name = "logsumexp";
///       static constexpr row_result result = row_result::value;  // or row_result::row
///       static constexpr keeps kept = keeps::operand(0) | keeps::output();
///       template <class R> void forward(const R& r) const;   // writes r.y
///       template <class R> void backward(const R& r) const;  // writes r.dx (r.write_dx)
///   };
///   FUSEGRAD_ROW_KERNEL(fusegrad::kernels::body::logsumexp)   // at global scope
///
/// The context holds one row: r.n entries, r.x (the input row), r.y (the output: n entries or
/// one), and in backward() r.g (the upstream gradient, shaped as r.y), r.dx and r.beta. Its
/// loops over the row take a generic lambda of values V (T in the scalar reference, an
/// xsimd::batch<T, A> in each instruction set's build) and handle the partial last batch:
///
///   r.max(p)                  the largest of p[0..n), NaN if one is NaN (−inf when n is 0;
///                             which NaN is not specified)
///   r.sum(f, p, q, ...)       Σ_j f(p_j, q_j, ...), a T
///   r.map(out, f, p, ...)     out_j = f(p_j, ...)
///   r.write_dx(f, p, ...)     dx_j = f(p_j, ...) + beta · dx_j (dx not read when beta is 0;
///                             the SIMD one adds with an FMA)
///   r.exp_nonpositive(v)      e^v for v <= 0, fast (the SIMD one gives 0 below −87.3 in float,
///                             −708 in double; a positive v is outside its contract)
///
/// with `typename R::value_type` (T) and `typename R::vec` (V) for constants. Scalar code on the
/// row's pointers is fine too (max_rows' backward finds its argmax that way). The library
/// compiles each body for the scalar reference and every instruction set, float and double,
/// from its FUSEGRAD_ROW_KERNEL line (src/kernels/rows.cpp, src/kernels/arch/rows.*.cpp); rows
/// are cut into fixed chunks and run on several threads for large m, each row by one thread, so
/// results never depend on the thread count. The op of a row body is op::rows<Body>
/// (fusegrad/ops/rows.hpp).

#include <cstddef>

namespace fusegrad::kernels {

/// What a row op gives per row.
enum class row_result {
    value,  ///< one value: N×C → N×1
    row,    ///< a row of the same length: N×C → N×C
};

/// For each of the m rows of x (m×n, contiguous), k.forward(r): y is m×1 or m×n (K::result).
template <class K, class T>
void row_forward(const K& k, std::size_t m, std::size_t n, const T* x, T* y);

/// For each row, k.backward(r): dx (m×n) = the vjp of upstream g (shaped as y) + beta · dx. x
/// and y may be null where K::kept does not name them.
template <class K, class T>
void row_backward(const K& k, std::size_t m, std::size_t n, const T* x, const T* y, const T* g,
                  T beta, T* dx);

}  // namespace fusegrad::kernels

#ifndef FUSEGRAD_ROW_KERNEL
/// Names a row body for the library to compile (see the file comment); empty elsewhere.
#define FUSEGRAD_ROW_KERNEL(K)
#endif
