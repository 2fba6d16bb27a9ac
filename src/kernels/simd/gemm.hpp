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
///   so vectorize along k instead. op(B) is packed once per call into k-slices of L values per
///   column, the CJ columns of a tile side by side (one stream), and each C entry is a dot
///   product kept as a vector of partial sums in a register (RI rows × CJ columns of them per
///   tile), reduced at the end by a transposed hadd tree. The packed op(B) is cut into depth
///   blocks that fit in L1 (one block for float X·W with 10 classes).
/// - transposed: few columns and op(A) contiguous along its columns (Xᵀ·dZ): compute
///   Cᵀ = op(B)ᵀ op(A)ᵀ on the blocked path, where op(A)ᵀ is a row-contiguous B operand.
///
/// Threads: a call uses a second thread only with at least shape::min_work_per_thread
/// multiply-adds per thread. C is then cut into even shares of whole micro-tiles (blocked: MR-row
/// panels, or column panels when C is short; skinny: chunks of 32 rows), each computed by one
/// thread over the whole of k in the same order as serially, so the result does not depend on
/// the thread count; k is never split across threads. No exception leaves an OpenMP region.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <new>
#include <type_traits>

#include <xsimd/xsimd.hpp>

// The 8×8 transpose (transpose8: pack_a, pack_b, pack_slice) names __m256 intrinsics; only
// AVX2 and AVX-512 use it.
#include <immintrin.h>

#include "../parallel.hpp"
#include "fusegrad/kernels/arch.hpp"
#include "gemm_decl.hpp"

namespace fusegrad::kernels::simd {
namespace gemm_impl {

/// A read-only matrix: element (i, j) is p[i * rs + j * cs]; or, gathered (rows != nullptr),
/// rows[i][off + j] (a matrix whose rows are read by index: kernels::gemm_rows), or with
/// `across` rows[j][off + i] (its transpose). p, rs and cs mean nothing in a gathered view.
template <class T>
struct view {
    const T* p;
    std::size_t rs;
    std::size_t cs;
    const T* const* rows = nullptr;
    std::size_t off = 0;
    bool across = false;

    /// The view whose element (0, 0) is this one's (i, j).
    view at(std::size_t i, std::size_t j) const {
        if (rows == nullptr) return {p + i * rs + j * cs, rs, cs};
        return across ? view{nullptr, 0, 0, rows + j, off + i, true}
                      : view{nullptr, 0, 0, rows + i, off + j, false};
    }
    /// The transpose.
    view transposed() const {
        return rows == nullptr ? view{p, cs, rs} : view{nullptr, 0, 0, rows, off, !across};
    }
    /// Row i, when rows are contiguous (cs == 1, or gathered and not across).
    const T* row(std::size_t i) const { return rows == nullptr ? p + i * rs : rows[i] + off; }
};

/// The view of op(A) for a stored A: strided (a, lda), or gathered (a_rows not null: row i at
/// a_rows[i] + a_off). (Templated on the arch A: see below.)
template <class A, class T>
view<T> a_view(bool trans_a, const T* a, std::size_t lda, const T* const* a_rows,
               std::size_t a_off) {
    if (a_rows != nullptr) return {nullptr, 0, 0, a_rows, a_off, trans_a};
    return {a, trans_a ? 1 : lda, trans_a ? lda : 1};
}

// Every function template below is templated on the arch A, even where its body does not use
// it: this header is compiled once per instruction set with that set's -m flags, and a template
// that did not depend on A would be one ODR entity with one copy per set, of which the linker
// keeps any one (an AVX-512 copy could then run on the SSE path).

/// x rounded up to a multiple of `to`.
template <class A>
constexpr std::size_t round_up(std::size_t x, std::size_t to) {
    return (x + to - 1) / to * to;
}

/// x · y, or std::bad_alloc when that count of elements could not be addressed.
template <class A>
std::size_t checked_product(std::size_t x, std::size_t y) {
    if (y != 0 && x > (std::size_t(-1) / 64) / y) throw std::bad_alloc();
    return x * y;
}

/// An empty asm that claims to change v: stops GCC from folding the load of v into every FMA
/// that uses it (RI loads of the same vector instead of one: 12 loads per 10 FMAs on the AVX2
/// 2×5 tile, more than the 2 loads per cycle of Intel cores that have 2 FMAs per cycle).
template <class A, class T>
inline void keep_in_register(xsimd::batch<T, A>& v) {
#if defined(__GNUC__)
    typename xsimd::batch<T, A>::register_type r = v;
    asm("" : "+v"(r));
    v = r;
#else
    (void)v;
#endif
}

/// detail::for_each_chunk_on, but an exception thrown by f (std::bad_alloc when a thread's
/// scratch grows) is caught inside the OpenMP region, where it would call std::terminate, and
/// rethrown on the calling thread after the region; chunks not yet started are skipped.
template <class A, class F>
void guarded_chunks(std::size_t threads, std::size_t count, std::size_t chunk, F&& f) {
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    detail::for_each_chunk_on(threads, count, chunk,
                              [&](std::size_t c, std::size_t i0, std::size_t i1) {
                                  if (failed.load(std::memory_order_relaxed)) return;
                                  try {
                                      f(c, i0, i1);
                                  } catch (...) {
                                      if (!failed.exchange(true)) error = std::current_exception();
                                  }
                              });
    if (error) std::rethrow_exception(error);
}

/// Waits for every thread of the enclosing region (nothing outside one).
template <class A>
inline void team_barrier() {
    detail::barrier();
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
    /// packed A in L2; kc × nc of packed B in L3. AVX2 float: mc 48–288 × kc 192–512 measured
    /// within ±1% of 144 × 256 on 1024³ and 256×784×256 (micro-kernel bound; AMD EPYC family
    /// 26 model 2), so kept. This kc is the depth of the shared-B paths (team_gemm,
    /// gemm_packed); the front door's blocked path takes kernels::gemm_depth_block() instead,
    /// chosen per micro-architecture (512 on Zen 4, where 1024³ took 6–10% less time;
    /// mc 48–192 changed nothing there).
    static constexpr std::size_t kc = 256;
    static constexpr std::size_t mc = mr * (wide ? 12 : 24);
    static constexpr std::size_t nc = nr * 64;
    /// Multiply-adds a GEMM must have per thread before it wakes another one. Measured with
    /// bench_gemm's thread table (AMD EPYC family 26 model 2, 2 cores): an OpenMP fork/join
    /// costs ~3 µs there and each barrier ~1.5 µs (24 and 11 µs with OMP_WAIT_POLICY=passive);
    /// 2^21 multiply-adds take ~15–25 µs on one core of any set we run on, so the second
    /// thread's share always outweighs them. Smaller products stay on the calling thread.
    static constexpr std::size_t min_work_per_thread = std::size_t(1) << 21;
    /// Rows of C per thread from which threads share one packed B (one barrier per depth block)
    /// instead of each packing all of it. Measured (same machine, float AVX-512, 2 threads):
    /// 128×128×784 1.16× faster than 1 thread with private B against 0.98× shared (the shared
    /// panels cross cores and wait at barriers); 1024³ 1.95–2.02× shared against 1.75–1.85×.
    static constexpr std::size_t share_b_rows = 512;
    /// Skinny path tile: ri rows × cj columns of vector accumulators. AVX2 float X·W
    /// 256×784×10, same binary, interleaved runs: 2×5 100 GFLOP/s, 1×10 87, 2×6 86, 3×4 81.
    static constexpr std::size_t ri = wide ? 4 : 2;
    static constexpr std::size_t cj = 5;
    /// Rows per thread chunk on the skinny path (a multiple of ri).
    static constexpr std::size_t skinny_chunk = 32;
    /// The skinny path takes up to this many columns (measured: avx512 up to its tile width,
    /// 16 and 32 columns too; 16-register sets only below 16 columns).
    static constexpr std::size_t skinny_max_n = wide ? nr : 12;
    /// Bytes of packed op(B) per depth block on the skinny path, kept in L1 (double X·W: 2
    /// blocks, 47 GFLOP/s against 37 with one 62 KB block; float: 1 block of 31 KB).
    static constexpr std::size_t skinny_l1_bytes = 32768;
};

/// A 64-byte aligned buffer per thread and slot, grown on demand and never shrunk, so that
/// steady-state calls allocate nothing.
template <class A, class T, int Slot>
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
        void* fresh = std::aligned_alloc(64, round_up<A>(checked_product<A>(count, sizeof(T)), 64));
        if (fresh == nullptr) throw std::bad_alloc();
        buf.p = static_cast<T*>(fresh);
        buf.capacity = count;
    }
    return buf.p;
}

