#pragma once
/// @file
/// Internal: the SIMD GEMM body, written once against xsimd::batch<T, A>. Included only by
/// src/kernels/arch/gemm.<arch>.cpp, which are compiled with their set's flags.
///
/// Three paths, all reading A and B through (row stride, column stride) views so that the
/// transposed layouts need no code of their own:
///
/// - blocked: GotoBLAS/BLIS loops jc (NC columns) → pc (KC depth) → ic (MC rows) → jr (NR) →
///   ir (MR), with A packed into MR-row panels and B into NR-column panels (zero-padded, 64-byte
///   aligned, thread-local, reused), and an MR×NR register-blocked micro-kernel (MR rows of
///   broadcasts times NR/lanes vectors). Ragged tiles are computed in full on the zero padding
///   and only their valid part is written. When few row panels would reuse a packed B panel, B
///   is read in place instead (packing it would cost more than it saves).
/// - skinny: few columns (n ≤ NR on AVX-512, n ≤ 12 otherwise) and rows of op(A) contiguous
///   (X·W with 10 classes): the micro-kernel above would waste most lanes on the padding of n,
///   so vectorize along k instead. op(B) is packed transposed (n rows of k), and each C entry is
///   a dot product of two contiguous rows, kept as a vector of partial sums in a register and
///   reduced once at the end (RI rows × CJ columns of such accumulators per tile).
/// - transposed: few columns and op(A) contiguous along its columns (Xᵀ·dZ): compute
///   Cᵀ = op(B)ᵀ op(A)ᵀ on the blocked path, where op(A)ᵀ is a row-contiguous B operand.
///
/// Threads: C is cut into fixed chunks (blocks of MC rows; or, when C has a single row block,
/// groups of 8 column panels; on the skinny path 32 rows), each computed by one thread over the
/// whole of k in the same order as serially, so the result does not depend on the thread count; k
/// is never split.

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <new>

#include <xsimd/xsimd.hpp>

#include "../parallel.hpp"
#include "gemm_decl.hpp"

