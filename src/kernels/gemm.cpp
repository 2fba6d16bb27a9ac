/// @file
/// GEMM front door, C = alpha * op(A) * op(B) + beta * C: the scalar reference loop, and the
/// dispatch to the SIMD body of the active instruction set (simd/gemm.hpp).

#include <cstddef>
#include <vector>

#include "dispatch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "parallel.hpp"
#include "simd/gemm_decl.hpp"
#include "team_gemm.hpp"

namespace fusegrad::kernels {
namespace {

/// The scalar reference: plain loops in a fixed order, what the SIMD paths are tested against.
/// a_at(i, p) is op(A)[i, p].
template <class T, class AAt>
void reference_product(bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha, AAt a_at,
                       const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    // A and B are only indexed inside the loops over p, so with k == 0 they are never touched
    // (they may then be null) and C becomes beta * C.

    if (!trans_b) {
        // op(B) = B: row p of B is contiguous in j, so use the i-k-j order. Each row of C is
        // first scaled by beta (set to 0 without being read when beta == 0), then receives
        // (alpha * op(A)[i, p]) * B[p, :] for p = 0, 1, ..., k - 1.
        for (std::size_t i = 0; i < m; ++i) {
            T* c_row = c + i * ldc;
            for (std::size_t j = 0; j < n; ++j) {
                c_row[j] = beta == T(0) ? T(0) : beta * c_row[j];
            }
            for (std::size_t p = 0; p < k; ++p) {
                const T a_ip = alpha * a_at(i, p);
                const T* b_row = b + p * ldb;
                for (std::size_t j = 0; j < n; ++j) {
                    c_row[j] += a_ip * b_row[j];
                }
            }
        }
    } else {
        // op(B) = Bᵀ: op(B)[p, j] == b[j * ldb + p], so column j of op(B) is the contiguous
        // row j of B. Each C[i, j] is a dot product over p (i-j-k order).
        for (std::size_t i = 0; i < m; ++i) {
            T* c_row = c + i * ldc;
            for (std::size_t j = 0; j < n; ++j) {
                T dot = T(0);
                for (std::size_t p = 0; p < k; ++p) {
                    dot += a_at(i, p) * b[j * ldb + p];
                }
                c_row[j] = beta == T(0) ? alpha * dot : alpha * dot + beta * c_row[j];
            }
        }
    }
}

/// reference_product with op(A)[i, p] == a[i * a_row + p * a_col], whether or not A is stored
/// transposed.
template <class T>
void reference_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                    T alpha, const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                    std::size_t ldc) {
    const std::size_t a_row = trans_a ? 1 : lda;
    const std::size_t a_col = trans_a ? lda : 1;
    reference_product(
        trans_b, m, n, k, alpha,
        [&](std::size_t i, std::size_t p) { return a[i * a_row + p * a_col]; }, b, ldb, beta, c,
        ldc);
}

/// reference_product on a stored_a: strided, or its rows read through pointers.
template <class T>
void reference_from(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                    T alpha, const detail::stored_a<T>& a, const T* b, std::size_t ldb, T beta,
                    T* c, std::size_t ldc) {
    if (a.rows == nullptr) {
        reference_gemm(trans_a, trans_b, m, n, k, alpha, a.a, a.lda, b, ldb, beta, c, ldc);
        return;
    }
    reference_product(
        trans_b, m, n, k, alpha,
        [&](std::size_t i, std::size_t p) {
            return trans_a ? a.rows[p][a.off + i] : a.rows[i][a.off + p];
        },
        b, ldb, beta, c, ldc);
}

/// Nothing to multiply (A and B may be null): C = beta * C, not read when beta == 0.
template <class T>
void scale_by_beta(std::size_t m, std::size_t n, T beta, T* c, std::size_t ldc) {
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            T& cij = c[i * ldc + j];
            cij = beta == T(0) ? T(0) : beta * cij;
        }
    }
}

/// The GEMM front doors' dispatch: the scalar reference on the scalar set; else C = beta · C
/// when there is nothing to multiply (k == 0: A and B may be null); else the set's body,
/// body(arch_tag).
template <class T, class Reference, class Body>
void dispatch_product(std::size_t m, std::size_t n, std::size_t k, T beta, T* c, std::size_t ldc,
                      Reference&& reference, Body&& body) {
    detail::dispatch([&](auto arch_tag) {
        if constexpr (detail::is_scalar_v<decltype(arch_tag)>) {
            reference();
        } else if (k == 0) {
            scale_by_beta(m, n, beta, c, ldc);
        } else {
            body(arch_tag);
        }
    });
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    detail::trace_call("gemm");
    if (m == 0 || n == 0) {
        return;
    }
    dispatch_product(
        m, n, k, beta, c, ldc,
        [&] { reference_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); },
        [&](auto arch_tag) {
            simd::gemm<decltype(arch_tag), T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                                              beta, c, ldc);
        });
}

template <class T>
void gemm_rows(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
               const T* const* a_rows, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    detail::gemm_from<T>(trans_a, trans_b, m, n, k, alpha, {nullptr, 0, a_rows, 0}, b, ldb, beta, c,
                         ldc);
}

namespace detail {

template <class T>
void gemm_from(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
               const stored_a<T>& a, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    if (a.rows == nullptr) {
        gemm<T>(trans_a, trans_b, m, n, k, alpha, a.a, a.lda, b, ldb, beta, c, ldc);
        return;
    }
    detail::trace_call("gemm_rows");
    if (m == 0 || n == 0) return;
    dispatch_product(
        m, n, k, beta, c, ldc,
        [&] { reference_from(trans_a, trans_b, m, n, k, alpha, a, b, ldb, beta, c, ldc); },
        [&](auto arch_tag) {
            simd::gemm_rows<decltype(arch_tag), T>(trans_a, trans_b, m, n, k, alpha, a.rows, a.off,
                                                   b, ldb, beta, c, ldc);
        });
}

template <class T>
std::size_t team_gemm_shared_size(std::size_t n) {
    std::size_t size = 0;
    dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (!is_scalar_v<A>) size = simd::team_ops<A, T>::shared_size(n);
    });
    return size;
}