/// Whether this set can transpose 8 × 8 floats in registers (transpose8; AVX2 and AVX-512
/// builds, whose flags include AVX).
template <class A, class T>
inline constexpr bool has_transpose8 = std::is_same_v<T, float> && (xsimd::batch<T, A>::size == 8 ||
                                                                    xsimd::batch<T, A>::size == 16);

/// c[h] = column h of the 8 × 8 floats whose row l is r[l].
template <class A>
inline void transpose8(const __m256 (&r)[8], __m256 (&c)[8]) {
    __m256 t[8];
#pragma GCC unroll 4
    for (std::size_t h = 0; h < 4; ++h) {
        t[2 * h] = _mm256_unpacklo_ps(r[2 * h], r[2 * h + 1]);
        t[2 * h + 1] = _mm256_unpackhi_ps(r[2 * h], r[2 * h + 1]);
    }
    __m256 u[8];
#pragma GCC unroll 2
    for (std::size_t h = 0; h < 2; ++h) {
        u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0x44);
        u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], 0xEE);
        u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0x44);
        u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], 0xEE);
    }
    // u[h] (h < 4) holds column h (low lane) and h + 4 (high lane) of rows 0..3, u[h + 4] the
    // same of rows 4..7.
#pragma GCC unroll 4
    for (std::size_t h = 0; h < 4; ++h) {
        c[h] = _mm256_permute2f128_ps(u[h], u[h + 4], 0x20);
        c[h + 4] = _mm256_permute2f128_ps(u[h], u[h + 4], 0x31);
    }
}