namespace fusegrad::kernels::simd {
namespace gemm_impl {

/// A read-only strided matrix: element (i, j) is p[i * rs + j * cs].
template <class T>
struct view {
    const T* p;
    std::size_t rs;
    std::size_t cs;
};

constexpr std::size_t round_up(std::size_t x, std::size_t to) {
    return (x + to - 1) / to * to;
}

/// Block sizes per (arch, type), chosen by measurement (benchmarks/bench_gemm.cpp).
template <class A, class T>
struct shape {
    using batch = xsimd::batch<T, A>;
    static constexpr std::size_t lanes = batch::size;
    /// AVX-512 has 32 vector registers, the others 16.
    static constexpr bool wide = lanes * sizeof(T) == 64;
    /// Micro-tile: mr rows × nv vectors; mr·nv accumulators + nv loads + 1 broadcast fit in the
    /// registers. AVX-512: 8×2 measured faster than 14×2, 12×2, 10×2, 6×4 and 8×3 here (1024³
    /// and 256×784×256); AVX2 / SSE: the classic 6×2.
    static constexpr std::size_t mr = wide ? 8 : 6;
    static constexpr std::size_t nv = 2;
    static constexpr std::size_t nr = nv * lanes;
    /// kc × nr of packed B (the micro-panel reused by every row panel) stays in L1; mc × kc of
    /// packed A in L2; kc × nc of packed B in L3.
    static constexpr std::size_t kc = 256;
    static constexpr std::size_t mc = mr * (wide ? 12 : 24);
    static constexpr std::size_t nc = nr * 64;
    /// Column panels per thread chunk when C has a single row block.
    static constexpr std::size_t panel_chunk = 8;
    /// Skinny path tile: ri rows × cj columns of vector accumulators.
    static constexpr std::size_t ri = wide ? 4 : 2;
    static constexpr std::size_t cj = 5;
    /// Rows per thread chunk on the skinny path (a multiple of ri).
    static constexpr std::size_t skinny_chunk = 32;
};

/// A 64-byte aligned buffer per thread and slot, grown on demand and never shrunk, so that
/// steady-state calls allocate nothing.
template <class T, int Slot>
T* scratch(std::size_t count) {
    struct buffer {
        T* p = nullptr;
        std::size_t capacity = 0;
        ~buffer() { std::free(p); }
    };
    thread_local buffer buf;
    if (count > buf.capacity) {
        std::free(buf.p);
        buf.p = nullptr;
        buf.capacity = 0;
        void* fresh = std::aligned_alloc(64, round_up(count * sizeof(T), 64));
        if (fresh == nullptr) throw std::bad_alloc();
        buf.p = static_cast<T*>(fresh);
        buf.capacity = count;
    }
    return buf.p;
}

/// ap[p * MR + r] = a(r, p) for r < mr, p < kc; rows mr..MR-1 are zero.
template <std::size_t MR, class T>
void pack_a(std::size_t mr, std::size_t kc, const T* a, std::size_t rs, std::size_t cs, T* ap) {
    if (cs == 1) {
        for (std::size_t r = 0; r < mr; ++r) {
            const T* row = a + r * rs;
            for (std::size_t p = 0; p < kc; ++p) ap[p * MR + r] = row[p];
        }
    } else {
        for (std::size_t p = 0; p < kc; ++p) {
            const T* col = a + p * cs;
            for (std::size_t r = 0; r < mr; ++r) ap[p * MR + r] = col[r * rs];
        }
    }
    for (std::size_t p = 0; p < kc && mr < MR; ++p) {
        for (std::size_t r = mr; r < MR; ++r) ap[p * MR + r] = T(0);
    }
}

/// bp[p * NR + j] = b(p, j) for p < kc, j < nr; columns nr..NR-1 are zero.
template <std::size_t NR, class T>
void pack_b(std::size_t nr, std::size_t kc, const T* b, std::size_t rs, std::size_t cs, T* bp) {
    if (cs == 1) {
        for (std::size_t p = 0; p < kc; ++p) {
            const T* row = b + p * rs;
            T* out = bp + p * NR;
            for (std::size_t j = 0; j < nr; ++j) out[j] = row[j];
            for (std::size_t j = nr; j < NR; ++j) out[j] = T(0);
        }
    } else {
        for (std::size_t j = 0; j < nr; ++j) {
            const T* col = b + j * cs;
            for (std::size_t p = 0; p < kc; ++p) bp[p * NR + j] = col[p * rs];
        }
        for (std::size_t p = 0; p < kc && nr < NR; ++p) {
            for (std::size_t j = nr; j < NR; ++j) bp[p * NR + j] = T(0);
        }
    }
}

/// The register-blocked micro-kernel: C[0..mr, 0..nr] = alpha * Ap Bp + beta * C, with Ap a packed
/// kc × MR panel and Bp kc rows of NR values `ldb` apart (a packed panel, or B in place).
template <class A, class T>
struct micro {
    using S = shape<A, T>;
    using batch = typename S::batch;
    static constexpr std::size_t MR = S::mr;
    static constexpr std::size_t NV = S::nv;
    static constexpr std::size_t L = S::lanes;
    static constexpr std::size_t NR = S::nr;

    /// How many rows of B ahead the in-place path prefetches.
    static constexpr std::size_t kPrefetchRows = 8;

