/// @file
/// The row front door (fusegrad/kernels/rows.hpp): the scalar reference is the row body run on a
/// context of plain loops (V = T); the SIMD path runs simd/rows.hpp's context of the same body on
/// the active set. Rows are cut into fixed chunks, run on several threads for large m, each row
/// by one thread. Every body header with a FUSEGRAD_ROW_KERNEL line is instantiated here.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "body_names.hpp"
#include "dispatch.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/rows_decl.hpp"

#define FUSEGRAD_ROW_KERNEL(K)                                                                   \
    template void fusegrad::kernels::row_forward<K, float>(const K&, std::size_t, std::size_t,   \
                                                           const float*, float*);                \
    template void fusegrad::kernels::row_forward<K, double>(const K&, std::size_t, std::size_t,  \
                                                            const double*, double*);             \
    template void fusegrad::kernels::row_backward<K, float>(const K&, std::size_t, std::size_t,  \
                                                            const float*, const float*,          \
                                                            const float*, float, float*);        \
    template void fusegrad::kernels::row_backward<K, double>(const K&, std::size_t, std::size_t, \
                                                             const double*, const double*,       \
                                                             const double*, double, double*);

#include "fusegrad/kernels/rows.hpp"

namespace fusegrad::kernels {

namespace {

/// The scalar reference's row context (see fusegrad/kernels/rows.hpp): V = T, plain loops.
template <class T, class Y>
struct scalar_row : simd::row_fields<T, Y> {
    using value_type = T;
    using vec = T;
    using simd::row_fields<T, Y>::n;
    using simd::row_fields<T, Y>::dx;
    using simd::row_fields<T, Y>::beta;

    T max(const T* p) const {
        T m = -std::numeric_limits<T>::infinity();
        for (std::size_t j = 0; j < n; ++j) {
            if (std::isnan(p[j])) return p[j];
            if (p[j] > m) m = p[j];
        }
        return m;
    }
    template <class F, class... P>
    T sum(F f, const P*... p) const {
        T s = T(0);
        for (std::size_t j = 0; j < n; ++j) s += f(p[j]...);
        return s;
    }
    template <class F, class... P>
    void map(T* out, F f, const P*... p) const {
        for (std::size_t j = 0; j < n; ++j) out[j] = f(p[j]...);
    }
    template <class F, class... P>
    void write_dx(F f, const P*... p) const {
        for (std::size_t j = 0; j < n; ++j) {
            const T r = f(p[j]...);
            dx[j] = beta == T(0) ? r : r + beta * dx[j];
        }
    }
    static T exp_nonpositive(T v) { return std::exp(v); }
};

template <class K>
constexpr std::size_t y_stride(std::size_t n) {
    return K::result == row_result::value ? 1 : n;
}

}  // namespace

template <class K, class T>
void row_forward(const K& k, std::size_t m, std::size_t n, const T* x, T* y) {
    detail::trace_call(K::name);
    const std::size_t ys = y_stride<K>(n);
    detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        detail::for_each_chunk(
            m, detail::rows_per_chunk(n), 8 * n, [&](std::size_t, std::size_t b, std::size_t e) {
                if constexpr (detail::is_scalar_v<A>) {
                    for (std::size_t i = b; i < e; ++i)
                        k.forward(scalar_row<T, T*>{{n, x + i * n, y + i * ys}});
                } else {
                    simd::row_forward<A, T, K>(k, e - b, n, x + b * n, y + b * ys);
                }
            });
    });
}

template <class K, class T>
void row_backward(const K& k, std::size_t m, std::size_t n, const T* x, const T* y, const T* g,
                  T beta, T* dx) {
    detail::trace_call(detail::backward_name<K>());
    if (n == 0) return;  // dx has no entries
    constexpr bool wants_x = K::kept.has_operand(0), wants_y = K::kept.has_output();
    const std::size_t ys = y_stride<K>(n);
    detail::dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        detail::for_each_chunk(
            m, detail::rows_per_chunk(n), 8 * n, [&](std::size_t, std::size_t b, std::size_t e) {
                const T* xb = wants_x ? x + b * n : nullptr;
                const T* yb = wants_y ? y + b * ys : nullptr;
                if constexpr (detail::is_scalar_v<A>) {
                    for (std::size_t i = 0; i < e - b; ++i)
                        k.backward(scalar_row<T, const T*>{
                            {n, xb ? xb + i * n : nullptr, yb ? yb + i * ys : nullptr,
                             g + (b + i) * ys, dx + (b + i) * n, beta}});
                } else {
                    simd::row_backward<A, T, K>(k, e - b, n, xb, yb, g + b * ys, beta, dx + b * n);
                }
            });
    });
}

}  // namespace fusegrad::kernels

// Every row body (include/fusegrad/kernels/bodies/): each FUSEGRAD_ROW_KERNEL line instantiates
// the front door above.
#include "fusegrad_bodies.hpp"  // generated by CMake: every kernels/bodies/*.hpp

// The names the row reductions had before the row door (fusegrad/kernels/kernels.hpp), after
// the body list above so that its FUSEGRAD_ROW_KERNEL lines were seen with the macro defined.
#include "fusegrad/kernels/bodies/logsumexp.hpp"
#include "fusegrad/kernels/bodies/max_rows.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::kernels {

template <class T>
void logsumexp_rows(std::size_t m, std::size_t n, const T* x, T* out) {
    row_forward(body::logsumexp{}, m, n, x, out);
}
template <class T>
void logsumexp_rows_backward(std::size_t m, std::size_t n, const T* x, const T* lse, const T* g,
                             T beta, T* dx) {
    row_backward(body::logsumexp{}, m, n, x, lse, g, beta, dx);
}
template <class T>
void max_rows(std::size_t m, std::size_t n, const T* x, T* out) {
    row_forward(body::max_rows{}, m, n, x, out);
}

#define FUSEGRAD_INSTANTIATE_ROW_NAMES(T)                                                  \
    template void logsumexp_rows<T>(std::size_t, std::size_t, const T*, T*);               \
    template void logsumexp_rows_backward<T>(std::size_t, std::size_t, const T*, const T*, \
                                             const T*, T, T*);                             \
    template void max_rows<T>(std::size_t, std::size_t, const T*, T*);
FUSEGRAD_INSTANTIATE_ROW_NAMES(float)
FUSEGRAD_INSTANTIATE_ROW_NAMES(double)
#undef FUSEGRAD_INSTANTIATE_ROW_NAMES

}  // namespace fusegrad::kernels