/// out[h · ldo + l] = in[l · ldi + h] for l, h < 8 (an 8 × 8 float block, transposed).
template <class A>
inline void transpose8_block(const float* in, std::size_t ldi, float* out, std::size_t ldo) {
    __m256 r[8], c[8];
#pragma GCC unroll 8
    for (std::size_t l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(in + l * ldi);
    transpose8<A>(r, c);
#pragma GCC unroll 8
    for (std::size_t h = 0; h < 8; ++h) _mm256_storeu_ps(out + h * ldo, c[h]);
}

/// ap[p * MR + r] = a(r, p) for r < mr, p < kc; rows mr..MR-1 are zero. With a's rows
/// contiguous they are read row by row (row(r) points at a(r, 0)); otherwise column by
/// column, col(p) pointing at a(0, p) and rows `rs` apart.
template <class A, std::size_t MR, class T, class Row, class Col>
void pack_a_with(std::size_t mr, std::size_t kc, bool rows_contiguous, Row row, Col col,
                 std::size_t rs, T* ap) {
    if (rows_contiguous) {
        if constexpr (has_transpose8<A, T> && MR == 8) {
            // Whole 8 × 8 blocks through registers (element by element, this was 3.5% of
            // linear_xent's step at 2048×256×32000; AMD EPYC family 26 model 2).
            if (mr == 8) {
                const T* in[8];
#pragma GCC unroll 8
                for (std::size_t l = 0; l < 8; ++l) in[l] = row(l);
                std::size_t p = 0;
                for (; p + 8 <= kc; p += 8) {
                    __m256 r[8], c[8];
#pragma GCC unroll 8
                    for (std::size_t l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(in[l] + p);
                    transpose8<A>(r, c);
#pragma GCC unroll 8
                    for (std::size_t h = 0; h < 8; ++h) _mm256_storeu_ps(ap + (p + h) * MR, c[h]);
                }
                for (; p < kc; ++p) {
                    for (std::size_t r = 0; r < MR; ++r) ap[p * MR + r] = in[r][p];
                }
                return;
            }
        }
        for (std::size_t r = 0; r < mr; ++r) {
            const T* a_row = row(r);
            for (std::size_t p = 0; p < kc; ++p) ap[p * MR + r] = a_row[p];
        }
    } else {
        for (std::size_t p = 0; p < kc; ++p) {
            const T* a_col = col(p);
            for (std::size_t r = 0; r < mr; ++r) ap[p * MR + r] = a_col[r * rs];
        }
    }
    for (std::size_t p = 0; p < kc && mr < MR; ++p) {
        for (std::size_t r = mr; r < MR; ++r) ap[p * MR + r] = T(0);
    }
}

/// pack_a of the view a: strided, or gathered (its rows, or with `across` its columns, read
/// through a.rows).
template <class A, std::size_t MR, class T>
void pack_a(std::size_t mr, std::size_t kc, const view<T>& a, T* ap) {
    if (a.rows == nullptr) {
        pack_a_with<A, MR>(
            mr, kc, a.cs == 1, [&](std::size_t r) { return a.p + r * a.rs; },
            [&](std::size_t p) { return a.p + p * a.cs; }, a.rs, ap);
    } else {
        pack_a_with<A, MR>(
            mr, kc, !a.across, [&](std::size_t r) { return a.rows[r] + a.off; },
            [&](std::size_t p) { return a.rows[p] + a.off; }, 1, ap);
    }
}

/// bp[p * NR + j] = b(p, j) for p < kc, j < nr; columns nr..NR-1 are zero.
template <class A, std::size_t NR, class T>
void pack_b(std::size_t nr, std::size_t kc, const T* b, std::size_t rs, std::size_t cs, T* bp) {
    if (cs == 1) {
        for (std::size_t p = 0; p < kc; ++p) {
            const T* row = b + p * rs;
            T* out = bp + p * NR;
            for (std::size_t j = 0; j < nr; ++j) out[j] = row[j];
            for (std::size_t j = nr; j < NR; ++j) out[j] = T(0);
        }
    } else {
        std::size_t j = 0;
        if constexpr (has_transpose8<A, T>) {
            // Columns of B contiguous (rs == 1): 8 columns × 8 rows at a time through registers.
            if (rs == 1) {
                const std::size_t kc8 = kc / 8 * 8;
                for (; j + 8 <= nr; j += 8) {
                    for (std::size_t p = 0; p < kc8; p += 8)
                        transpose8_block<A>(b + j * cs + p, cs, bp + p * NR + j, NR);
                    for (std::size_t p = kc8; p < kc; ++p) {
                        for (std::size_t h = 0; h < 8; ++h)
                            bp[p * NR + j + h] = b[(j + h) * cs + p];
                    }
                }
            }
        }
        for (; j < nr; ++j) {
            const T* col = b + j * cs;
            for (std::size_t p = 0; p < kc; ++p) bp[p * NR + j] = col[p * rs];
        }
        for (std::size_t p = 0; p < kc && nr < NR; ++p) {
            for (std::size_t j = nr; j < NR; ++j) bp[p * NR + j] = T(0);
        }
    }
}

/// Rows [p0, p1) of panels [q0, q1) of a kc × nc block of B (panel q at bp + q · kc · NR holds
/// columns q · NR .. of the block, zero-padded to NR). With rows of B contiguous (cs == 1) the
/// block is read row by row across all the panels, so that each row of B is one sequential
/// stream (2 KB for sixteen float panels) with the next rows prefetched: panel by panel, each
/// of the kc rows (often a page or more apart, as W's rows in linear_xent's logits
/// X · W[:, j0 ..]) was a separate short read that no hardware prefetcher follows, and pack_b
/// took a quarter of the GEMM time there. The packed values are the same either way.
/// A gathered b (kernels::gemm_rows) has its rows read through b.rows; it is never `across`
/// (gemm_rows gathers op(B)'s rows only when it swaps the operands of a transposed A).
template <class A, std::size_t NR, class T>
void pack_b_panels(std::size_t q0, std::size_t q1, std::size_t p0, std::size_t p1, std::size_t nc,
                   std::size_t kc, const view<T>& b, T* bp) {
    if (b.rows == nullptr && b.cs != 1) {
        for (std::size_t q = q0; q < q1; ++q)
            pack_b<A, NR>(std::min(NR, nc - q * NR), p1 - p0, b.p + q * NR * b.cs + p0 * b.rs, b.rs,
                          b.cs, bp + q * kc * NR + p0 * NR);
        return;
    }
    using batch = xsimd::batch<T, A>;
    constexpr std::size_t L = batch::size;
    static_assert(NR % L == 0, "panels are whole vectors wide");
    constexpr std::size_t kAhead = 2;  // rows of B prefetched ahead
    constexpr std::size_t kLine = 64 / sizeof(T);
    const std::size_t j_begin = q0 * NR, j_end = std::min(nc, q1 * NR);
    for (std::size_t p = p0; p < p1; ++p) {
        const T* row = b.row(p);
        if (p + kAhead < p1) {
            const T* next = b.row(p + kAhead);
            for (std::size_t j = j_begin; j < j_end; j += kLine) __builtin_prefetch(next + j);
        }
        for (std::size_t q = q0; q < q1; ++q) {
            const std::size_t j0 = q * NR;
            T* out = bp + q * kc * NR + p * NR;
            if (j0 + NR <= nc) {
                // Whole vectors (a plain loop over NR floats was scalar: GCC saw possible overlap).
#pragma GCC unroll 8
                for (std::size_t j = 0; j < NR; j += L)
                    batch::load_unaligned(row + j0 + j).store_unaligned(out + j);
            } else {
                const std::size_t nr = nc - j0;
                for (std::size_t j = 0; j < nr; ++j) out[j] = row[j0 + j];
                for (std::size_t j = nr; j < NR; ++j) out[j] = T(0);
            }
        }
    }
}

/// The register-blocked micro-kernel: C[0..mr, 0..nr] = alpha * Ap Bp + beta * C, with Ap a packed
/// kc × MR panel and Bp kc rows of NR values `ldb` apart (a packed panel, or B in place).
template <class A, class T, std::size_t MRv = shape<A, T>::mr>
struct micro {
    using S = shape<A, T>;
    using batch = typename S::batch;
    static constexpr std::size_t MR = MRv;
    static constexpr std::size_t NV = S::nv;
    static constexpr std::size_t L = S::lanes;
    static constexpr std::size_t NR = S::nr;

    /// How many rows of B ahead the in-place path prefetches.
    static constexpr std::size_t kPrefetchRows = 8;

    /// c[h * csc + l] = alpha · rows[l * NR + h] (+ beta · c[h * csc + l]) for l < 8, h < nr: 8
    /// rows of the tile stored by columns, 8 × 8 blocks through registers (float, AVX2 and
    /// AVX-512), the last nr % 8 columns element by element. Each value is alpha · x, then
    /// + beta · c, as in the element-wise store.
    static void store_columns8(const T* rows, std::size_t nr, T alpha, T beta, T* c,
                               std::size_t csc) {
        const __m256 va = _mm256_set1_ps(alpha);
        const __m256 vb = _mm256_set1_ps(beta);
        std::size_t j0 = 0;
        for (; j0 + 8 <= nr; j0 += 8) {
            __m256 r[8], col[8];
#pragma GCC unroll 8
            for (std::size_t l = 0; l < 8; ++l) r[l] = _mm256_load_ps(rows + l * NR + j0);
            transpose8<A>(r, col);
#pragma GCC unroll 8
            for (std::size_t h = 0; h < 8; ++h) {
                T* ch = c + (j0 + h) * csc;
                __m256 x = _mm256_mul_ps(va, col[h]);
                if (beta != T(0)) x = _mm256_add_ps(x, _mm256_mul_ps(vb, _mm256_loadu_ps(ch)));
                _mm256_storeu_ps(ch, x);
            }
        }
        for (std::size_t l = 0; l < 8; ++l) {
            for (std::size_t j = j0; j < nr; ++j) {
                T& cij = c[l + j * csc];
                const T x = alpha * rows[l * NR + j];
                cij = beta == T(0) ? x : x + beta * cij;
            }
        }
    }

    /// B's rows `ld` apart (a packed panel, or B in place).
    struct strided_b {
        const T* p;
        std::size_t ld;
        const T* row() const { return p; }
        const T* ahead() const { return p + kPrefetchRows * ld; }
        void next() { p += ld; }
    };
    /// B's rows through pointers, in place (kernels::gemm_rows): `left` rows from *rows on.
    struct gathered_b {
        const T* const* rows;
        std::size_t off;
        std::size_t left;
        const T* row() const { return *rows + off; }
        // The last kPrefetchRows rows ask for themselves: no row lies beyond them, and the
        // pointer array ends there.
        const T* ahead() const {
            return (kPrefetchRows < left ? rows[kPrefetchRows] : *rows) + off;
        }
        void next() { ++rows, --left; }
    };

    template <bool prefetch_b>
    static void run(std::size_t kc, const T* ap, const T* bp, std::size_t ldb, T alpha, T beta,
                    T* c, std::size_t rsc, std::size_t csc, std::size_t mr, std::size_t nr) {
        run_on<prefetch_b>(kc, ap, strided_b{bp, ldb}, alpha, beta, c, rsc, csc, mr, nr);
    }
    /// run with B's kc rows in place at rows[0..kc) + off.
    template <bool prefetch_b>
    static void run(std::size_t kc, const T* ap, const T* const* rows, std::size_t off, T alpha,
                    T beta, T* c, std::size_t rsc, std::size_t csc, std::size_t mr,
                    std::size_t nr) {
        run_on<prefetch_b>(kc, ap, gathered_b{rows, off, kc}, alpha, beta, c, rsc, csc, mr, nr);
    }

    template <bool prefetch_b, class B>
    static void run_on(std::size_t kc, const T* ap, B b, T alpha, T beta, T* c, std::size_t rsc,
                       std::size_t csc, std::size_t mr, std::size_t nr) {
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
                const T* ahead = b.ahead();
#pragma GCC unroll 4
                for (std::size_t v = 0; v < NR * sizeof(T); v += 64) {
                    __builtin_prefetch(reinterpret_cast<const char*>(ahead) + v);
                }
            }
            const T* bp = b.row();
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
            b.next();
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
        // Unrolled, as every other loop over acc: one loop with a run-time index makes GCC keep
        // acc in memory for the whole kernel (zeroed on the stack before the k loop, stored
        // there after it and loaded back: three memory operations per accumulator and tile,
        // which Zen 4's one 256-bit store per cycle paid for at small k).
        alignas(64) T buf[MR * NR];
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) {
#pragma GCC unroll 4
            for (std::size_t v = 0; v < NV; ++v) acc[r][v].store_aligned(buf + r * NR + v * L);
        }
        std::size_t r0 = 0;
        if constexpr (has_transpose8<A, T>) {
            // C by columns (rsc == 1: the Cᵀ of Xᵀ·dZ): a column's rows are adjacent in memory,
            // so each 8 × 8 block of the tile is transposed in registers and stored 8 values at
            // a time, not element by element (the scalar stores were a fifth of this kernel's
            // time on dW of the 784 → 10 step).
            if (rsc == 1) {
                for (; r0 + 8 <= mr; r0 += 8)
                    store_columns8(buf + r0 * NR, nr, alpha, beta, c + r0, csc);
            }
        }
        for (std::size_t r = r0; r < mr; ++r) {
            for (std::size_t j = 0; j < nr; ++j) {
                T& cij = c[r * rsc + j * csc];
                const T x = alpha * buf[r * NR + j];
                cij = beta == T(0) ? x : x + beta * cij;
            }
        }
    }
};