    template <bool prefetch_b>
    static void run(std::size_t kc, const T* ap, const T* bp, std::size_t ldb, T alpha, T beta,
                    T* c, std::size_t rsc, std::size_t csc, std::size_t mr, std::size_t nr) {
        batch acc[MR][NV];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) {
#pragma GCC unroll 4
            for (std::size_t v = 0; v < NV; ++v) acc[r][v] = batch(T(0));
        }
        for (std::size_t p = 0; p < kc; ++p) {
            if (prefetch_b) {
                // B in place: rows are far apart (often a page or more), which the hardware
                // prefetchers do not follow; ask for the row needed a few iterations ahead.
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NR * sizeof(T); v += 64) {
                    __builtin_prefetch(reinterpret_cast<const char*>(bp + kPrefetchRows * ldb) + v);
                }
            }
            batch bv[NV];
#pragma GCC unroll 4
            for (std::size_t v = 0; v < NV; ++v) bv[v] = batch::load_unaligned(bp + v * L);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < MR; ++r) {
                const batch av(ap[r]);
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(av, bv[v], acc[r][v]);
            }
            ap += MR;
            bp += ldb;
        }
        if (mr == MR && nr == NR && csc == 1) {
            const batch va(alpha);
            const batch vb(beta);
#pragma GCC unroll 16
            for (std::size_t r = 0; r < MR; ++r) {
                T* cr = c + r * rsc;
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NV; ++v) {
                    batch x = va * acc[r][v];
                    // beta == 0: C is not read (it may hold NaN or be uninitialised).
                    if (beta != T(0)) x = xsimd::fma(vb, batch::load_unaligned(cr + v * L), x);
                    x.store_unaligned(cr + v * L);
                }
            }
            return;
        }
        alignas(64) T buf[MR * NR];
        for (std::size_t r = 0; r < MR; ++r) {
            for (std::size_t v = 0; v < NV; ++v) acc[r][v].store_aligned(buf + r * NR + v * L);
        }
        for (std::size_t r = 0; r < mr; ++r) {
            for (std::size_t j = 0; j < nr; ++j) {
                T& cij = c[r * rsc + j * csc];
                const T x = alpha * buf[r * NR + j];
                cij = beta == T(0) ? x : x + beta * cij;
            }
        }
    }
};

/// The blocked path for C (m × n, element (i, j) at c[i * rsc + j * csc]).
template <class A, class T>
void blocked(std::size_t m, std::size_t n, std::size_t k, T alpha, view<T> a, view<T> b, T beta,
             T* c, std::size_t rsc, std::size_t csc) {
    using S = shape<A, T>;
    constexpr std::size_t MR = S::mr;
    constexpr std::size_t NR = S::nr;
    // B in place: rows contiguous, and at most two row panels per call would reuse a packed copy.
    const bool direct_b = b.cs == 1 && m <= 2 * MR;
    T* bbuf = scratch<T, 0>(S::kc * round_up(std::min(n, S::nc), NR));
    for (std::size_t jc = 0; jc < n; jc += S::nc) {
        const std::size_t nc = std::min(S::nc, n - jc);
        const std::size_t panels = (nc + NR - 1) / NR;
        for (std::size_t pc = 0; pc < k; pc += S::kc) {
            const std::size_t kc = std::min(S::kc, k - pc);
            // Later depth blocks add to what the earlier ones wrote.
            const T beta_k = pc == 0 ? beta : T(1);
            for (std::size_t q = 0; q < panels; ++q) {
                const std::size_t nr = std::min(NR, nc - q * NR);
                if (!direct_b || nr < NR) {
                    pack_b<NR>(nr, kc, b.p + pc * b.rs + (jc + q * NR) * b.cs, b.rs, b.cs,
                               bbuf + q * kc * NR);
                }
            }
            // Rows i0..i1 of this block times its column panels q0..q1, on one thread.
            auto block = [&](std::size_t i0, std::size_t i1, std::size_t q0, std::size_t q1) {
                const std::size_t mc = i1 - i0;
                T* abuf = scratch<T, 1>(S::mc * S::kc);
                for (std::size_t ir = 0; ir < mc; ir += MR) {
                    pack_a<MR>(std::min(MR, mc - ir), kc, a.p + (i0 + ir) * a.rs + pc * a.cs, a.rs,
                               a.cs, abuf + ir * kc);
                }
                for (std::size_t q = q0; q < q1; ++q) {
                    const std::size_t jr = q * NR;
                    const std::size_t nr = std::min(NR, nc - jr);
                    const bool in_place = direct_b && nr == NR;
                    const T* bp = in_place ? b.p + pc * b.rs + jc + jr : bbuf + q * kc * NR;
                    const std::size_t ldbp = in_place ? b.rs : NR;
                    for (std::size_t ir = 0; ir < mc; ir += MR) {
                        T* cp = c + (i0 + ir) * rsc + (jc + jr) * csc;
                        const std::size_t mr = std::min(MR, mc - ir);
                        if (in_place && ir == 0) {
                            micro<A, T>::template run<true>(kc, abuf, bp, ldbp, alpha, beta_k, cp,
                                                            rsc, csc, mr, nr);
                        } else {
                            micro<A, T>::template run<false>(kc, abuf + ir * kc, bp, ldbp, alpha,
                                                             beta_k, cp, rsc, csc, mr, nr);
                        }
                    }
                }
            };
            if (m > S::mc) {
                // Threads take fixed blocks of mc rows.
                detail::for_each_chunk(
                    m, S::mc, nc * kc,
                    [&](std::size_t, std::size_t i0, std::size_t i1) { block(i0, i1, 0, panels); });
            } else {
                // One row block (a short or transposed-skinny C): threads take fixed groups of
                // column panels instead, each packing the (small) A block itself.
                detail::for_each_chunk(
                    panels, S::panel_chunk, m * kc * NR,
                    [&](std::size_t, std::size_t q0, std::size_t q1) { block(0, m, q0, q1); });
            }
        }
    }
}

