// The row kernels of logsumexp, max_rows (row bodies through the row front door) and layer_norm:
// every instruction set against a
// long-double oracle computed here from the definitions (not from the reference loop), and
// against the scalar reference; special rows (NaN, ±inf, all −inf, no entries); in-place,
// beta = 1 accumulation, null outputs, row counts that span several of the backward's
// chunks of 256 rows, and layer_norm's streaming stores against its plain ones.

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <random>
#include <vector>

#include "each_arch.hpp"
#include "fusegrad/kernels/bodies/logsumexp.hpp"
#include "fusegrad/kernels/bodies/max_rows.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/rows.hpp"
#include "fusegrad/kernels/trace.hpp"
#include "kernel_test_data.hpp"

namespace fk = fusegrad::kernels;
using fusegrad_test::kEps;
using fusegrad_test::unaligned;

namespace {

template <class T>
unaligned<T> uniform(std::size_t n, double lo, double hi, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    unaligned<T> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<T>(dist(gen));
    return b;
}

using LD = long double;

/// |got − want| ≤ tol, NaN only against NaN, equal infinities.
void require_near(double got, LD want, double tol) {
    INFO("got " << got << " want " << static_cast<double>(want) << " tol " << tol);
    if (std::isnan(static_cast<double>(want))) {
        REQUIRE(std::isnan(got));
        return;
    }
    if (std::isinf(static_cast<double>(want))) {
        REQUIRE(got == static_cast<double>(want));
        return;
    }
    REQUIRE(std::fabs(got - static_cast<double>(want)) <= tol);
}

const std::size_t kShapes[][2] = {{1, 1}, {7, 9}, {9, 7}, {3, 1023}, {300, 10}, {5, 33}, {600, 17}};

}  // namespace

TEMPLATE_TEST_CASE("logsumexp_rows and max_rows: the oracle and the special rows", "[rows]", float,
                   double) {
    using T = TestType;
    FUSEGRAD_EACH_ARCH();
    constexpr T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
    for (const auto& sh : kShapes) {
        const std::size_t m = sh[0], n = sh[1];
        INFO(m << "x" << n);
        auto x = uniform<T>(m * n, -30, 30, 3);
        if (n > 3) x[2] = -inf;  // a masked entry
        std::vector<T> lse(m), mx(m);
        fk::logsumexp_rows<T>(m, n, x.data(), lse.data());
        fk::max_rows<T>(m, n, x.data(), mx.data());
        for (std::size_t i = 0; i < m; ++i) {
            LD big = -INFINITY;
            for (std::size_t j = 0; j < n; ++j) big = std::max<LD>(big, x[i * n + j]);
            LD s = 0;
            for (std::size_t j = 0; j < n; ++j) s += std::exp(LD(x[i * n + j]) - big);
            const LD want = big + std::log(s);
            // exp ≤ 2 ulp per term, n terms summed: (n + 4) ε relative in the sum, then the log
            // (≤ 1 ulp) and the add of the max.
            require_near(lse[i], want, (n + 8) * kEps<T> * (1 + std::fabs(double(want))));
            REQUIRE(mx[i] == static_cast<T>(big));
        }
        // Backward: g_i · softmax, beta 0 and 1.
        const auto g = uniform<T>(m, -2, 2, 4);
        const auto old = uniform<T>(m * n, -1, 1, 5);
        for (T beta : {T(0), T(1)}) {
            unaligned<T> d(old);
            fk::logsumexp_rows_backward<T>(m, n, x.data(), lse.data(), g.data(), beta, d.data());
            for (std::size_t k = 0; k < m * n; ++k) {
                const std::size_t i = k / n;
                const LD want = LD(g[i]) * std::exp(LD(x[k]) - LD(lse[i])) + LD(beta) * old[k];
                require_near(d[k], want, (2 * n + 8) * kEps<T> * (std::fabs(double(g[i])) + 1));
            }
        }
    }
    SECTION("special rows") {
        const std::size_t n = 21;  // not a multiple of any lane count
        std::vector<T> x(5 * n, T(1));
        x[0 * n + 17] = nan;                                      // a NaN late in the row
        x[1 * n + 3] = inf;                                       // +inf
        for (std::size_t j = 0; j < n; ++j) x[2 * n + j] = -inf;  // all −inf
        x[3 * n + 20] = T(5);  // an ordinary row, max in the tail
        x[4 * n + 0] = -inf;
        std::vector<T> lse(5), mx(5);
        fk::logsumexp_rows<T>(5, n, x.data(), lse.data());
        fk::max_rows<T>(5, n, x.data(), mx.data());
        CHECK(std::isnan(lse[0]));
        CHECK(std::isnan(mx[0]));
        CHECK(lse[1] == inf);
        CHECK(mx[1] == inf);
        CHECK(lse[2] == -inf);
        CHECK(mx[2] == -inf);
        CHECK(mx[3] == T(5));
        CHECK(lse[3] == Approx(5 + std::log(std::exp(0.0) + 20 * std::exp(-4.0))).epsilon(1e-6));
        CHECK(lse[4] == Approx(1 + std::log(20.0)).epsilon(1e-6));
        // The gradient of a masked entry is exactly 0; of a NaN row NaN.
        std::vector<T> d(5 * n), ones(5, T(1));
        fk::logsumexp_rows_backward<T>(5, n, x.data(), lse.data(), ones.data(), T(0), d.data());
        CHECK(d[4 * n + 0] == T(0));
        CHECK(std::isnan(d[0]));
        // A row of large negative entries whose length leaves a partial last batch: the padded
        // lanes (0 − max = +40 there) must not reach the sum.
        std::vector<T> neg(n);
        for (std::size_t j = 0; j < n; ++j) neg[j] = T(-40) - T(j) / T(8);
        T lse_neg = 0;
        fk::logsumexp_rows<T>(1, n, neg.data(), &lse_neg);
        LD s = 0;
        for (std::size_t j = 0; j < n; ++j) s += std::exp(LD(neg[j]) + 40);
        require_near(lse_neg, std::log(s) - 40, 32 * kEps<T> * 41);
        // No entries: −inf (the log of an empty sum).
        T empty = 0;
        fk::logsumexp_rows<T>(1, 0, x.data(), &empty);
        CHECK(empty == -inf);
    }
}