/// The blocked path for C (m × n, element (i, j) at c[i * rsc + j * csc]); MC and the
/// micro-tile height MRv are parameters (block sizes can be compared in one binary, and a short
/// C takes a taller tile: short_blocked), and so is the depth block KC, at run time: it is
/// chosen per micro-architecture (kernels::gemm_depth_block) and is a plain loop bound here.
///
/// Threads: one OpenMP region per call (not one per depth block), and each thread takes an even
/// share of C, whole micro-tiles, over all of k:
/// - by rows (shares of MR-row panels), when C has at least two row panels per thread and is
///   not shorter than wide (unless its rows are many enough to share B; see by_rows). Each
///   thread packs all of B for itself, unless its share has at least shape::share_b_rows rows:
///   then the threads share the packed B, each packing an even part of it, with one barrier
///   per depth block (B is double-buffered: a thread packing block i + 1 into the buffer of
///   block i − 1 has passed the barrier of block i, which every thread reaches only after
///   computing block i − 1);
/// - otherwise by column panels: each thread packs the B panels it alone reads, and the (short)
///   A block itself.
/// Every element of C is the same micro-kernel over the same depth blocks in the same order
/// whichever thread computes it, so the result does not depend on the thread count.
template <class A, class T, std::size_t MC = shape<A, T>::mc, std::size_t MRv = shape<A, T>::mr>
void blocked(std::size_t m, std::size_t n, std::size_t k, T alpha, view<T> a, view<T> b, T beta,
             T* c, std::size_t rsc, std::size_t csc, std::size_t depth_block) {
    using S = shape<A, T>;
    const std::size_t KC = depth_block;
    constexpr std::size_t MR = MRv;
    static_assert(MC % MR == 0, "row blocks are whole micro-tiles");
    constexpr std::size_t NR = S::nr;
    // B in place: rows contiguous (strided, or gathered: the micro-kernel then reads them
    // through their pointers), and at most two row panels per call would reuse a packed copy.
    const bool direct_b = (b.rows != nullptr ? !b.across : b.cs == 1) && m <= 2 * MR;
    const std::size_t row_panels = (m + MR - 1) / MR;
    const std::size_t col_panels = (n + NR - 1) / NR;
    const std::size_t threads = detail::threads_for(std::max(row_panels / 2, col_panels), m * n * k,
                                                    S::min_work_per_thread);
    // By rows when C is at least as tall as wide (or each thread's rows share B); a short, wide
    // C by columns, so that no thread packs all of B: 64×4096×256 took 2.03–2.18× less time on
    // two threads by columns against 1.61–1.63× by rows, 48×2048×512 2.04–2.18× against
    // 1.54–1.71× (AMD EPYC family 26 model 2, float).
    const bool by_rows = row_panels >= 2 * threads &&
                         (m >= n || m / threads >= S::share_b_rows || col_panels < threads);
    const bool shared_b = threads > 1 && by_rows && m / threads >= S::share_b_rows;
    // One packed B block (KC × NC): per thread, or two shared by all.
    const std::size_t bsize = KC * round_up<A>(std::min(n, S::nc), NR);
    T* const shared_bbuf = shared_b ? scratch<A, T, 0>(2 * bsize) : nullptr;

    // Thread t of nt: rows [i0, i1) and column panels [g0, g1) of C.
    auto run = [&](std::size_t t, std::size_t nt, T* abuf, T* own_bbuf) {
        const std::size_t i0 = by_rows ? t * row_panels / nt * MR : 0;
        const std::size_t i1 = by_rows ? std::min(m, (t + 1) * row_panels / nt * MR) : m;
        const std::size_t g0 = by_rows ? 0 : t * col_panels / nt;
        const std::size_t g1 = by_rows ? col_panels : (t + 1) * col_panels / nt;
        std::size_t round = 0;
        for (std::size_t jc = 0; jc < n; jc += S::nc) {
            const std::size_t nc = std::min(S::nc, n - jc);
            const std::size_t panels = (nc + NR - 1) / NR;
            // This thread's panels of the block: [q0, q1) (block-relative).
            const std::size_t first = jc / NR;
            const std::size_t q0 = std::clamp(g0, first, first + panels) - first;
            const std::size_t q1 = std::clamp(g1, first, first + panels) - first;
            // The panels this thread packs: its part of a shared B, or those it reads.
            const std::size_t p0 = shared_b ? t * panels / nt : q0;
            const std::size_t p1 = shared_b ? (t + 1) * panels / nt : q1;
            for (std::size_t pc = 0; pc < k; pc += KC, ++round) {
                const std::size_t kc = std::min(KC, k - pc);
                // Later depth blocks add to what the earlier ones wrote.
                const T beta_k = pc == 0 ? beta : T(1);
                T* bb = shared_b ? shared_bbuf + (round & 1) * bsize : own_bbuf;
                if (!direct_b) {
                    pack_b_panels<A, NR>(p0, p1, 0, kc, nc, kc, b.at(pc, jc), bb);
                } else {  // only a ragged last panel is packed
                    for (std::size_t q = p0; q < p1; ++q) {
                        const std::size_t nr = std::min(NR, nc - q * NR);
                        if (nr == NR) continue;
                        if (b.rows == nullptr)
                            pack_b<A, NR>(nr, kc, b.p + pc * b.rs + (jc + q * NR) * b.cs, b.rs,
                                          b.cs, bb + q * kc * NR);
                        else
                            pack_b_panels<A, NR>(q, q + 1, 0, kc, nc, kc, b.at(pc, jc), bb);
                    }
                }
                if (shared_b) team_barrier<A>();
                for (std::size_t ib = i0; ib < i1; ib += MC) {
                    const std::size_t mc = std::min(MC, i1 - ib);
                    for (std::size_t ir = 0; ir < mc; ir += MR) {
                        pack_a<A, MR>(std::min(MR, mc - ir), kc, a.at(ib + ir, pc), abuf + ir * kc);
                    }
                    for (std::size_t q = q0; q < q1; ++q) {
                        const std::size_t jr = q * NR;
                        const std::size_t nr = std::min(NR, nc - jr);
                        const bool in_place = direct_b && nr == NR;
                        const bool gathered = in_place && b.rows != nullptr;
                        const T* bp =
                            in_place && !gathered ? b.p + pc * b.rs + jc + jr : bb + q * kc * NR;
                        const std::size_t ldbp = in_place ? b.rs : NR;
                        for (std::size_t ir = 0; ir < mc; ir += MR) {
                            T* cp = c + (ib + ir) * rsc + (jc + jr) * csc;
                            const std::size_t mr = std::min(MR, mc - ir);
                            if (gathered && ir == 0) {
                                // B's rows through their pointers (prefetched by the first row
                                // panel, as below; there are at most two: direct_b).
                                micro<A, T, MR>::template run<true>(kc, abuf, b.rows + pc,
                                                                    b.off + jc + jr, alpha, beta_k,
                                                                    cp, rsc, csc, mr, nr);
                            } else if (gathered) {
                                micro<A, T, MR>::template run<false>(
                                    kc, abuf + ir * kc, b.rows + pc, b.off + jc + jr, alpha, beta_k,
                                    cp, rsc, csc, mr, nr);
                            } else if (in_place && ir == 0) {
                                micro<A, T, MR>::template run<true>(kc, abuf, bp, ldbp, alpha,
                                                                    beta_k, cp, rsc, csc, mr, nr);
                            } else {
                                micro<A, T, MR>::template run<false>(kc, abuf + ir * kc, bp, ldbp,
                                                                     alpha, beta_k, cp, rsc, csc,
                                                                     mr, nr);
                            }
                        }
                    }
                }
            }
        }
    };
    if (threads == 1) {
        run(0, 1, scratch<A, T, 1>(MC * KC), scratch<A, T, 0>(bsize));
        return;
    }
    // No exception may leave the region: each thread's buffers (the only allocations) are taken
    // before a first barrier, and if any thread failed, every thread returns after it.
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    detail::parallel(threads, [&](std::size_t t, std::size_t nt) {
        T* abuf = nullptr;
        T* own_bbuf = nullptr;
        try {
            abuf = scratch<A, T, 1>(MC * KC);
            if (!shared_b) own_bbuf = scratch<A, T, 0>(bsize);
        } catch (...) {
            if (!failed.exchange(true)) error = std::current_exception();
        }
        team_barrier<A>();
        if (!failed.load()) run(t, nt, abuf, own_bbuf);
    });
    if (error) std::rethrow_exception(error);
}

