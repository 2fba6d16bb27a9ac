// GEMM on every instruction set this machine has (fusegrad::kernels::available_archs) against
// the scalar reference and a long double oracle, over the shapes that reach each SIMD path
// (blocked micro-kernel with ragged edges and several cache blocks, skinny n, transposed
// problem), all four transposes, padded leading dimensions with NaN padding, unaligned
// pointers, alpha/beta cases, NaN propagation, and 1-vs-2-thread bitwise determinism.
//
// Error bound (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1): whatever the
// summation order, a computed dot product of length k, scaled by alpha and added to beta·c,
// satisfies |ĉ − c| ≤ γ_d · (|α| Σ_p |a_ip b_pj| + |β c_ij|), with γ_d = d·u / (1 − d·u),
// u = ε/2 the unit roundoff and d the longest chain of roundings any term goes through. The
// paths here have d ≤ k + 4 (partial sums per lane, a reduction over ≤ lanes − 1 adds, the
// scalar tail, the alpha product, the beta product and the final add), so the test asserts
// γ_{k+4} against the oracle and 2·γ_{k+4} against the scalar reference (both are within
// γ_{k+4} of the exact value).

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <vector>

#include "../support/special_values.hpp"
#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fk = fusegrad::kernels;
using fusegrad_test::kNaN;

// The library links OpenMP privately; the test reaches its runtime through these weak
// references (null when the library was built without OpenMP).
extern "C" void omp_set_num_threads(int) __attribute__((weak));
extern "C" int omp_get_max_threads() __attribute__((weak));

namespace {

/// A matrix stored as gemm reads it: `rows`×`cols` with leading dimension `ld`, starting one
/// element into its vector (so never 16-, 32- or 64-byte aligned), padding set to NaN.
template <class T>
struct stored {
    std::vector<T> buf;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t ld = 0;
    T* data() { return buf.data() + 1; }
    const T* data() const { return buf.data() + 1; }
};

/// Stores the logical r×c matrix x as op(X) = x: transposed (c×r) when `trans`, with leading
/// dimension stored-columns + pad.
template <class T>
stored<T> store(const std::vector<T>& x, std::size_t r, std::size_t c, bool trans, std::size_t pad,
                T fill) {
    stored<T> s;
    s.rows = trans ? c : r;
    s.cols = trans ? r : c;
    s.ld = s.cols + pad;
    s.buf.assign(s.rows * s.ld + 1, fill);
    for (std::size_t i = 0; i < s.rows; ++i) {
        for (std::size_t j = 0; j < s.cols; ++j) {
            s.data()[i * s.ld + j] = trans ? x[j * c + i] : x[i * c + j];
        }
    }
    return s;
}

template <class T>
std::vector<T> uniform(std::size_t count, std::mt19937& gen) {
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    std::vector<T> v(count);
    for (auto& x : v) x = static_cast<T>(dist(gen));
    return v;
}

/// γ_d = d·u / (1 − d·u) for type T.
template <class T>
long double gamma(std::size_t d) {
    const long double u = std::numeric_limits<T>::epsilon() / 2.0L;
    return d * u / (1 - d * u);
}

struct dims {
    std::size_t m, n, k;
};

/// Shapes reaching every path and edge (lanes: 4..16 floats, 2..8 doubles; micro-tiles 6×8 up
/// to 8×32; kc = 256; mc 96..144 rows; nc 256..2048 columns): odd and prime sizes, widths not a
/// multiple of any lane count, k over several depth blocks, m over several row blocks, n over
/// several column blocks, B read in place (m ≤ 2 micro-tile heights), n ≤ 12..32 with and
/// without a transposed A (the skinny and the transposed paths), and C (or Cᵀ) of 9–12 rows
/// (the 10- and 12-row tiles of AVX-512).
const dims kShapes[] = {
    {1, 1, 1},      {1, 7, 9},     {7, 1, 9},     {9, 9, 7},     {1023, 9, 33},  {7, 1023, 9},
    {9, 7, 1023},   {13, 17, 19},  {37, 45, 600}, {300, 40, 20}, {3, 2100, 5},   {29, 33, 257},
    {200, 10, 784}, {64, 64, 64},  {15, 31, 2},   {31, 3, 100},  {100, 16, 40},  {17, 32, 70},
    {5, 300, 30},   {150, 5, 150}, {10, 70, 300}, {11, 40, 33},  {12, 100, 257}, {784, 10, 64},
    {300, 11, 9},   {784, 12, 64},
};

struct coeffs {
    double alpha, beta;
};
const coeffs kCoeffs[] = {{1.0, 0.0}, {0.7, -0.3}, {-1.5, 1.0}, {2.0, 0.0}};

/// Runs gemm for op(A) = a (m×k), op(B) = b (k×n) stored with the given transposes, on C0
/// stored with padding; returns the stored C.
template <class T>
stored<T> run(bool ta, bool tb, const dims& d, T alpha, const stored<T>& sa, const stored<T>& sb,
              T beta, const std::vector<T>& c0) {
    // beta == 0: C starts all NaN and must not be read. Otherwise its padding holds a sentinel.
    auto sc = store(c0, d.m, d.n, false, 2, beta == T(0) ? kNaN<T> : T(12345));
    if (beta == T(0)) std::fill(sc.buf.begin(), sc.buf.end(), kNaN<T>);
    fk::gemm<T>(ta, tb, d.m, d.n, d.k, alpha, sa.data(), sa.ld, sb.data(), sb.ld, beta, sc.data(),
                sc.ld);
    return sc;
}

}  // namespace