TEMPLATE_TEST_CASE("max_rows' backward: g at the first maximum (or first NaN), beta accumulates",
                   "[rows]", float, double) {
    using T = TestType;
    FUSEGRAD_EACH_ARCH();
    constexpr T nan = std::numeric_limits<T>::quiet_NaN();
    const std::size_t m = 3, n = 19;
    std::vector<T> x(m * n, T(0));
    x[0 * n + 4] = T(2);  // a tie: the first of the two gets g
    x[0 * n + 11] = T(2);
    x[1 * n + 18] = T(7);  // the max in the last (partial) batch
    x[2 * n + 9] = nan;    // the first NaN gets g
    x[2 * n + 12] = nan;
    std::vector<T> y(m), g = {T(3), T(-1), T(5)};
    fk::max_rows<T>(m, n, x.data(), y.data());
    for (T beta : {T(0), T(1)}) {
        std::vector<T> d(m * n, T(0.5));
        fk::row_backward(fk::body::max_rows{}, m, n, x.data(), y.data(), g.data(), beta, d.data());
        for (std::size_t k = 0; k < m * n; ++k) {
            const bool hit = k == 0 * n + 4 || k == 1 * n + 18 || k == 2 * n + 9;
            const T want = (hit ? g[k / n] : T(0)) + beta * T(0.5);
            INFO("k " << k << " beta " << beta);
            REQUIRE(d[k] == want);
        }
    }
}