/// Elements of the buffer team_gemm shares for a B of up to n columns: two KC-deep blocks of
/// packed B (double-buffered; see team_gemm).
template <class A, class T>
std::size_t team_b_size(std::size_t n) {
    using S = shape<A, T>;
    return 2 * S::kc * round_up<A>(std::min(n, S::nc), S::nr);
}

/// Elements of a whole packed op(B) (k × n) in gemm_packed's layout: the column blocks (NC wide)
/// one after another, block jc at jc · k; in each, the depth blocks (KC deep) one after another,
/// block pc at pc · round_up(nc, NR); in each, panel q at q · kc · NR.
template <class A, class T>
std::size_t packed_b_size(std::size_t k, std::size_t n) {
    return checked_product<A>(k, round_up<A>(n, shape<A, T>::nr));
}

/// C (m rows) += the product of A's rows (va, at depth pc) and one packed kc × nc block of B, with
/// beta_k on the first depth block: the blocked path's inner loops.
template <class A, class T>
void multiply_block(std::size_t m, std::size_t nc, std::size_t kc, T alpha, T beta_k, view<T> va,
                    const T* bb, T* c, std::size_t ldc, T* abuf) {
    using S = shape<A, T>;
    constexpr std::size_t MR = S::mr, NR = S::nr, MC = S::mc;
    const std::size_t panels = (nc + NR - 1) / NR;
    for (std::size_t ib = 0; ib < m; ib += MC) {
        const std::size_t mc = std::min(MC, m - ib);
        for (std::size_t ir = 0; ir < mc; ir += MR) {
            pack_a<A, MR>(std::min(MR, mc - ir), kc, va.at(ib + ir, 0), abuf + ir * kc);
        }
        for (std::size_t q = 0; q < panels; ++q) {
            const std::size_t nr = std::min(NR, nc - q * NR);
            for (std::size_t ir = 0; ir < mc; ir += MR) {
                micro<A, T, MR>::template run<false>(kc, abuf + ir * kc, bb + q * kc * NR, NR,
                                                     alpha, beta_k, c + (ib + ir) * ldc + q * NR,
                                                     ldc, 1, std::min(MR, mc - ir), nr);
            }
        }
    }
}

/// Thread t of nt packs its share of the rows of every depth block of op(B) (k × n) into
/// `packed` (packed_b_size elements, gemm_packed's layout): each row of B, often a page or more
/// from the next, is read by one thread only. The caller meets the other threads before any of
/// them reads `packed`.
template <class A, class T>
void pack_b_share(std::size_t t, std::size_t nt, bool trans_b, std::size_t k, std::size_t n,
                  const T* b, std::size_t ldb, T* packed) {
    using S = shape<A, T>;
    constexpr std::size_t NR = S::nr, KC = S::kc;
    const view<T> vb{b, trans_b ? 1 : ldb, trans_b ? ldb : 1};
    for (std::size_t jc = 0; jc < n; jc += S::nc) {
        const std::size_t nc = std::min(S::nc, n - jc);
        for (std::size_t pc = 0; pc < k; pc += KC) {
            const std::size_t kc = std::min(KC, k - pc);
            pack_b_panels<A, NR>(0, (nc + NR - 1) / NR, t * kc / nt, (t + 1) * kc / nt, nc, kc,
                                 vb.at(pc, jc), packed + jc * k + pc * round_up<A>(nc, NR));
        }
    }
}

/// C (m rows) = alpha · op(A) · B + beta · C with B already packed (pack_b_share): the blocked
/// path without its packing of B, for one thread's rows; no barrier.
template <class A, class T>
void gemm_packed(std::size_t m, std::size_t n, std::size_t k, T alpha, const view<T>& va,
                 const T* packed, T beta, T* c, std::size_t ldc) {
    using S = shape<A, T>;
    constexpr std::size_t NR = S::nr, KC = S::kc, MC = S::mc;
    T* const abuf = scratch<A, T, 1>(MC * KC);  // reserved (team_reserve): no allocation here
    for (std::size_t jc = 0; jc < n; jc += S::nc) {
        const std::size_t nc = std::min(S::nc, n - jc);
        for (std::size_t pc = 0; pc < k; pc += KC) {
            multiply_block<A, T>(m, nc, std::min(KC, k - pc), alpha, pc == 0 ? beta : T(1),
                                 va.at(0, pc), packed + jc * k + pc * round_up<A>(nc, NR), c + jc,
                                 ldc, abuf);
        }
    }
}

/// This thread's packed-A buffer for team_gemm and gemm_packed, taken before the first call so
/// that they never allocate (an exception must not leave a thread that others wait for at a
/// barrier). Throws std::bad_alloc.
template <class A, class T>
void team_reserve() {
    (void)scratch<A, T, 1>(shape<A, T>::mc * shape<A, T>::kc);
}

/// Thread t of the nt threads of an enclosing OpenMP region computes its own m rows of
/// C = alpha · op(A) · op(B) + beta · C (a and c point at them), where op(B) (k × n) is the same
/// for every thread and packed once, together: each thread packs an even share of the rows of
/// every depth block into `shared` (team_b_size elements), then a barrier, then every thread
/// multiplies its rows by all the panels. B is double-buffered (a thread packing block i + 1
/// into the buffer of block i − 1 has passed the barrier of block i, which every thread reaches
/// only after computing block i − 1); the barrier that the front door makes on entry keeps a
/// call's packing off the buffer that the previous call's slower threads still read. Every
/// thread of the region must call it with the same b, n, k (m may differ, and be 0), after
/// team_reserve. Each element of C is the blocked path's micro-kernel over the same depth blocks
/// in the same order, whichever rows a thread has, so the result does not depend on nt or on
/// how rows are shared.
template <class A, class T>
void team_gemm(std::size_t t, std::size_t nt, bool trans_b, std::size_t m, std::size_t n,
               std::size_t k, T alpha, const view<T>& va, const T* b, std::size_t ldb, T beta, T* c,
               std::size_t ldc, T* shared) {
    using S = shape<A, T>;
    constexpr std::size_t NR = S::nr, KC = S::kc, MC = S::mc;
    const view<T> vb{b, trans_b ? 1 : ldb, trans_b ? ldb : 1};
    const std::size_t bsize = KC * round_up<A>(std::min(n, S::nc), NR);
    T* const abuf = scratch<A, T, 1>(MC * KC);  // reserved: no allocation here
    std::size_t round = 0;
    for (std::size_t jc = 0; jc < n; jc += S::nc) {
        const std::size_t nc = std::min(S::nc, n - jc);
        for (std::size_t pc = 0; pc < k; pc += KC, ++round) {
            const std::size_t kc = std::min(KC, k - pc);
            T* const bb = shared + (round & 1) * bsize;
            pack_b_panels<A, NR>(0, (nc + NR - 1) / NR, t * kc / nt, (t + 1) * kc / nt, nc, kc,
                                 vb.at(pc, jc), bb);
            if (nt > 1) team_barrier<A>();
            multiply_block<A, T>(m, nc, kc, alpha, pc == 0 ? beta : T(1), va.at(0, pc), bb, c + jc,
                                 ldc, abuf);
        }
    }
}