/// out[r][j] = Σ_p a(r, p) · bt(j, p) for RI rows of A (`lda` apart, contiguous in p) and CJ
/// rows of the packed op(B)ᵀ (`ldbt` apart): one vector of partial sums per entry, reduced once.
template <class A, class T, std::size_t RI, std::size_t CJ>
void dot_tile(std::size_t k, const T* a, std::size_t lda, const T* bt, std::size_t ldbt,
              T (&out)[RI][CJ]) {
    using batch = xsimd::batch<T, A>;
    constexpr std::size_t L = batch::size;
    batch acc[RI][CJ];
#pragma GCC unroll 8
    for (std::size_t r = 0; r < RI; ++r) {
#pragma GCC unroll 8
        for (std::size_t j = 0; j < CJ; ++j) acc[r][j] = batch(T(0));
    }
    std::size_t p = 0;
    for (; p + L <= k; p += L) {
        batch av[RI];
#pragma GCC unroll 8
        for (std::size_t r = 0; r < RI; ++r) av[r] = batch::load_unaligned(a + r * lda + p);
#pragma GCC unroll 8
        for (std::size_t j = 0; j < CJ; ++j) {
            const batch bv = batch::load_aligned(bt + j * ldbt + p);
#pragma GCC unroll 8
            for (std::size_t r = 0; r < RI; ++r) acc[r][j] = xsimd::fma(av[r], bv, acc[r][j]);
        }
    }
    for (std::size_t r = 0; r < RI; ++r) {
        for (std::size_t j = 0; j < CJ; ++j) out[r][j] = xsimd::hadd(acc[r][j]);
    }
    for (; p < k; ++p) {
        for (std::size_t r = 0; r < RI; ++r) {
            for (std::size_t j = 0; j < CJ; ++j) out[r][j] += a[r * lda + p] * bt[j * ldbt + p];
        }
    }
}

/// C = alpha · out + beta · C for an ri × cj tile at c (row stride ldc).
template <class T, std::size_t RI, std::size_t CJ>
void store_tile(const T (&out)[RI][CJ], std::size_t ri, std::size_t cj, T alpha, T beta, T* c,
                std::size_t ldc) {
    for (std::size_t r = 0; r < ri; ++r) {
        for (std::size_t j = 0; j < cj; ++j) {
            T& cij = c[r * ldc + j];
            const T x = alpha * out[r][j];
            cij = beta == T(0) ? x : x + beta * cij;
        }
    }
}