template <class T>
std::size_t packed_b_size(std::size_t k, std::size_t n) {
    std::size_t size = 0;
    dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (is_scalar_v<A>)
            size = k * n;  // op(B) row-major
        else
            size = simd::team_ops<A, T>::packed_size(k, n);
    });
    return size;
}

template <class T>
T* team_gemm_buffer(std::size_t elements) {
    T* buffer = nullptr;
    dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (is_scalar_v<A>) {
            // The scalar reference's packed B is plain: a buffer of the calling thread too.
            thread_local std::vector<T> plain;
            if (plain.size() < elements) plain.resize(elements);
            buffer = plain.data();
        } else {
            buffer = simd::team_ops<A, T>::buffer(elements);
        }
    });
    return buffer;
}

template <class T>
void team_gemm_reserve() {
    dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (!is_scalar_v<A>) simd::team_ops<A, T>::reserve();
    });
}

template <class T>
void team_gemm(std::size_t t, std::size_t nt, bool trans_a, bool trans_b, std::size_t m,
               std::size_t n, std::size_t k, T alpha, const stored_a<T>& a, const T* b,
               std::size_t ldb, T beta, T* c, std::size_t ldc, T* shared) {
    // Every call starts with a barrier, whatever the path (team_gemm.hpp): callers rely on it.
    if (nt > 1) barrier();
    if (n == 0) return;
    // The scalar reference and k == 0 need nothing more from the other threads: each does its
    // own rows.
    dispatch_product(
        m, n, k, beta, c, ldc,
        [&] { reference_from(trans_a, trans_b, m, n, k, alpha, a, b, ldb, beta, c, ldc); },
        [&](auto arch_tag) {
            simd::team_ops<decltype(arch_tag), T>::gemm(t, nt, trans_a, trans_b, m, n, k, alpha,
                                                        a.a, a.lda, a.rows, a.off, b, ldb, beta, c,
                                                        ldc, shared);
        });
}

template <class T>
void team_pack_b(std::size_t t, std::size_t nt, bool trans_b, std::size_t k, std::size_t n,
                 const T* b, std::size_t ldb, T* packed) {
    if (n == 0 || k == 0) return;
    dispatch([&](auto arch_tag) {
        using A = decltype(arch_tag);
        if constexpr (is_scalar_v<A>) {
            for (std::size_t p = t * k / nt; p < (t + 1) * k / nt; ++p) {
                for (std::size_t j = 0; j < n; ++j)
                    packed[p * n + j] = trans_b ? b[j * ldb + p] : b[p * ldb + j];
            }
        } else {
            simd::team_ops<A, T>::pack(t, nt, trans_b, k, n, b, ldb, packed);
        }
    });
}

template <class T>
void gemm_packed_b(bool trans_a, std::size_t m, std::size_t n, std::size_t k, T alpha,
                   const stored_a<T>& a, const T* packed, T beta, T* c, std::size_t ldc) {
    if (m == 0 || n == 0) return;
    dispatch_product(
        m, n, k, beta, c, ldc,
        [&] { reference_from(trans_a, false, m, n, k, alpha, a, packed, n, beta, c, ldc); },
        [&](auto arch_tag) {
            simd::team_ops<decltype(arch_tag), T>::gemm_packed(trans_a, m, n, k, alpha, a.a, a.lda,
                                                               a.rows, a.off, packed, beta, c, ldc);
        });
}

}  // namespace detail

#define FUSEGRAD_INSTANTIATE_GEMM(T)                                                               \
    template void gemm<T>(bool, bool, std::size_t, std::size_t, std::size_t, T, const T*,          \
                          std::size_t, const T*, std::size_t, T, T*, std::size_t);                 \
    template void gemm_rows<T>(bool, bool, std::size_t, std::size_t, std::size_t, T,               \
                               const T* const*, const T*, std::size_t, T, T*, std::size_t);        \
    template std::size_t detail::team_gemm_shared_size<T>(std::size_t);                            \
    template std::size_t detail::packed_b_size<T>(std::size_t, std::size_t);                       \
    template T* detail::team_gemm_buffer<T>(std::size_t);                                          \
    template void detail::team_gemm_reserve<T>();                                                  \
    template void detail::gemm_from<T>(bool, bool, std::size_t, std::size_t, std::size_t, T,       \
                                       const detail::stored_a<T>&, const T*, std::size_t, T, T*,   \
                                       std::size_t);                                               \
    template void detail::team_gemm<T>(std::size_t, std::size_t, bool, bool, std::size_t,          \
                                       std::size_t, std::size_t, T, const detail::stored_a<T>&,    \
                                       const T*, std::size_t, T, T*, std::size_t, T*);             \
    template void detail::team_pack_b<T>(std::size_t, std::size_t, bool, std::size_t, std::size_t, \
                                         const T*, std::size_t, T*);                               \
    template void detail::gemm_packed_b<T>(bool, std::size_t, std::size_t, std::size_t, T,         \
                                           const detail::stored_a<T>&, const T*, T, T*,            \
                                           std::size_t);

FUSEGRAD_INSTANTIATE_GEMM(float)
FUSEGRAD_INSTANTIATE_GEMM(double)

#undef FUSEGRAD_INSTANTIATE_GEMM

}  // namespace fusegrad::kernels