TEMPLATE_TEST_CASE("layer_norm_rows and its backward against a long-double oracle", "[rows]", float,
                   double) {
    using T = TestType;
    FUSEGRAD_EACH_ARCH();
    for (const auto& sh : kShapes) {
        const std::size_t m = sh[0], n = sh[1];
        INFO(m << "x" << n);
        // An offset of 100 makes E[x²] − E[x]² cancel badly: the two-pass variance must not.
        const auto x = uniform<T>(m * n, 99, 101, 6);
        const auto gamma = uniform<T>(n, 0.5, 1.5, 7), beta = uniform<T>(n, -1, 1, 8);
        const auto g = uniform<T>(m * n, -1, 1, 9);
        const T eps = T(1e-5);
        std::vector<T> y(m * n), mean(m), rstd(m);
        fk::layer_norm_rows<T>(m, n, x.data(), gamma.data(), beta.data(), eps, y.data(),
                               mean.data(), rstd.data());
        std::vector<LD> xh(m * n), r(m);
        for (std::size_t i = 0; i < m; ++i) {
            LD mu = 0, var = 0;
            for (std::size_t j = 0; j < n; ++j) mu += x[i * n + j];
            mu /= n;
            for (std::size_t j = 0; j < n; ++j) var += (x[i * n + j] - mu) * (x[i * n + j] - mu);
            var /= n;
            r[i] = 1 / std::sqrt(var + LD(eps));
            // The mean is a sum of n values near 100: n ε relative.
            require_near(mean[i], mu, (n + 2) * kEps<T> * 101);
            // 1/σ from a sum of squared deviations each off by the mean's error.
            require_near(rstd[i], r[i], (2 * n + 8) * kEps<T> * double(r[i]) * 101 * double(r[i]));
            for (std::size_t j = 0; j < n; ++j) {
                xh[i * n + j] = (x[i * n + j] - mu) * r[i];
                const LD want = xh[i * n + j] * gamma[j] + beta[j];
                require_near(y[i * n + j], want,
                             (2 * n + 8) * kEps<T> * 101 * double(r[i]) * 1.5 + 4 * kEps<T>);
            }
        }
        const auto old = uniform<T>(m * n, -1, 1, 10);
        const auto old_g = uniform<T>(n, -1, 1, 11), old_b = uniform<T>(n, -1, 1, 12);
        for (T b : {T(0), T(1)}) {
            unaligned<T> dx(old);
            std::vector<T> dg(old_g.data(), old_g.data() + n), db(old_b.data(), old_b.data() + n);
            std::vector<T> scratch(fk::layer_norm_backward_scratch(m, n));
            fk::layer_norm_rows_backward<T>(m, n, x.data(), gamma.data(), mean.data(), rstd.data(),
                                            g.data(), b, dx.data(), b, dg.data(), b, db.data(),
                                            scratch.data());
            for (std::size_t i = 0; i < m; ++i) {
                LD sh = 0, shx = 0;
                for (std::size_t j = 0; j < n; ++j) {
                    const LD h = LD(g[i * n + j]) * gamma[j];
                    sh += h;
                    shx += h * xh[i * n + j];
                }
                for (std::size_t j = 0; j < n; ++j) {
                    const LD h = LD(g[i * n + j]) * gamma[j];
                    const LD want =
                        r[i] * (h - sh / n - xh[i * n + j] * shx / n) + b * old[i * n + j];
                    require_near(dx[i * n + j], want,
                                 (4 * n + 16) * kEps<T> * 101 * double(r[i]) * double(r[i]) * 3);
                }
            }
            for (std::size_t j = 0; j < n; ++j) {
                LD sg = 0, sb = 0, abs_g = 0;
                for (std::size_t i = 0; i < m; ++i) {
                    sg += LD(g[i * n + j]) * xh[i * n + j];
                    sb += g[i * n + j];
                    abs_g += std::fabs(LD(g[i * n + j]));
                }
                // Blocked sums: (256 + m / 256 + 4) ε Σ|terms|, x̂ itself off by the mean's error.
                const double blocked = (256.0 + m / 256.0 + 4) * kEps<T> * double(abs_g);
                require_near(dg[j], sg + b * old_g[j],
                             blocked * 4 + (2 * n + 8) * kEps<T> * 101 * 40 * double(abs_g));
                require_near(db[j], sb + b * old_b[j], blocked + 2 * kEps<T>);
            }
        }
    }
}