TEMPLATE_TEST_CASE("gemm: every instruction set within gamma_{k+4} of the reference", "[gemm]",
                   float, double) {
    using T = TestType;
    std::mt19937 gen(2024);
    std::size_t runs = 0;
    for (const dims& d : kShapes) {
        const auto a = uniform<T>(d.m * d.k, gen);
        const auto b = uniform<T>(d.k * d.n, gen);
        const auto c0 = uniform<T>(d.m * d.n, gen);
        // Σ_p |a_ip b_pj| and the exact product, in long double (exact for float inputs,
        // error ≤ k·2⁻⁶⁴ relative for double: far below γ_{k+4} of double).
        std::vector<long double> mag(d.m * d.n), exact(d.m * d.n);
        for (std::size_t i = 0; i < d.m; ++i) {
            for (std::size_t j = 0; j < d.n; ++j) {
                long double s = 0, sa = 0;
                for (std::size_t p = 0; p < d.k; ++p) {
                    const long double x = static_cast<long double>(a[i * d.k + p]) * b[p * d.n + j];
                    s += x;
                    sa += std::fabs(x);
                }
                exact[i * d.n + j] = s;
                mag[i * d.n + j] = sa;
            }
        }
        for (const bool ta : {false, true}) {
            for (const bool tb : {false, true}) {
                const auto sa = store(a, d.m, d.k, ta, 3, kNaN<T>);
                const auto sb = store(b, d.k, d.n, tb, 5, kNaN<T>);
                for (const coeffs& cf : kCoeffs) {
                    const T alpha = static_cast<T>(cf.alpha);
                    const T beta = static_cast<T>(cf.beta);
                    stored<T> ref;
                    {
                        const fk::arch_scope scalar(fk::arch::scalar);
                        ref = run(ta, tb, d, alpha, sa, sb, beta, c0);
                    }
                    for (const fk::arch arch : fk::available_archs()) {
                        const fk::arch_scope scope(arch);
                        const auto sc = run(ta, tb, d, alpha, sa, sb, beta, c0);
                        ++runs;
                        std::size_t bad = 0, first_i = 0, first_j = 0;
                        long double first_err = 0, first_bound = 0;
                        for (std::size_t i = 0; i < d.m; ++i) {
                            for (std::size_t j = 0; j < sc.ld; ++j) {
                                const T got = sc.data()[i * sc.ld + j];
                                bool ok;
                                long double err = 0, bound = 0;
                                if (j < d.n) {
                                    const long double want =
                                        alpha * exact[i * d.n + j] +
                                        (beta == T(0)
                                             ? 0.0L
                                             : static_cast<long double>(beta) * c0[i * d.n + j]);
                                    const long double scale =
                                        std::fabs(static_cast<long double>(alpha)) *
                                            mag[i * d.n + j] +
                                        std::fabs(static_cast<long double>(beta) * c0[i * d.n + j]);
                                    bound = gamma<T>(d.k + 4) * scale;
                                    err = std::fabs(got - want);
                                    const long double vs_ref = std::fabs(
                                        got - static_cast<long double>(ref.data()[i * ref.ld + j]));
                                    ok = std::isfinite(got) && err <= bound && vs_ref <= 2 * bound;
                                } else {  // padding of C: never written
                                    ok = beta == T(0) ? std::isnan(got) : got == T(12345);
                                }
                                if (!ok && bad++ == 0) {
                                    first_i = i;
                                    first_j = j;
                                    first_err = err;
                                    first_bound = bound;
                                }
                            }
                        }
                        if (bad != 0) {
                            INFO("arch=" << fk::arch_name(arch) << " ta=" << ta << " tb=" << tb
                                         << " m=" << d.m << " n=" << d.n << " k=" << d.k
                                         << " alpha=" << alpha << " beta=" << beta << " bad=" << bad
                                         << " first at (" << first_i << ", " << first_j
                                         << ") err=" << static_cast<double>(first_err)
                                         << " bound=" << static_cast<double>(first_bound));
                            CHECK(bad == 0);
                        }
                    }
                }
            }
        }
    }
    REQUIRE(runs == std::size(kShapes) * 4 * std::size(kCoeffs) * fk::available_archs().size());
}