/// blocked with the micro-tile height that pads a short C least: on AVX-512 (32 vector
/// registers) C of 9–10 rows takes 10-row tiles and of 11–12 rows 12-row tiles (10×2 or 12×2
/// vectors of accumulators), instead of one 8-row tile and one mostly padding. Xᵀ·dZ at 10
/// classes, batch 64 (Cᵀ: 10 × 784, k = 64), float, AMD EPYC family 26 model 2: 6.7–7.2 µs
/// with 10-row tiles, 7.7–8.2 with 12-row, 9.8–10.1 µs with 8-row. Every element is the same
/// dot product in the same order whatever the tile height, so results do not change. (AVX2's
/// 16 registers: a 5-row tile for 10 rows was slower, 18 against 12.5 µs, so 6 stays.)
template <class A, class T>
void short_blocked(std::size_t m, std::size_t n, std::size_t k, T alpha, view<T> a, view<T> b,
                   T beta, T* c, std::size_t rsc, std::size_t csc) {
    using S = shape<A, T>;
    const std::size_t kc = kernels::gemm_depth_block();  // per micro-architecture (arch.hpp)
    if constexpr (S::wide) {
        if (m > S::mr && m <= 10) {
            blocked<A, T, 10 * 12, 10>(m, n, k, alpha, a, b, beta, c, rsc, csc, kc);
            return;
        }
        if (m > 10 && m <= 12) {
            blocked<A, T, 12 * 12, 12>(m, n, k, alpha, a, b, beta, c, rsc, csc, kc);
            return;
        }
    }
    blocked<A, T>(m, n, k, alpha, a, b, beta, c, rsc, csc, kc);
}

/// The 256-bit side of hsums512 for one element type: G vectors' lane sums per group, a
/// 512-bit vector folded to 256 bits (its two halves added), and the transposed hadd tree that
/// turns G folded vectors into one vector of their sums. A template on the set A too, so that
/// nothing here is compiled in the translation units of sets without AVX-512.
template <class A, class T>
struct half_sums;
template <class A>
struct half_sums<A, float> {
    using half = __m256;
    static constexpr std::size_t G = 8;
    static half zero() { return _mm256_setzero_ps(); }
    static half fold(__m512 z) {
        return _mm256_add_ps(_mm512_castps512_ps256(z),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(z), 1)));
    }
    static half tree(const half (&f)[G]) {
        // hadd works within 128-bit lanes: u0 holds the sums of lanes 0-3 (low half) and 4-7
        // (high half) of f[0..3], u1 the same of f[4..7].
        const half u0 = _mm256_hadd_ps(_mm256_hadd_ps(f[0], f[1]), _mm256_hadd_ps(f[2], f[3]));
        const half u1 = _mm256_hadd_ps(_mm256_hadd_ps(f[4], f[5]), _mm256_hadd_ps(f[6], f[7]));
        return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                             _mm256_permute2f128_ps(u0, u1, 0x31));
    }
    static void store(float* out, half h) { _mm256_storeu_ps(out, h); }
};
template <class A>
struct half_sums<A, double> {
    using half = __m256d;
    static constexpr std::size_t G = 4;
    static half zero() { return _mm256_setzero_pd(); }
    static half fold(__m512d z) {
        return _mm256_add_pd(_mm512_castpd512_pd256(z), _mm512_extractf64x4_pd(z, 1));
    }
    static half tree(const half (&f)[G]) {
        // t0 = [f0 01, f1 01 | f0 23, f1 23], t1 the same of f2, f3.
        const half t0 = _mm256_hadd_pd(f[0], f[1]);
        const half t1 = _mm256_hadd_pd(f[2], f[3]);
        return _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),
                             _mm256_permute2f128_pd(t0, t1, 0x31));
    }
    static void store(double* out, half h) { _mm256_storeu_pd(out, h); }
};

/// out[i] = the sum of the lanes of v[i], i < N, for 512-bit vectors (AVX-512): each folded
/// to 256 bits, then 8 floats or 4 doubles at a time reduced by a transposed hadd tree into one
/// vector of their sums (half_sums). xsimd::hadd per vector took a quarter of dot_tile's time
/// on X·W of the 784 → 10 step (AMD EPYC family 26 model 2).
template <class A, class T, std::size_t N>
inline void hsums512(const xsimd::batch<T, A> (&v)[N], T* out) {
    using H = half_sums<A, T>;
    constexpr std::size_t G = H::G;
    // Unrolled: an index known only at run time would keep the caller's accumulators in memory.
#pragma GCC unroll 8
    for (std::size_t g = 0; g < N; g += G) {
        typename H::half f[G];
#pragma GCC unroll 8
        for (std::size_t i = 0; i < G; ++i) f[i] = g + i < N ? H::fold(v[g + i]) : H::zero();
        const auto sums = H::tree(f);
        if (g + G <= N) {
            H::store(out + g, sums);
        } else {
            alignas(32) T tmp[G];
            H::store(tmp, sums);
            for (std::size_t i = 0; g + i < N; ++i) out[g + i] = tmp[i];
        }
    }
}

/// Rows of a strided A for dot_tile: row r at p + r · ld.
template <class T>
struct strided_rows {
    const T* p;
    std::size_t ld;
    const T* operator[](std::size_t r) const { return p + r * ld; }
};
/// Rows of a gathered A for dot_tile: row r at p[r].
template <class T, std::size_t N>
struct row_list {
    const T* p[N];
    const T* operator[](std::size_t r) const { return p[r]; }
};

