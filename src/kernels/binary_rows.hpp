#pragma once
/// @file
/// Internal: the loops of the binary front door (fusegrad/kernels/binary.hpp), written once over
/// a *lane policy* P: the scalar reference (P::batch = T, one lane, src/kernels/binary.cpp) and
/// every instruction set (P::batch = xsimd::batch<T, A>, src/kernels/simd/binary.hpp) run the
/// same code. Includes no xsimd: the scalar front door is compiled without -m flags.
///
/// A lane policy has: `batch`, `size`, `splat(T)`, `loadu(p)`, `storeu(p, v)`, `load(p, count,
/// fill)` and `store(p, count, v)` for a partial batch, `hsum(v)`.

#include <cstddef>

#include "fusegrad/kernels/binary.hpp"

namespace fusegrad::kernels::binary_rows {

/// Row i of an operand: a pointer to cols values (full, row), or null with `s` set to the one
/// value of that row (scalar, col, or an operand the body does not keep: 0).
template <class T>
const T* row_of(const T* p, layout l, std::size_t i, std::size_t cols, T& s) noexcept {
    s = T(0);
    if (p == nullptr) return nullptr;
    switch (l) {
        case layout::full:
            return p + i * cols;
        case layout::row:
            return p;
        case layout::col:
            s = p[i];
            return nullptr;
        case layout::scalar:
            s = p[0];
            return nullptr;
    }
    return nullptr;
}

/// Rows [r0, r1) of y = k.forward(a, b).
template <class P, class K, class T>
void forward(const K& k, std::size_t r0, std::size_t r1, std::size_t cols, const T* a, layout la,
             const T* b, layout lb, T* y) {
    using V = typename P::batch;
    constexpr std::size_t W = P::size;
    for (std::size_t i = r0; i < r1; ++i) {
        T sa, sb;
        const T* pa = row_of(a, la, i, cols, sa);
        const T* pb = row_of(b, lb, i, cols, sb);
        const V ca = P::splat(sa), cb = P::splat(sb);
        T* yr = y + i * cols;
        std::size_t j = 0;
        for (; j + W <= cols; j += W)
            P::storeu(yr + j, k.forward(pa ? P::loadu(pa + j) : ca, pb ? P::loadu(pb + j) : cb));
        if (j < cols) {
            const std::size_t c = cols - j;  // padded lanes hold 1: no 0/0 in a lane never stored
            P::store(
                yr + j, c,
                k.forward(pa ? P::load(pa + j, c, T(1)) : ca, pb ? P::load(pb + j, c, T(1)) : cb));
        }
    }
}

/// Where one operand's gradient goes for one row.
template <class T>
struct grad_target {
    T* store = nullptr;  // elementwise: cols values (full: row i of dx; row: dx itself)
    T beta = T(0);       // for `store`
    bool sum = false;    // summed over the row (col, scalar)
};

template <class T>
grad_target<T> target_of(T* dx, layout l, T beta, std::size_t i, std::size_t r0,
                         std::size_t cols) noexcept {
    grad_target<T> t;
    if (dx == nullptr) return t;
    switch (l) {
        case layout::full:
            t.store = dx + i * cols;
            t.beta = beta;
            break;
        case layout::row:  // rows in order: the first overwrites (or scales), the others add
            t.store = dx;
            t.beta = i == r0 ? beta : T(1);
            break;
        case layout::col:
        case layout::scalar:
            t.sum = true;
            break;
    }
    return t;
}

/// Rows [r0, r1) of the backward (see kernels::binary_backward). A row or scalar layout with a
/// gradient needs every row in one call, in order (r0 = 0, r1 = rows): the front door sees to it.
template <class P, class K, class T>
void backward(const K& k, std::size_t r0, std::size_t r1, std::size_t cols, const T* a, layout la,
              const T* b, layout lb, const T* y, const T* g, T* da, T beta_a, T* db, T beta_b) {
    using V = typename P::batch;
    constexpr std::size_t W = P::size;
    T total_a = T(0), total_b = T(0);  // scalar layouts: the sum over every row, rows in order
    for (std::size_t i = r0; i < r1; ++i) {
        T sa, sb;
        const T* pa = row_of(a, la, i, cols, sa);
        const T* pb = row_of(b, lb, i, cols, sb);
        const V ca = P::splat(sa), cb = P::splat(sb), zero = P::splat(T(0));
        const T* yr = y ? y + i * cols : nullptr;
        const T* gr = g + i * cols;
        const grad_target<T> ta = target_of(da, la, beta_a, i, r0, cols);
        const grad_target<T> tb = target_of(db, lb, beta_b, i, r0, cols);
        V acc_a = zero, acc_b = zero;
        T tail_a = T(0), tail_b = T(0);
        std::size_t j = 0;
        for (; j + W <= cols; j += W) {
            const V va = pa ? P::loadu(pa + j) : ca, vb = pb ? P::loadu(pb + j) : cb;
            const V vy = yr ? P::loadu(yr + j) : zero, vg = P::loadu(gr + j);
            if (ta.store) {
                V r = k.grad_a(va, vb, vy, vg);
                if (ta.beta != T(0)) r = r + P::splat(ta.beta) * P::loadu(ta.store + j);
                P::storeu(ta.store + j, r);
            } else if (ta.sum) {
                acc_a = acc_a + k.grad_a(va, vb, vy, vg);
            }
            if (tb.store) {
                V r = k.grad_b(va, vb, vy, vg);
                if (tb.beta != T(0)) r = r + P::splat(tb.beta) * P::loadu(tb.store + j);
                P::storeu(tb.store + j, r);
            } else if (tb.sum) {
                acc_b = acc_b + k.grad_b(va, vb, vy, vg);
            }
        }
        if (j < cols) {
            const std::size_t c = cols - j;
            const V va = pa ? P::load(pa + j, c, T(1)) : ca,
                    vb = pb ? P::load(pb + j, c, T(1)) : cb;
            const V vy = yr ? P::load(yr + j, c, T(0)) : zero, vg = P::load(gr + j, c, T(0));
            alignas(64) T lanes[W];
            if (ta.store || ta.sum) {
                V r = k.grad_a(va, vb, vy, vg);
                if (ta.store) {
                    if (ta.beta != T(0)) r = r + P::splat(ta.beta) * P::load(ta.store + j, c, T(0));
                    P::store(ta.store + j, c, r);
                } else {
                    P::storeu(lanes, r);  // only the c real lanes are summed
                    for (std::size_t t = 0; t < c; ++t) tail_a += lanes[t];
                }
            }
            if (tb.store || tb.sum) {
                V r = k.grad_b(va, vb, vy, vg);
                if (tb.store) {
                    if (tb.beta != T(0)) r = r + P::splat(tb.beta) * P::load(tb.store + j, c, T(0));
                    P::store(tb.store + j, c, r);
                } else {
                    P::storeu(lanes, r);
                    for (std::size_t t = 0; t < c; ++t) tail_b += lanes[t];
                }
            }
        }
        if (ta.sum) {
            const T s = P::hsum(acc_a) + tail_a;
            if (la == layout::col)
                da[i] = beta_a != T(0) ? s + beta_a * da[i] : s;
            else
                total_a += s;
        }
        if (tb.sum) {
            const T s = P::hsum(acc_b) + tail_b;
            if (lb == layout::col)
                db[i] = beta_b != T(0) ? s + beta_b * db[i] : s;
            else
                total_b += s;
        }
    }
    if (da && la == layout::scalar) da[0] = beta_a != T(0) ? total_a + beta_a * da[0] : total_a;
    if (db && lb == layout::scalar) db[0] = beta_b != T(0) ? total_b + beta_b * db[0] : total_b;
    if (r0 ==
        r1) {  // no rows: a row operand's gradient is an empty sum (0, or beta · its old value)
        for (std::size_t j = 0; j < cols; ++j) {
            if (da && la == layout::row) da[j] = beta_a != T(0) ? beta_a * da[j] : T(0);
            if (db && lb == layout::row) db[j] = beta_b != T(0) ? beta_b * db[j] : T(0);
        }
    }
}

}  // namespace fusegrad::kernels::binary_rows