TEMPLATE_TEST_CASE("layer_norm_rows: in place, null outputs, one set against another", "[rows]",
                   float, double) {
    using T = TestType;
    const std::size_t m = 600, n = 37;  // three chunks of the backward's column sums
    const auto x = uniform<T>(m * n, -3, 3, 21);
    const auto gamma = uniform<T>(n, 0.5, 1.5, 22), beta = uniform<T>(n, -1, 1, 23);
    const auto g = uniform<T>(m * n, -1, 1, 24);
    std::vector<T> scratch(fk::layer_norm_backward_scratch(m, n));
    for (fk::arch a : fk::available_archs()) {
        INFO(fk::arch_name(a));
        const fk::arch_scope scope(a);
        std::vector<T> y(m * n), stats(2 * m), stats2(2 * m);
        fk::layer_norm_rows<T>(m, n, x.data(), gamma.data(), beta.data(), T(1e-5), y.data(),
                               stats.data(), stats.data() + m);
        unaligned<T> inplace(x);
        fk::layer_norm_rows<T>(m, n, inplace.data(), gamma.data(), beta.data(), T(1e-5),
                               inplace.data(), stats2.data(), stats2.data() + m);
        for (std::size_t k = 0; k < m * n; ++k) REQUIRE(inplace[k] == y[k]);
        // Every subset of outputs gives the same bits as all three at once.
        std::vector<T> dx(m * n), dg(n), db(n);
        fk::layer_norm_rows_backward<T>(m, n, x.data(), gamma.data(), stats.data(),
                                        stats.data() + m, g.data(), T(0), dx.data(), T(0),
                                        dg.data(), T(0), db.data(), scratch.data());
        std::vector<T> dx2(m * n, T(7)), dg2(n, T(7)), db2(n, T(7));
        fk::layer_norm_rows_backward<T>(m, n, x.data(), gamma.data(), stats.data(),
                                        stats.data() + m, g.data(), T(0), dx2.data(), T(0), nullptr,
                                        T(0), nullptr, scratch.data());
        fk::layer_norm_rows_backward<T>(m, n, x.data(), gamma.data(), stats.data(),
                                        stats.data() + m, g.data(), T(0), nullptr, T(0), dg2.data(),
                                        T(0), nullptr, scratch.data());
        fk::layer_norm_rows_backward<T>(m, n, x.data(), gamma.data(), stats.data(),
                                        stats.data() + m, g.data(), T(0), nullptr, T(0), nullptr,
                                        T(0), db2.data(), scratch.data());
        REQUIRE(dx2 == dx);
        REQUIRE(dg2 == dg);
        REQUIRE(db2 == db);
    }
}

namespace {
/// n elements on a 64-byte boundary (the graph's arena gives its buffers such), for the paths
/// that need aligned rows.
template <class T>
struct aligned64 {
    explicit aligned64(std::size_t n)
        : data(static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64)))) {
        std::fill(data, data + n, T(0));
    }
    ~aligned64() { ::operator delete(data, std::align_val_t(64)); }
    aligned64(const aligned64&) = delete;
    aligned64& operator=(const aligned64&) = delete;
    T* data;
};
}  // namespace