/// out[r][j] = Σ_p a(r, p) · op(B)(p, j) for RI rows of A (row r at a[r], contiguous in p) and CJ
/// columns of the interleaved op(B) panel (see skinny: L-long slices of the CJ columns are
/// adjacent, the next k-slice `step` further): one vector of partial sums per entry, reduced at
/// the end by a transposed hadd tree (haddp: L sums per instruction group, not one).
template <class A, class T, std::size_t RI, std::size_t CJ, class Rows>
void dot_tile(std::size_t k, Rows a, const T* bp, std::size_t step, T (&out)[RI][CJ]) {
    using batch = xsimd::batch<T, A>;
    constexpr std::size_t L = batch::size;
    batch acc[RI * CJ];
#pragma GCC unroll 32
    for (std::size_t t = 0; t < RI * CJ; ++t) acc[t] = batch(T(0));
    std::size_t p = 0;
    const T* b = bp;
    for (; p + L <= k; p += L, b += step) {
        batch av[RI];
#pragma GCC unroll 8
        for (std::size_t r = 0; r < RI; ++r) av[r] = batch::load_unaligned(a[r] + p);
#pragma GCC unroll 16
        for (std::size_t j = 0; j < CJ; ++j) {
            batch bv = batch::load_aligned(b + j * L);
            if constexpr (RI > 1) keep_in_register<A>(bv);
#pragma GCC unroll 8
            for (std::size_t r = 0; r < RI; ++r) {
                acc[r * CJ + j] = xsimd::fma(av[r], bv, acc[r * CJ + j]);
            }
        }
    }
    // acc is in the row-major order of out, so consecutive sums land in one store. Not
    // xsimd::haddp on AVX-512: xsimd 8.1's avx512f float haddp returns the sums of some rows in
    // each other's places (checked with a standalone program; tests/kernels/test_gemm fails
    // with it); hsums512 folds to 256 bits instead.
    T* flat = &out[0][0];
    if constexpr (L * sizeof(T) == 64) {
        hsums512<A>(acc, flat);
    } else {
        std::size_t t = 0;
#pragma GCC unroll 4
        for (; t + L <= RI * CJ; t += L) xsimd::haddp(acc + t).store_unaligned(flat + t);
#pragma GCC unroll 32
        for (; t < RI * CJ; ++t) flat[t] = xsimd::hadd(acc[t]);
    }
    if (p < k) {
        // The last k % L values: scalar, from the same interleaved slice.
        for (std::size_t r = 0; r < RI; ++r) {
            for (std::size_t j = 0; j < CJ; ++j) {
                T s = T(0);
                for (std::size_t l = 0; p + l < k; ++l) s += a[r][p + l] * b[j * L + l];
                out[r][j] += s;
            }
        }
    }
}

/// C = alpha · out + beta · C for an ri × cj tile at c (row stride ldc).
template <class A, class T, std::size_t RI, std::size_t CJ>
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

/// s[r * lds + j] = out[r][j] (first depth block) or += out[r][j], for r < ri and all CJ columns.
template <class A, class T, std::size_t RI, std::size_t CJ>
void add_tile(const T (&out)[RI][CJ], std::size_t ri, bool first, T* s, std::size_t lds) {
    for (std::size_t r = 0; r < ri; ++r) {
        for (std::size_t j = 0; j < CJ; ++j)
            s[r * lds + j] = first ? out[r][j] : s[r * lds + j] + out[r][j];
    }
}

/// Vector part of packing one full k-slice of op(B) for the skinny path: out[j * L + l] =
/// b(l, j) (element (l, j) at b[l * rs + j * cs]) for the leading columns j it can do with whole
/// vectors; returns how many columns it did (the caller packs the rest element by element).
/// Column-contiguous B (cs ≠ 1, rs == 1) is a vector copy per column; row-major float B (X·W)
/// on AVX2 and AVX-512 goes through 8×8 register transposes, 8 columns at a time (AVX-512: two
/// per 16-row slice; 64×784×10 took 8.0 µs with the element-by-element packing it had before).
template <class A, class T>
std::size_t pack_slice(std::size_t n, const T* b, std::size_t rs, std::size_t cs,
                       std::size_t readable, T* out) {
    using batch = xsimd::batch<T, A>;
    constexpr std::size_t L = batch::size;
    std::size_t j = 0;
    if (cs != 1 && rs == 1) {
        for (; j < n; ++j) batch::load_unaligned(b + j * cs).store_aligned(out + j * L);
        return j;
    }
    if constexpr (has_transpose8<A, T>) {
        if (cs != 1) return 0;
        // A last group of fewer than 8 columns reads on into the next columns or rows (not
        // stored), while that stays within the `readable` elements of op(B) from b.
        for (; j < n && (j + 8 <= n || (L - 1) * rs + j + 8 <= readable); j += 8) {
            const std::size_t cols = std::min<std::size_t>(8, n - j);
            // Rows h0..h0 + 7 of the slice (AVX-512: two such halves per column vector).
            for (std::size_t h0 = 0; h0 < L; h0 += 8) {
                __m256 r[8], c[8];
#pragma GCC unroll 8
                for (std::size_t l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(b + (h0 + l) * rs + j);
                transpose8<A>(r, c);
#pragma GCC unroll 8
                for (std::size_t h = 0; h < 8; ++h) {
                    if (h < cols) _mm256_store_ps(out + (j + h) * L + h0, c[h]);
                }
            }
        }
    }
    return std::min(j, n);
}

/// The skinny path: rows of a contiguous (a.cs == 1, or gathered and not across), C row-major
/// (ldc), n small; RI × CJ tiles (parameters so that tiles can be compared in one binary).
template <class A, class T, std::size_t RI = shape<A, T>::ri, std::size_t CJ = shape<A, T>::cj>
void skinny(std::size_t m, std::size_t n, std::size_t k, T alpha, view<T> a, view<T> b, T beta,
            T* c, std::size_t ldc) {
    using S = shape<A, T>;
    constexpr std::size_t L = S::lanes;
    // op(B) packed once per call, interleaved: bp[(q * np + j) * L + l] = op(B)(q * L + l, j), so
    // a tile's CJ column slices for one step of k are adjacent and, when np == CJ (X·W with 10
    // classes), the tile reads one contiguous stream. Columns n..np-1 and rows k.. are zero.
    const std::size_t np = round_up<A>(n, CJ);
    const std::size_t kq = (k + L - 1) / L;
    const std::size_t step = np * L;
    T* bp = scratch<A, T, 0>(checked_product<A>(kq, step));
    // Elements of op(B) from b.p to its last one, (k - 1, n - 1).
    const std::size_t extent = (k - 1) * b.rs + (n - 1) * b.cs + 1;
    for (std::size_t q = 0; q < kq; ++q) {
        T* out = bp + q * step;
        const std::size_t lk = std::min(L, k - q * L);
        std::size_t j = 0;
        if (lk == L) {
            j = pack_slice<A>(n, b.p + q * L * b.rs, b.rs, b.cs, extent - q * L * b.rs, out);
        }
        if (b.cs == 1) {
            for (std::size_t l = 0; l < lk; ++l) {
                const T* row = b.p + (q * L + l) * b.rs;
                for (std::size_t jj = j; jj < n; ++jj) out[jj * L + l] = row[jj];
            }
        } else {
            for (std::size_t jj = j; jj < n; ++jj) {
                const T* col = b.p + jj * b.cs + q * L * b.rs;
                for (std::size_t l = 0; l < lk; ++l) out[jj * L + l] = col[l * b.rs];
            }
        }
        if (lk < L || n < np) {
            for (std::size_t jj = 0; jj < np; ++jj) {
                for (std::size_t l = jj < n ? lk : 0; l < L; ++l) out[jj * L + l] = T(0);
            }
        }
    }
    // Depth blocks of kb (a multiple of L): the packed op(B) of one block stays in L1 while the
    // rows of a chunk stream past it (float X·W with 10 classes: one block of the whole k).
    const std::size_t kmax = std::max(L, S::skinny_l1_bytes / (np * sizeof(T)) / L * L);
    const std::size_t blocks = (k + kmax - 1) / kmax;
    const std::size_t kb = round_up<A>((k + blocks - 1) / blocks, L);
    const std::size_t threads = detail::threads_for((m + S::skinny_chunk - 1) / S::skinny_chunk,
                                                    m * n * k, S::min_work_per_thread);
    // dot_tile over the rows from i, depth p0 on: strided (the same code as with a base and a
    // stride), or gathered.
    const auto dot = [&](std::size_t i, std::size_t p0, std::size_t kl, const T* bj, auto& out) {
        constexpr std::size_t R = std::extent_v<std::remove_reference_t<decltype(out)>>;
        if (a.rows == nullptr) {
            dot_tile<A, T, R, CJ>(kl, strided_rows<T>{a.p + i * a.rs + p0, a.rs}, bj, step, out);
        } else {
            row_list<T, R> rows;
            for (std::size_t r = 0; r < R; ++r) rows.p[r] = a.rows[i + r] + a.off + p0;
            dot_tile<A, T, R, CJ>(kl, rows, bj, step, out);
        }
    };
    guarded_chunks<A>(
        threads, m, S::skinny_chunk, [&](std::size_t, std::size_t i0, std::size_t i1) {
            // With several depth blocks, the chunk's dot products (row r at sums[r * np]), summed
            // over the blocks in order; with one, tiles go straight to C.
            T sums[S::skinny_chunk * ((S::skinny_max_n + CJ - 1) / CJ * CJ)];
            for (std::size_t p0 = 0; p0 < k; p0 += kb) {
                const std::size_t kl = std::min(kb, k - p0);
                const T* bk = bp + p0 / L * step;
                for (std::size_t i = i0; i < i1; i += RI) {
                    const std::size_t ri = std::min(RI, i1 - i);
                    for (std::size_t j0 = 0; j0 < n; j0 += CJ) {
                        T* s = sums + (i - i0) * np + j0;
                        const std::size_t cj = std::min(CJ, n - j0);
                        if (ri == RI) {
                            T out[RI][CJ];
                            dot(i, p0, kl, bk + j0 * L, out);
                            if (blocks == 1) {
                                store_tile<A>(out, RI, cj, alpha, beta, c + i * ldc + j0, ldc);
                            } else {
                                add_tile<A>(out, RI, p0 == 0, s, np);
                            }
                        } else {
                            for (std::size_t r = 0; r < ri; ++r) {
                                T out[1][CJ];
                                dot(i + r, p0, kl, bk + j0 * L, out);
                                if (blocks == 1) {
                                    store_tile<A>(out, 1, cj, alpha, beta, c + (i + r) * ldc + j0,
                                                  ldc);
                                } else {
                                    add_tile<A>(out, 1, p0 == 0, s + r * np, np);
                                }
                            }
                        }
                    }
                }
            }
            for (std::size_t i = i0; i < i1 && blocks > 1; ++i) {
                const T* s = sums + (i - i0) * np;
                T* ci = c + i * ldc;
                for (std::size_t j = 0; j < n; ++j) {
                    const T x = alpha * s[j];
                    ci[j] = beta == T(0) ? x : x + beta * ci[j];
                }
            }
        });
}

}  // namespace gemm_impl