TEMPLATE_TEST_CASE("gemm: a NaN in A or B reaches exactly its row or column, every set", "[gemm]",
                   float, double) {
    using T = TestType;
    std::mt19937 gen(99);
    const dims shapes[] = {{200, 10, 784}, {150, 5, 150}, {37, 45, 600}, {9, 7, 1023}};
    for (const dims& d : shapes) {
        auto a = uniform<T>(d.m * d.k, gen);
        auto b = uniform<T>(d.k * d.n, gen);
        const std::size_t i0 = d.m / 2, p0 = d.k - 1, p1 = d.k / 3, j1 = d.n - 1;
        a[i0 * d.k + p0] = kNaN<T>;  // row i0 of C becomes NaN
        b[p1 * d.n + j1] = kNaN<T>;  // column j1 of C becomes NaN
        const std::vector<T> c0(d.m * d.n, T(0));
        for (const fk::arch arch : fk::available_archs()) {
            const fk::arch_scope scope(arch);
            for (const bool ta : {false, true}) {
                for (const bool tb : {false, true}) {
                    const auto sa = store(a, d.m, d.k, ta, 1, T(0));
                    const auto sb = store(b, d.k, d.n, tb, 1, T(0));
                    const auto sc = run(ta, tb, d, T(1), sa, sb, T(0), c0);
                    std::size_t wrong = 0;
                    for (std::size_t i = 0; i < d.m; ++i) {
                        for (std::size_t j = 0; j < d.n; ++j) {
                            const bool expect_nan = i == i0 || j == j1;
                            wrong += std::isnan(sc.data()[i * sc.ld + j]) != expect_nan;
                        }
                    }
                    INFO("arch=" << fk::arch_name(arch) << " ta=" << ta << " tb=" << tb
                                 << " m=" << d.m << " n=" << d.n << " k=" << d.k);
                    CHECK(wrong == 0);
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: empty shapes on every set", "[gemm]", float, double) {
    using T = TestType;
    for (const fk::arch arch : fk::available_archs()) {
        const fk::arch_scope scope(arch);
        CAPTURE(fk::arch_name(arch));
        fk::gemm<T>(false, false, 0, 3, 2, T(1), nullptr, 2, nullptr, 3, T(0), nullptr, 3);
        fk::gemm<T>(true, true, 3, 0, 2, T(1), nullptr, 3, nullptr, 2, T(0), nullptr, 1);
        for (const bool ta : {false, true}) {
            for (const bool tb : {false, true}) {
                // k == 0: C = beta * C without reading A or B (null), nor C when beta == 0.
                std::vector<T> c(3 * 40, kNaN<T>);
                fk::gemm<T>(ta, tb, 3, 37, 0, T(1), nullptr, 3, nullptr, 37, T(0), c.data(), 40);
                for (std::size_t i = 0; i < 3; ++i) {
                    for (std::size_t j = 0; j < 40; ++j) {
                        if (j < 37) {
                            CHECK(c[i * 40 + j] == T(0));
                        } else {
                            CHECK(std::isnan(c[i * 40 + j]));
                        }
                    }
                }
                std::vector<T> d(2 * 3);
                for (std::size_t i = 0; i < d.size(); ++i) d[i] = T(i + 1);
                fk::gemm<T>(ta, tb, 2, 3, 0, T(1), nullptr, 3, nullptr, 3, T(-2), d.data(), 3);
                CHECK(d == std::vector<T>{-2, -4, -6, -8, -10, -12});
            }
        }
    }
}

TEMPLATE_TEST_CASE("gemm: bitwise identical results with 1 and 2 threads, every set", "[gemm]",
                   float, double) {
    using T = TestType;
    if (omp_set_num_threads == nullptr || omp_get_max_threads == nullptr) {
        WARN("library built without OpenMP: single-threaded, determinism holds trivially");
        return;
    }
    const int saved = omp_get_max_threads();
    std::mt19937 gen(5);
    // Each has enough work (m·n·k ≥ 2 · 2^21) for two threads and reaches one parallel path:
    // skinny row chunks (ta = 0) and Cᵀ by column panels (ta = 1): 2000×9×300, 1700×10×256;
    // blocked by rows with B packed per thread (C at least as tall as wide): 400×300×300,
    // 600×200×100; by rows sharing one packed B (≥ 512 rows per thread) over three depth blocks
    // (the double buffer): 1100×40×520; by column panels (short, wide C): 600×784×10,
    // 100×900×50, over several column blocks 100×2100×30, and with B read in place unless
    // transposed 12×2100×200.
    const dims shapes[] = {{2000, 9, 300},  {1700, 10, 256}, {400, 300, 300},
                           {600, 200, 100}, {1100, 40, 520}, {600, 784, 10},
                           {100, 900, 50},  {100, 2100, 30}, {12, 2100, 200}};
    for (const dims& d : shapes) {
        const auto a = uniform<T>(d.m * d.k, gen);
        const auto b = uniform<T>(d.k * d.n, gen);
        const auto c0 = uniform<T>(d.m * d.n, gen);
        for (const fk::arch arch : fk::available_archs()) {
            const fk::arch_scope scope(arch);
            for (const bool ta : {false, true}) {
                for (const bool tb : {false, true}) {
                    const auto sa = store(a, d.m, d.k, ta, 0, T(0));
                    const auto sb = store(b, d.k, d.n, tb, 0, T(0));
                    omp_set_num_threads(1);
                    const auto one = run(ta, tb, d, T(0.5), sa, sb, T(0.25), c0);
                    omp_set_num_threads(2);
                    const auto two = run(ta, tb, d, T(0.5), sa, sb, T(0.25), c0);
                    INFO("arch=" << fk::arch_name(arch) << " ta=" << ta << " tb=" << tb
                                 << " m=" << d.m << " n=" << d.n << " k=" << d.k);
                    CHECK(std::memcmp(one.buf.data(), two.buf.data(), one.buf.size() * sizeof(T)) ==
                          0);
                }
            }
        }
    }
    omp_set_num_threads(saved);
}

TEMPLATE_TEST_CASE("gemm: a packing buffer beyond memory is std::bad_alloc, every SIMD set",
                   "[gemm]", float, double) {
    using T = TestType;
    // X·W with a k so large that the skinny path's packed op(B) (about k · 5 elements) cannot
    // even be sized in a std::size_t: gemm must throw std::bad_alloc before it reads A or B
    // (both far shorter than k) or writes C, not wrap the size around or terminate. The scalar
    // reference packs nothing and would read A, so it is skipped.
    const std::size_t k = std::numeric_limits<std::size_t>::max() / 2;
    const std::vector<T> a(64, T(1));
    const std::vector<T> b(64, T(1));
    for (const fk::arch arch : fk::available_archs()) {
        if (arch == fk::arch::scalar) continue;
        const fk::arch_scope scope(arch);
        INFO("arch=" << fk::arch_name(arch));
        for (const bool tb : {false, true}) {
            std::vector<T> c(4 * 3, T(7));
            CHECK_THROWS_AS(fk::gemm<T>(false, tb, 4, 3, k, T(1), a.data(), k, b.data(), tb ? k : 3,
                                        T(0), c.data(), 3),
                            std::bad_alloc);
            CHECK(std::all_of(c.begin(), c.end(), [](T x) { return x == T(7); }));
        }
    }
}
