// The nll / nll_logp SIMD bodies on every instruction set this machine has, against the scalar
// reference (arch::scalar): sizes 1, 7, 9, 1023, 4099 (rows and columns; 4099 rows cross the
// 4096-row chunks of the gather kernels, 4099×9 the ~32 Ki-element chunks of the row kernels),
// pointers one element off a 64-byte boundary, and the special values of each kernel's contract.
// Each kernel's bound is stated next to its check (docs/kernels.md has the same table).

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

#include "kernel_test_data.hpp"

namespace fk = fusegrad::kernels;

namespace {

/// A buffer whose data() is one element past a 64-byte boundary: unaligned for every set.
using fusegrad_test::kEps;
using fusegrad_test::on;
using fusegrad_test::simd_archs;
using fusegrad_test::unaligned;

/// Distance in units in the last place (0 for two NaNs or equal infinities, huge for NaN
/// against a number).
template <class T>
double ulp_distance(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : 1e300;
    if (a == b) return 0.0;
    using U = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    U ia, ib;
    std::memcpy(&ia, &a, sizeof(T));
    std::memcpy(&ib, &b, sizeof(T));
    if (ia < 0) ia = std::numeric_limits<U>::min() - ia;
    if (ib < 0) ib = std::numeric_limits<U>::min() - ib;
    return static_cast<double>(
        std::fabs(static_cast<long double>(ia) - static_cast<long double>(ib)));
}

/// Whether a and b are the same value bit for bit (any two NaNs count as equal).
template <class T>
bool same_bits(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// Checks got[i] against want[i]: bitwise where bound(i) is 0, else |got - want| <= bound(i)
/// with equal non-finite values (NaN and ±inf where the reference has them).
template <class T, class Bound>
void check(const unaligned<T>& got, const unaligned<T>& want, Bound bound) {
    for (std::size_t i = 0; i < got.size(); ++i) {
        const T g = got[i], w = want[i];
        const double b = bound(i);
        const bool ok = b == 0.0 || !std::isfinite(w) || !std::isfinite(g)
                            ? same_bits(g, w)
                            : std::fabs(double(g) - double(w)) <= b;
        if (ok) continue;  // one assertion per failure, not per element (millions of them)
        INFO("index " << i << " got " << g << " want " << w << " bound " << b);
        REQUIRE(ok);
    }
}

const std::vector<std::pair<std::size_t, std::size_t>> kShapes = {
    {1, 1}, {1, 7}, {7, 9}, {9, 7}, {1023, 3}, {3, 1023}, {4099, 2}, {2, 4099}, {4099, 9}};

/// Probabilities spread log-uniformly over [1e-30, 1] (float: also close to 1, where log p is
/// tiny and a relative error is hardest), with row r's first entries replaced by specials.
template <class T>
unaligned<T> probabilities(std::size_t count, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> e(-30.0, 0.0), near(0.0, 64.0);
    std::uniform_int_distribution<int> kind(0, 3);
    unaligned<T> p(count);
    for (std::size_t i = 0; i < count; ++i) {
        const int k = kind(gen);
        p[i] = k == 0 ? T(1) - T(std::floor(near(gen))) * std::numeric_limits<T>::epsilon() / 2
                      : static_cast<T>(std::pow(10.0, e(gen)));
    }
    return p;
}

/// The values a probability kernel must treat as the reference does.
template <class T>
std::vector<T> special_probabilities() {
    using lim = std::numeric_limits<T>;
    return {T(0),
            -T(0),
            T(-0.5),
            T(1.5),
            lim::quiet_NaN(),
            lim::infinity(),
            -lim::infinity(),
            lim::denorm_min(),
            lim::min(),
            T(1),
            lim::max(),
            lim::min() / 4};
}

template <class I>
std::vector<I> labels(std::size_t m, std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<std::size_t> d(0, n - 1);
    std::vector<I> y(m);
    for (auto& v : y) v = static_cast<I>(d(gen));
    return y;
}

template <class T>
unaligned<T> uniform(std::size_t count, double lo, double hi, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> d(lo, hi);
    unaligned<T> b(count);
    for (std::size_t i = 0; i < count; ++i) b[i] = static_cast<T>(d(gen));
    return b;
}

template <class T, class I>
void index_kernels_against_reference() {
    const auto specials = special_probabilities<T>();
    for (fk::arch a : simd_archs()) {
        INFO("arch " << fk::arch_name(a));
        for (const auto& shape : kShapes) {
            const std::size_t m = shape.first,
                              n = shape.second;  // (clang 14 cannot capture a binding)
            INFO("m " << m << " n " << n);
            auto p = probabilities<T>(m * n, unsigned(m * 31 + n));
            const auto y = labels<I>(m, n, unsigned(m + 7 * n));
            // Specials at the labels of the first rows (the elements the kernels read).
            for (std::size_t i = 0; i < m && i < specials.size(); ++i)
                p[i * n + static_cast<std::size_t>(y[i])] = specials[i];
            unaligned<I> yu(m);
            for (std::size_t i = 0; i < m; ++i) yu[i] = y[i];

            // Forward: -log p at the label. xsimd::log on normal positives is <= 2 ulp from
            // std::log; every special goes through std::log itself (exact).
            unaligned<T> got(m), want(m);
            on(a, [&] { fk::nll_index_rows<T, I>(m, n, p.data(), yu.data(), got.data()); });
            on(fk::arch::scalar,
               [&] { fk::nll_index_rows<T, I>(m, n, p.data(), yu.data(), want.data()); });
            for (std::size_t i = 0; i < m; ++i) {
                const bool ok = ulp_distance(got[i], want[i]) <= 2.0 &&
                                (i >= specials.size() || same_bits(got[i], want[i]));
                if (ok) continue;
                INFO("row " << i << " p " << p[i * n + std::size_t(y[i])] << " got " << got[i]
                            << " want " << want[i]);
                REQUIRE(ok);
            }

            // nll_logp_index_rows: the scalar loop on every set, exact.
            on(a, [&] { fk::nll_logp_index_rows<T, I>(m, n, p.data(), yu.data(), got.data()); });
            on(fk::arch::scalar,
               [&] { fk::nll_logp_index_rows<T, I>(m, n, p.data(), yu.data(), want.data()); });
            check(got, want, [](std::size_t) { return 0.0; });

            const auto g = uniform<T>(m, -2, 2, unsigned(n));
            // Backward, beta = 0: the output starts as NaN, which must never be read; exact
            // (one IEEE division at the label, zeros elsewhere).
            for (const T beta : {T(0), T(0.75)}) {
                INFO("beta " << beta);
                const auto old = beta == T(0)
                                     ? unaligned<T>(m * n, std::numeric_limits<T>::quiet_NaN())
                                     : uniform<T>(m * n, -3, 3, unsigned(m));
                unaligned<T> dg(old), dw(old);
                on(a, [&] {
                    fk::nll_index_rows_backward<T, I>(m, n, p.data(), yu.data(), g.data(), beta,
                                                      dg.data());
                });
                on(fk::arch::scalar, [&] {
                    fk::nll_index_rows_backward<T, I>(m, n, p.data(), yu.data(), g.data(), beta,
                                                      dw.data());
                });
                // Off the label: 0 + beta·old in both, exact. At the label with beta != 0 the
                // compiler may fuse r + beta·old into one FMA: within ε(|r| + |beta·old|).
                auto bound_for = [&](const unaligned<T>& want) {
                    return [&, w = &want](std::size_t k) {
                        const std::size_t i = k / n, j = k % n;
                        if (beta == T(0) || j != static_cast<std::size_t>(y[i])) return 0.0;
                        return kEps<T> *
                               (std::fabs(double((*w)[k])) + 2 * std::fabs(double(beta * old[k])));
                    };
                };
                check(dg, dw, bound_for(dw));

                unaligned<T> lg(old), lw(old);
                on(a, [&] {
                    fk::nll_logp_index_rows_backward<T, I>(m, n, yu.data(), g.data(), beta,
                                                           lg.data());
                });
                on(fk::arch::scalar, [&] {
                    fk::nll_logp_index_rows_backward<T, I>(m, n, yu.data(), g.data(), beta,
                                                           lw.data());
                });
                check(lg, lw, bound_for(lw));
            }
        }
    }
}

}  // namespace

TEST_CASE("nll SIMD: index kernels against the scalar reference", "[nll][simd]") {
    index_kernels_against_reference<float, std::int32_t>();
    index_kernels_against_reference<float, std::int64_t>();
    index_kernels_against_reference<double, std::int32_t>();
    index_kernels_against_reference<double, std::int64_t>();
}

TEMPLATE_TEST_CASE("nll SIMD: probability-target kernels against the scalar reference",
                   "[nll][simd]", float, double) {
    using T = TestType;
    using lim = std::numeric_limits<T>;
    for (fk::arch a : simd_archs()) {
        INFO("arch " << fk::arch_name(a));
        for (const auto& shape : kShapes) {
            const std::size_t m = shape.first,
                              n = shape.second;  // (clang 14 cannot capture a binding)
            INFO("m " << m << " n " << n);
            auto p = probabilities<T>(m * n, unsigned(m * 13 + n));
            auto y = uniform<T>(m * n, -0.2, 1, unsigned(m + 3 * n));
            // Targets: a quarter exactly 0 (and whole zero batches in the one-hot rows below).
            for (std::size_t k = 0; k < m * n; ++k)
                if (y[k] < T(0.05)) y[k] = T(0);
            // Row 1 one-hot (batches with no target mass), row 2 the specials against y > 0,
            // row 3 the specials against y == 0 (0 · log 0 = 0, also 0 · log of a negative).
            const auto specials = special_probabilities<T>();
            if (m > 1)
                for (std::size_t j = 0; j < n; ++j) y[n + j] = j == n / 2 ? T(1) : T(0);
            for (std::size_t r = 2; r <= 3 && r < m; ++r)
                for (std::size_t j = 0; j < n; ++j) {
                    p[r * n + j] = specials[j % specials.size()];
                    y[r * n + j] = r == 2 ? T(0.25) : T(0);
                }
            const auto logp = [&] {
                unaligned<T> l(m * n);
                for (std::size_t k = 0; k < m * n; ++k) l[k] = std::log(p[k]);
                return l;
            }();

            // Forwards: the row sum is taken lane-wise then across lanes, the reference adds
            // left to right; with each log <= 2 ulp off, both are within (n + 4)ε Σ|y log p|
            // of the exact sum. ±inf and NaN rows must match exactly.
            auto sum_bound = [&](const unaligned<T>& l) {
                return [&, lp = &l](std::size_t i) {
                    double s = 0;
                    for (std::size_t j = 0; j < n; ++j)
                        if (y[i * n + j] != T(0))
                            s += std::fabs(double(y[i * n + j]) * double((*lp)[i * n + j]));
                    return 2 * (double(n) + 4) * kEps<T> * s + lim::denorm_min();
                };
            };
            unaligned<T> got(m), want(m);
            on(a, [&] { fk::nll_prob_rows<T>(m, n, p.data(), y.data(), got.data()); });
            on(fk::arch::scalar,
               [&] { fk::nll_prob_rows<T>(m, n, p.data(), y.data(), want.data()); });
            check(got, want, sum_bound(logp));
            if (m > 3) REQUIRE(std::isfinite(got[3]));  // 0 · log 0 = 0 (and 0 · NaN-free)

            on(a, [&] { fk::nll_logp_prob_rows<T>(m, n, logp.data(), y.data(), got.data()); });
            on(fk::arch::scalar,
               [&] { fk::nll_logp_prob_rows<T>(m, n, logp.data(), y.data(), want.data()); });
            check(got, want, sum_bound(logp));

            auto g = uniform<T>(m, -2, 2, unsigned(7 * n + m));
            if (m > 4) g[4] = T(0);  // with p = 0: dy = -0 · -inf = NaN, as the reference
            for (const T beta : {T(0), T(-1.5)}) {
                INFO("beta " << beta);
                const auto old = beta == T(0) ? unaligned<T>(m * n, lim::quiet_NaN())
                                              : uniform<T>(m * n, -3, 3, unsigned(n));
                // With beta != 0 r + beta·old may be one FMA: ε(|r| + |beta·old|) more.
                // (A non-finite r has a non-finite reference, compared bitwise; the test's own
                // r is NaN where the kernels' select gives 0, as for 0 · log 0.)
                auto fma_slack = [&](std::size_t k, double r) {
                    if (!std::isfinite(r)) r = 0;
                    return beta == T(0)
                               ? 0.0
                               : kEps<T> * (std::fabs(r) + 2 * std::fabs(double(beta * old[k])));
                };
                for (int which = 0; which < 3; ++which) {  // both outputs, dp only, dy only
                    INFO("outputs " << which);
                    unaligned<T> dpg(old), dpw(old), dyg(old), dyw(old);
                    T* dp_g = which == 2 ? nullptr : dpg.data();
                    T* dp_w = which == 2 ? nullptr : dpw.data();
                    T* dy_g = which == 1 ? nullptr : dyg.data();
                    T* dy_w = which == 1 ? nullptr : dyw.data();
                    on(a, [&] {
                        fk::nll_prob_rows_backward<T>(m, n, p.data(), y.data(), g.data(), beta,
                                                      dp_g, beta, dy_g);
                    });
                    on(fk::arch::scalar, [&] {
                        fk::nll_prob_rows_backward<T>(m, n, p.data(), y.data(), g.data(), beta,
                                                      dp_w, beta, dy_w);
                    });
                    // dp = (-g y) / p, the reference's operations: exact at beta = 0.
                    check(dpg, dpw, [&](std::size_t k) {
                        return fma_slack(k, double(-g[k / n]) * y[k] / p[k]);
                    });
                    // dy = -g log p: log <= 2 ulp, one product rounding each side: 4ε|r|.
                    check(dyg, dyw, [&](std::size_t k) {
                        double r = double(-g[k / n]) * double(logp[k]);
                        if (!std::isfinite(r)) r = 0;
                        return 4 * kEps<T> * std::fabs(r) + fma_slack(k, r) + lim::denorm_min();
                    });

                    unaligned<T> lpg(old), lpw(old), lyg(old), lyw(old);
                    T* lp_g = which == 2 ? nullptr : lpg.data();
                    T* lp_w = which == 2 ? nullptr : lpw.data();
                    T* ly_g = which == 1 ? nullptr : lyg.data();
                    T* ly_w = which == 1 ? nullptr : lyw.data();
                    on(a, [&] {
                        fk::nll_logp_prob_rows_backward<T>(m, n, logp.data(), y.data(), g.data(),
                                                           beta, lp_g, beta, ly_g);
                    });
                    on(fk::arch::scalar, [&] {
                        fk::nll_logp_prob_rows_backward<T>(m, n, logp.data(), y.data(), g.data(),
                                                           beta, lp_w, beta, ly_w);
                    });
                    // One product each (plus the beta term): exact at beta = 0.
                    check(lpg, lpw,
                          [&](std::size_t k) { return fma_slack(k, double(-g[k / n]) * y[k]); });
                    check(lyg, lyw,
                          [&](std::size_t k) { return fma_slack(k, double(-g[k / n]) * logp[k]); });
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("nll SIMD: empty rows and empty batches", "[nll][simd]", float, double) {
    using T = TestType;
    for (fk::arch a : fk::available_archs()) {
        INFO("arch " << fk::arch_name(a));
        fk::arch_scope scope(a);
        // n = 0: the loss of an empty row is +0 (not -0), nothing else is touched.
        std::vector<T> out(3, T(7));
        fk::nll_prob_rows<T>(3, 0, nullptr, nullptr, out.data());
        for (T v : out) REQUIRE(same_bits(v, T(0)));
        out.assign(3, T(7));
        fk::nll_logp_prob_rows<T>(3, 0, nullptr, nullptr, out.data());
        for (T v : out) REQUIRE(same_bits(v, T(0)));
        // m = 0: no pointer is dereferenced.
        fk::nll_index_rows<T, std::int32_t>(0, 5, nullptr, nullptr, nullptr);
        fk::nll_index_rows_backward<T, std::int32_t>(0, 5, nullptr, nullptr, nullptr, T(0),
                                                     nullptr);
        fk::nll_prob_rows_backward<T>(0, 5, nullptr, nullptr, nullptr, T(0), nullptr, T(0),
                                      nullptr);
        // A row whose target mass is all zero: 0 even where p is 0 or negative.
        const std::vector<T> p = {T(0), T(-1), T(0.5), T(0), T(0), T(0), T(0), T(0), T(0)};
        const std::vector<T> y(9, T(0));
        T loss = T(5);
        fk::nll_prob_rows<T>(1, 9, p.data(), y.data(), &loss);
        REQUIRE(same_bits(loss, T(0)));
    }
}