// Streaming stores (kernels::stream_store_threshold) change how y and dx reach memory, never
// what is stored: every set, both choices, bitwise. Rows of whole aligned batches stream; rows
// of 37 (never a whole number of batches) and an output one element off alignment fall back to
// plain stores; beta = 1 accumulation never streams.
TEMPLATE_TEST_CASE("layer_norm_rows: streaming stores store the same bits as plain ones", "[rows]",
                   float, double) {
    using T = TestType;
    for (const auto& [m, n, offset] :
         {std::array<std::size_t, 3>{600, 64, 0}, std::array<std::size_t, 3>{9, 1024, 0},
          std::array<std::size_t, 3>{600, 37, 0}, std::array<std::size_t, 3>{300, 64, 1}}) {
        INFO(m << "x" << n << ", output offset " << offset);
        const auto x = uniform<T>(m * n, -3, 3, 31);
        const auto gamma = uniform<T>(n, 0.5, 1.5, 32), beta = uniform<T>(n, -1, 1, 33);
        const auto g = uniform<T>(m * n, -1, 1, 34);
        const auto old = uniform<T>(m * n, -1, 1, 35);
        std::vector<T> scratch(fk::layer_norm_backward_scratch(m, n));
        for (fk::arch a : fk::available_archs()) {
            INFO(fk::arch_name(a));
            const fk::arch_scope scope(a);
            // Whether streaming is taken, recorded in a trace: rows on 64-byte boundaries, a SIMD
            // set, and never for an accumulating backward.
            const bool can_stream =
                offset == 0 && (n * sizeof(T)) % 64 == 0 && a != fk::arch::scalar;
            // [0]: plain stores only, [1]: streaming from 0 bytes (every call that can)
            std::vector<T> y[2], stats[2], dx[2], dxa[2], dg[2], db[2];
            for (int s = 0; s < 2; ++s) {
                const fk::stream_store_threshold_scope stream(s == 0 ? SIZE_MAX : 0);
                aligned64<T> out(m * n + offset), grad(m * n + offset);
                stats[s].resize(2 * m);
                fk::trace_scope trace;
                fk::layer_norm_rows<T>(m, n, x.data(), gamma.data(), beta.data(), T(1e-5),
                                       out.data + offset, stats[s].data(), stats[s].data() + m);
                y[s].assign(out.data + offset, out.data + offset + m * n);
                dg[s].assign(n, T(0));
                db[s].assign(n, T(0));
                fk::layer_norm_rows_backward<T>(m, n, x.data(), gamma.data(), stats[s].data(),
                                                stats[s].data() + m, g.data(), T(0),
                                                grad.data + offset, T(0), dg[s].data(), T(0),
                                                db[s].data(), scratch.data());
                REQUIRE(trace.count("stream_stores") == (s == 1 && can_stream ? 2u : 0u));
                dx[s].assign(grad.data + offset, grad.data + offset + m * n);
                std::copy(old.data(), old.data() + m * n, grad.data + offset);
                fk::layer_norm_rows_backward<T>(
                    m, n, x.data(), gamma.data(), stats[s].data(), stats[s].data() + m, g.data(),
                    T(1), grad.data + offset, T(0), nullptr, T(0), nullptr, scratch.data());
                REQUIRE(trace.count("stream_stores") == (s == 1 && can_stream ? 2u : 0u));
                dxa[s].assign(grad.data + offset, grad.data + offset + m * n);
            }
            {  // in place (y = x), streaming
                const fk::stream_store_threshold_scope stream(0);
                aligned64<T> inplace(m * n + offset);
                std::copy(x.data(), x.data() + m * n, inplace.data + offset);
                std::vector<T> st(2 * m);
                fk::layer_norm_rows<T>(m, n, inplace.data + offset, gamma.data(), beta.data(),
                                       T(1e-5), inplace.data + offset, st.data(), st.data() + m);
                REQUIRE(std::vector<T>(inplace.data + offset, inplace.data + offset + m * n) ==
                        y[0]);
            }
            REQUIRE(y[1] == y[0]);
            REQUIRE(stats[1] == stats[0]);
            REQUIRE(dx[1] == dx[0]);
            REQUIRE(dxa[1] == dxa[0]);
            REQUIRE(dg[1] == dg[0]);
            REQUIRE(db[1] == db[0]);
            // and what streamed is layer_norm: the reference's values within rounding
            for (std::size_t k = 0; k < m * n; k += 7) {
                const std::size_t i = k / n;
                const T want = (x[k] - stats[1][i]) * stats[1][m + i] * gamma[k % n] + beta[k % n];
                require_near(y[1][k], want, 64 * kEps<T> * (std::fabs(double(want)) + 4));
            }
        }
    }
}

TEST_CASE("stream_store_threshold: set, restored by its scope, a machine's choice by default",
          "[rows]") {
    const std::size_t chosen = fk::stream_store_threshold();
    {
        const fk::stream_store_threshold_scope scope(123);
        CHECK(fk::stream_store_threshold() == 123);
        CHECK(fk::set_stream_store_threshold(0) == 123);
        CHECK(fk::stream_store_threshold() == 0);
    }
    CHECK(fk::stream_store_threshold() == chosen);
    const auto& cpu = fk::this_cpu();
    if (cpu.vendor == "AuthenticAMD" && cpu.family == 25 &&
        fk::arch_available(fk::arch::avx512f))  // Zen 4 (Zen 3 has no AVX-512)
        CHECK(chosen == std::size_t(16) << 20);
    else
        CHECK(chosen == SIZE_MAX);
}
