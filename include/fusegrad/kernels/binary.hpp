#pragma once
/// @file
/// The one kernel front door of every elementwise binary op (mul, div, ...), with broadcasting.
///
/// As for the unary ops (fusegrad/kernels/unary.hpp), an op's arithmetic is a *body* written
/// once for a scalar and for an xsimd batch alike:
///
///   struct mul {                                        // namespace fusegrad::kernels::body
///       static constexpr std::string_view name = "mul";
///       static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);
///       template <class V> V forward(V a, V b) const;               // y = f(a, b)
///       template <class V> V grad_a(V a, V b, V y, V g) const;      // g · ∂f/∂a
///       template <class V> V grad_b(V a, V b, V y, V g) const;      // g · ∂f/∂b
///   };
///   FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::mul)   // at global scope
///
/// The library compiles the scalar reference (V = T) and one SIMD version per instruction set,
/// float and double, from that line (src/kernels/binary.cpp, src/kernels/arch/binary.*.cpp). The
/// values a body does not keep reach it as 0.
///
/// Broadcasting is written once, here, for every binary body: the result is rows × cols and each
/// operand is one of the layouts below. A gradient of a broadcast operand is the sum over the
/// dimension it was broadcast along, in a fixed order (rows in order; within a row, the SIMD
/// lanes then the tail), so it does not depend on the thread count.

#include <cstddef>
#include <type_traits>

namespace fusegrad::kernels {

/// How an operand of a rows × cols elementwise binary op is stored.
enum class layout : unsigned char {
    full,    ///< rows × cols values, row-major
    scalar,  ///< one value for every element
    row,     ///< cols values, the same for every row (a vector over a matrix's columns)
    col,     ///< rows values, one per row (an N×1 column)
};

/// y[i, j] = k.forward(a[i, j], b[i, j]) over a rows × cols result, a and b read by their layout.
template <class K, class T>
void binary_forward(const K& k, std::size_t rows, std::size_t cols, const T* a, layout la,
                    const T* b, layout lb, T* y);

/// da = Σ k.grad_a(a, b, y, g) + beta_a · da, the sum over the elements each da entry was
/// broadcast to (none for a full layout); the same for db. da or db null: that gradient is
/// skipped. da is not read when beta_a == 0 (nor db when beta_b == 0). a, b, y may be null where
/// K::kept does not name them.
template <class K, class T>
void binary_backward(const K& k, std::size_t rows, std::size_t cols, const T* a, layout la,
                     const T* b, layout lb, const T* y, const T* g, T* da, T beta_a, T* db,
                     T beta_b);

}  // namespace fusegrad::kernels

#ifndef FUSEGRAD_BINARY_KERNEL
/// Names a binary body for the library to compile (see the file comment); empty elsewhere.
#define FUSEGRAD_BINARY_KERNEL(K)
#endif