/// The skinny path: a.cs == 1, C row-major (ldc), n small.
template <class A, class T>
void skinny(std::size_t m, std::size_t n, std::size_t k, T alpha, view<T> a, view<T> b, T beta,
            T* c, std::size_t ldc) {
    using S = shape<A, T>;
    constexpr std::size_t RI = S::ri;
    constexpr std::size_t CJ = S::cj;
    // op(B)ᵀ, n (padded with zero rows to a multiple of CJ) rows of k, each 64-byte aligned.
    const std::size_t np = round_up(n, CJ);
    const std::size_t ldbt = round_up(k, 64 / sizeof(T));
    T* bt = scratch<T, 0>(np * ldbt);
    if (b.cs == 1) {
        for (std::size_t p = 0; p < k; ++p) {
            for (std::size_t j = 0; j < n; ++j) bt[j * ldbt + p] = b.p[p * b.rs + j];
        }
    } else {
        for (std::size_t j = 0; j < n; ++j) {
            for (std::size_t p = 0; p < k; ++p) bt[j * ldbt + p] = b.p[j * b.cs + p * b.rs];
        }
    }
    for (std::size_t j = n; j < np; ++j) {
        for (std::size_t p = 0; p < k; ++p) bt[j * ldbt + p] = T(0);
    }
    detail::for_each_chunk(
        m, S::skinny_chunk, n * k, [&](std::size_t, std::size_t i0, std::size_t i1) {
            for (std::size_t i = i0; i < i1; i += RI) {
                const std::size_t ri = std::min(RI, i1 - i);
                for (std::size_t j0 = 0; j0 < n; j0 += CJ) {
                    const std::size_t cj = std::min(CJ, n - j0);
                    if (ri == RI) {
                        T out[RI][CJ];
                        dot_tile<A, T, RI, CJ>(k, a.p + i * a.rs, a.rs, bt + j0 * ldbt, ldbt, out);
                        store_tile(out, ri, cj, alpha, beta, c + i * ldc + j0, ldc);
                    } else {
                        for (std::size_t r = 0; r < ri; ++r) {
                            T out[1][CJ];
                            dot_tile<A, T, 1, CJ>(k, a.p + (i + r) * a.rs, a.rs, bt + j0 * ldbt,
                                                  ldbt, out);
                            store_tile(out, 1, cj, alpha, beta, c + (i + r) * ldc + j0, ldc);
                        }
                    }
                }
            }
        });
}

}  // namespace gemm_impl

template <class A, class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    using namespace gemm_impl;
    using S = shape<A, T>;
    const view<T> va{a, trans_a ? 1 : lda, trans_a ? lda : 1};
    const view<T> vb{b, trans_b ? 1 : ldb, trans_b ? ldb : 1};
    // Up to this many columns, vectorizing along k (or transposing) beats padding n to the
    // micro-tile width (measured: avx512 up to its tile width, 16 and 32 columns too; 16-register
    // sets only below 16 columns).
    const bool few_columns = n <= (S::wide ? S::nr : 12);
    if (few_columns && !trans_a && k >= 2 * S::lanes) {
        skinny<A, T>(m, n, k, alpha, va, vb, beta, c, ldc);
    } else if (few_columns && trans_a && m > n) {
        // Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands and each view's strides, write C by columns.
        blocked<A, T>(n, m, k, alpha, view<T>{vb.p, vb.cs, vb.rs}, view<T>{va.p, va.cs, va.rs},
                      beta, c, 1, ldc);
    } else {
        blocked<A, T>(m, n, k, alpha, va, vb, beta, c, ldc, 1);
    }
}

}  // namespace fusegrad::kernels::simd

/// Instantiates the SIMD GEMM for float and double on the arch type `A`.
#define FUSEGRAD_INSTANTIATE_GEMM_SIMD(A)                                                      \
    template void fusegrad::kernels::simd::gemm<A, float>(                                     \
        bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,   \
        const float*, std::size_t, float, float*, std::size_t);                                \
    template void fusegrad::kernels::simd::gemm<A, double>(                                    \
        bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t, \
        const double*, std::size_t, double, double*, std::size_t);