namespace gemm_impl {
/// The front doors' choice of path for op(A) (va: its rows contiguous unless trans_a) and
/// op(B) (vb).
template <class A, class T>
void product(bool trans_a, std::size_t m, std::size_t n, std::size_t k, T alpha, const view<T>& va,
             const view<T>& vb, T beta, T* c, std::size_t ldc) {
    using S = shape<A, T>;
    // Up to this many columns, vectorizing along k (or transposing) beats padding n to the
    // micro-tile width.
    const bool few_columns = n <= S::skinny_max_n;
    if (few_columns && !trans_a && k >= 2 * S::lanes) {
        skinny<A, T>(m, n, k, alpha, va, vb, beta, c, ldc);
    } else if (few_columns && trans_a && m > n) {
        // Cᵀ = op(B)ᵀ op(A)ᵀ: swap the operands and transpose each view, write C by columns.
        short_blocked<A, T>(n, m, k, alpha, vb.transposed(), va.transposed(), beta, c, 1, ldc);
    } else {
        short_blocked<A, T>(m, n, k, alpha, va, vb, beta, c, ldc, 1);
    }
}
}  // namespace gemm_impl

template <class A, class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    using gemm_impl::view;
    gemm_impl::product<A, T>(trans_a, m, n, k, alpha,
                             view<T>{a, trans_a ? 1 : lda, trans_a ? lda : 1},
                             view<T>{b, trans_b ? 1 : ldb, trans_b ? ldb : 1}, beta, c, ldc);
}

template <class A, class T>
void gemm_rows(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
               const T* const* a_rows, std::size_t a_off, const T* b, std::size_t ldb, T beta, T* c,
               std::size_t ldc) {
    using gemm_impl::view;
    gemm_impl::product<A, T>(trans_a, m, n, k, alpha,
                             gemm_impl::a_view<A, T>(trans_a, nullptr, 0, a_rows, a_off),
                             view<T>{b, trans_b ? 1 : ldb, trans_b ? ldb : 1}, beta, c, ldc);
}

template <class A, class T>
std::size_t team_ops<A, T>::shared_size(std::size_t n) {
    return gemm_impl::team_b_size<A, T>(n);
}

template <class A, class T>
std::size_t team_ops<A, T>::packed_size(std::size_t k, std::size_t n) {
    return gemm_impl::packed_b_size<A, T>(k, n);
}

template <class A, class T>
T* team_ops<A, T>::buffer(std::size_t elements) {
    return gemm_impl::scratch<A, T, 2>(elements);
}

template <class A, class T>
void team_ops<A, T>::reserve() {
    gemm_impl::team_reserve<A, T>();
}

template <class A, class T>
void team_ops<A, T>::gemm(std::size_t t, std::size_t nt, bool trans_a, bool trans_b, std::size_t m,
                          std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
                          const T* const* a_rows, std::size_t a_off, const T* b, std::size_t ldb,
                          T beta, T* c, std::size_t ldc, T* shared) {
    gemm_impl::team_gemm<A, T>(t, nt, trans_b, m, n, k, alpha,
                               gemm_impl::a_view<A, T>(trans_a, a, lda, a_rows, a_off), b, ldb,
                               beta, c, ldc, shared);
}

template <class A, class T>
void team_ops<A, T>::pack(std::size_t t, std::size_t nt, bool trans_b, std::size_t k, std::size_t n,
                          const T* b, std::size_t ldb, T* packed) {
    gemm_impl::pack_b_share<A, T>(t, nt, trans_b, k, n, b, ldb, packed);
}

template <class A, class T>
void team_ops<A, T>::gemm_packed(bool trans_a, std::size_t m, std::size_t n, std::size_t k, T alpha,
                                 const T* a, std::size_t lda, const T* const* a_rows,
                                 std::size_t a_off, const T* packed, T beta, T* c,
                                 std::size_t ldc) {
    gemm_impl::gemm_packed<A, T>(m, n, k, alpha,
                                 gemm_impl::a_view<A, T>(trans_a, a, lda, a_rows, a_off), packed,
                                 beta, c, ldc);
}

}  // namespace fusegrad::kernels::simd

/// Instantiates the SIMD GEMM for float and double on the arch type `A`.
#define FUSEGRAD_INSTANTIATE_GEMM_SIMD(A)                                                      \
    template void fusegrad::kernels::simd::gemm<A, float>(                                     \
        bool, bool, std::size_t, std::size_t, std::size_t, float, const float*, std::size_t,   \
        const float*, std::size_t, float, float*, std::size_t);                                \
    template void fusegrad::kernels::simd::gemm<A, double>(                                    \
        bool, bool, std::size_t, std::size_t, std::size_t, double, const double*, std::size_t, \
        const double*, std::size_t, double, double*, std::size_t);                             \
    template void fusegrad::kernels::simd::gemm_rows<A, float>(                                \
        bool, bool, std::size_t, std::size_t, std::size_t, float, const float* const*,         \
        std::size_t, const float*, std::size_t, float, float*, std::size_t);                   \
    template void fusegrad::kernels::simd::gemm_rows<A, double>(                               \
        bool, bool, std::size_t, std::size_t, std::size_t, double, const double* const*,       \
        std::size_t, const double*, std::size_t, double, double*, std::size_t);                \
    template struct fusegrad::kernels::simd::team_ops<A, float>;                               \
    template struct fusegrad::kernels::simd::team_ops<A, double>;
