#pragma once
/// @file
/// The one kernel front door of every elementwise unary op (sigmoid, tanh, gelu, ...).
///
/// An op's arithmetic is a *body*: a small struct, in the op's own header, whose members are
/// written once for a scalar and for an xsimd batch alike:
///
///   struct sigmoid {                                    // namespace fusegrad::kernels::body
///       static constexpr std::string_view name = "sigmoid";
///       static constexpr keeps kept = keeps::output();  // what backward() reads
///       template <class V> V forward(V x) const;
///       template <class V> V backward(V x, V y, V g) const;  // dx for upstream g at y = f(x)
///   };
///   FUSEGRAD_UNARY_KERNEL(fusegrad::kernels::body::sigmoid)   // at global scope
///
/// V is T (the scalar reference) or xsimd::batch<T, A> (one per instruction set); the library
/// compiles both, for float and double, from that one line: its per-arch files define
/// FUSEGRAD_UNARY_KERNEL to explicit instantiations and include every op header
/// (src/kernels/unary.cpp, src/kernels/arch/unary.*.cpp). In a user's translation unit the
/// macro is empty. backward() gets x only if `kept` has operand 0 and y only if it has the
/// output (the other is 0): the graph frees what an op does not keep.
///
/// Writing a body: call math functions unqualified after block-scope using-declarations
/// (`using std::exp;`): a batch then finds xsimd's by argument-dependent lookup. Compare with
/// V-typed constants (`x > V(0)`) and pick with `select(mask, a, b)` (`using generic::select;`).

#include <cstddef>
#include <type_traits>

namespace fusegrad::kernels {

/// y[i] = k.forward(x[i]) over n contiguous elements (y may alias x).
template <class K, class T>
void unary_forward(const K& k, std::size_t n, const T* x, T* y);

/// dx[i] = k.backward(x[i], y[i], g[i]) + beta · dx[i]; dx is not read when beta == 0. x and y
/// may be null where K::kept does not name them.
template <class K, class T>
void unary_backward(const K& k, std::size_t n, const T* x, const T* y, const T* g, T beta, T* dx);

namespace generic {
/// The scalar twin of xsimd::select.
template <class T>
requires std::is_floating_point_v<T>
constexpr T select(bool c, T a, T b) noexcept {
    return c ? a : b;
}
/// The scalar twin of xsimd::any: whether the condition holds (in any lane).
constexpr bool any(bool c) noexcept {
    return c;
}
/// The scalar type of V (T itself, or a batch's value_type).
template <class V>
struct scalar_of {
    using type = V;
};
template <class V>
requires requires {
    typename V::value_type;
}
struct scalar_of<V> {
    using type = typename V::value_type;
};
template <class V>
using scalar_t = typename scalar_of<V>::type;
/// −x, as IEEE negation: the sign of zero flips too. Bodies negate with this, never with a
/// batch's unary minus: xsimd 8.1 negates an AVX-512 batch as 0 − x, which gives +0 for −0
/// (and so pow(−1e20f, −3) = +0 and the gradient of a − b at g = 0 a +0 on AVX-512 only, where
/// the scalar reference, SSE, AVX2 and PyTorch give −0). −0 − x is −x for every x.
template <class V>
V neg(V x) {
    return V(scalar_t<V>(-0.0)) - x;
}
}  // namespace generic

}  // namespace fusegrad::kernels

#ifndef FUSEGRAD_UNARY_KERNEL
/// Names a unary body for the library to compile (see the file comment); empty elsewhere.
#define FUSEGRAD_UNARY_KERNEL(K)
#endif
