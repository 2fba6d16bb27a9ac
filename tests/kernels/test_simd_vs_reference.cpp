// Every SIMD kernel on every instruction set this machine has, against the scalar reference
// (arch::scalar), on odd sizes (1, 7, 9, 1023, lengths that are not a multiple of any lane
// count, lengths that cross the front doors' chunk boundaries) and on pointers that are one
// element off a 64-byte boundary. Each kernel's bound is stated next to its check.

#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/optim.hpp"

#include "kernel_test_data.hpp"

namespace fk = fusegrad::kernels;

namespace {

/// A buffer whose data() is one element past a 64-byte boundary: unaligned for every set.
using fusegrad_test::kEps;
using fusegrad_test::on;
using fusegrad_test::simd_archs;
using fusegrad_test::unaligned;

template <class T>
unaligned<T> random_buffer(std::size_t n, T lo, T hi, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> dist(static_cast<double>(lo), static_cast<double>(hi));
    unaligned<T> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<T>(dist(gen));
    return b;
}

/// Distance in units in the last place (0 for two NaNs, huge for NaN against a number).
template <class T>
double ulp_distance(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0.0 : 1e300;
    if (a == b) return 0.0;
    using U = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
    U ia, ib;
    std::memcpy(&ia, &a, sizeof(T));
    std::memcpy(&ib, &b, sizeof(T));
    // Map the sign-magnitude bit patterns onto a monotonic integer line.
    if (ia < 0) ia = std::numeric_limits<U>::min() - ia;
    if (ib < 0) ib = std::numeric_limits<U>::min() - ib;
    // long double holds every int64 exactly (a double would round the difference).
    return static_cast<double>(
        std::fabs(static_cast<long double>(ia) - static_cast<long double>(ib)));
}

/// Checks |got - want| <= bound(i) for every i, reporting the first failure.
template <class T, class Bound>
void check_close(const unaligned<T>& got, const unaligned<T>& want, Bound bound) {
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double g = got[i], w = want[i];
        if (std::isnan(w) || std::isnan(g)) {
            INFO("index " << i << " got " << g << " want " << w);
            REQUIRE(std::isnan(w) == std::isnan(g));
            continue;
        }
        if (g == w) continue;
        INFO("index " << i << " got " << g << " want " << w << " bound " << bound(i));
        REQUIRE(std::fabs(g - w) <= bound(i));
    }
}

template <class T>
void check_equal(const unaligned<T>& got, const unaligned<T>& want) {
    check_close(got, want, [](std::size_t) { return 0.0; });
}

const std::size_t kSizes[] = {1, 7, 9, 16, 1023, 4099, 70001};

}  // namespace

TEMPLATE_TEST_CASE("simd vs reference: exact elementwise kernels (bitwise equal)", "[simd]", float,
                   double) {
    using T = TestType;
    for (fk::arch a : simd_archs()) {
        for (std::size_t n : kSizes) {
            INFO(fk::arch_name(a) << " n = " << n);
            const auto x = random_buffer<T>(n, T(-3), T(3), 1);
            const auto z = random_buffer<T>(n, T(0.5), T(4), 2);
            // Each of these is one correctly rounded IEEE operation (or none) per element, so
            // every set must give exactly the reference's bits.
            auto run = [&](fk::arch arch, auto kernel) {
                unaligned<T> out(n, T(7));
                on(arch, [&] { kernel(out.data()); });
                return out;
            };
            auto same = [&](auto kernel) {
                check_equal(run(a, kernel), run(fk::arch::scalar, kernel));
            };
            same([&](T* y) { fk::fill<T>(n, T(1.25), y); });
            same([&](T* y) { fk::add<T>(n, x.data(), z.data(), y); });
            same([&](T* y) { fk::add_scalar<T>(n, x.data(), T(0.3), y); });
            same([&](T* y) { fk::relu<T>(n, x.data(), y); });
            same([&](T* y) { fk::relu_backward<T>(n, x.data(), z.data(), T(0), y); });
            same([&](T* y) { fk::mul<T>(n, x.data(), z.data(), T(0), y); });
            same([&](T* y) { fk::div<T>(n, x.data(), z.data(), T(0), y); });
            same([&](T* y) { fk::axpby<T>(n, T(0.7), x.data(), T(0), y); });
            // In place (y aliases the input).
            same([&](T* y) {
                for (std::size_t i = 0; i < n; ++i) y[i] = x[i];
                fk::relu<T>(n, y, y);
            });
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: beta != 0 within one rounding of r + beta * y", "[simd]",
                   float, double) {
    using T = TestType;
    for (fk::arch a : simd_archs()) {
        for (std::size_t n : kSizes) {
            INFO(fk::arch_name(a) << " n = " << n);
            const auto x = random_buffer<T>(n, T(-3), T(3), 3);
            const auto z = random_buffer<T>(n, T(0.5), T(4), 4);
            const auto old = random_buffer<T>(n, T(-2), T(2), 5);
            const T beta = T(0.75);
            auto run = [&](fk::arch arch, auto kernel) {
                unaligned<T> out(old);
                on(arch, [&] { kernel(out.data()); });
                return out;
            };
            // Bound: the SIMD body may fuse r + beta * y into one FMA, which differs from the
            // reference's two roundings by at most ε (|r| + |beta y|).
            auto close = [&](auto kernel, auto r_of) {
                const auto got = run(a, kernel), want = run(fk::arch::scalar, kernel);
                check_close(got, want, [&](std::size_t i) {
                    return kEps<T> *
                           (std::fabs(double(r_of(i))) + std::fabs(double(beta * old[i])));
                });
            };
            close([&](T* y) { fk::mul<T>(n, x.data(), z.data(), beta, y); },
                  [&](std::size_t i) { return x[i] * z[i]; });
            close([&](T* y) { fk::div<T>(n, x.data(), z.data(), beta, y); },
                  [&](std::size_t i) { return x[i] / z[i]; });
            close([&](T* y) { fk::axpby<T>(n, T(0.7), x.data(), beta, y); },
                  [&](std::size_t i) { return T(0.7) * x[i]; });
            close([&](T* y) { fk::relu_backward<T>(n, x.data(), z.data(), beta, y); },
                  [&](std::size_t i) { return x[i] > 0 ? z[i] : T(0); });
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: add_row and broadcast_row (bitwise equal)", "[simd]", float,
                   double) {
    using T = TestType;
    const std::size_t shapes[][2] = {{1, 1}, {7, 9}, {9, 7}, {3, 1023}, {300, 10}, {40, 1000}};
    for (fk::arch a : simd_archs()) {
        for (const auto& sh : shapes) {
            const std::size_t m = sh[0], n = sh[1];
            INFO(fk::arch_name(a) << " " << m << "x" << n);
            const auto x = random_buffer<T>(m * n, T(-3), T(3), 6);
            const auto row = random_buffer<T>(n, T(-3), T(3), 7);
            for (int which = 0; which < 2; ++which) {
                unaligned<T> got(m * n), want(m * n);
                auto kernel = [&](T* y) {
                    if (which == 0)
                        fk::add_row<T>(m, n, x.data(), row.data(), y);
                    else
                        fk::broadcast_row<T>(m, n, row.data(), y);
                };
                on(a, [&] { kernel(got.data()); });
                on(fk::arch::scalar, [&] { kernel(want.data()); });
                check_equal(got, want);
            }
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: exp within 2 ulp of std::exp over the whole line", "[simd]",
                   float, double) {
    using T = TestType;
    // Covers the overflow edge (float 88.38 .. 88.72 where xsimd alone overflows early), the
    // subnormal results below -87.3, and the specials.
    const T lo = sizeof(T) == 4 ? T(-104) : T(-746), hi = sizeof(T) == 4 ? T(89) : T(710);
    for (fk::arch a : simd_archs()) {
        for (std::size_t n : {std::size_t(1), std::size_t(9), std::size_t(100003)}) {
            INFO(fk::arch_name(a) << " n = " << n);
            auto x = random_buffer<T>(n, lo, hi, 8);
            if (n > 8) {
                const T specials[] = {std::numeric_limits<T>::infinity(),
                                      -std::numeric_limits<T>::infinity(),
                                      std::numeric_limits<T>::quiet_NaN(),
                                      T(0),
                                      T(-0.0),
                                      T(88.5),
                                      T(-87.5),
                                      T(88.72)};
                for (std::size_t k = 0; k < 8; ++k) x[k * 7 % n] = specials[k];
            }
            unaligned<T> got(n), want(n);
            on(a, [&] { fk::exp<T>(n, x.data(), got.data()); });
            on(fk::arch::scalar, [&] { fk::exp<T>(n, x.data(), want.data()); });
            double worst = 0;
            for (std::size_t i = 0; i < n; ++i)
                worst = std::max(worst, ulp_distance(got[i], want[i]));
            INFO("worst ulp " << worst);
            REQUIRE(worst <= 2.0);
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: log within 2 ulp of std::log, specials exact", "[simd]",
                   float, double) {
    using T = TestType;
    for (fk::arch a : simd_archs()) {
        for (std::size_t n : {std::size_t(1), std::size_t(9), std::size_t(100003)}) {
            INFO(fk::arch_name(a) << " n = " << n);
            // Log-uniform over the positive normals and subnormals, plus the specials.
            auto e = random_buffer<T>(n, T(sizeof(T) == 4 ? -140 : -1070),
                                      T(sizeof(T) == 4 ? 127 : 1023), 9);
            unaligned<T> x(n);
            for (std::size_t i = 0; i < n; ++i) x[i] = std::exp2(e[i]);
            if (n > 8) {
                const T specials[] = {std::numeric_limits<T>::infinity(),
                                      T(-1),
                                      std::numeric_limits<T>::quiet_NaN(),
                                      T(0),
                                      T(-0.0),
                                      T(1),
                                      std::numeric_limits<T>::denorm_min(),
                                      std::numeric_limits<T>::max()};
                for (std::size_t k = 0; k < 8; ++k) x[k * 7 % n] = specials[k];
            }
            unaligned<T> got(n), want(n);
            on(a, [&] { fk::log<T>(n, x.data(), got.data()); });
            on(fk::arch::scalar, [&] { fk::log<T>(n, x.data(), want.data()); });
            double worst = 0;
            for (std::size_t i = 0; i < n; ++i)
                worst = std::max(worst, ulp_distance(got[i], want[i]));
            INFO("worst ulp " << worst);
            REQUIRE(worst <= 2.0);
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: sum and col_sums within the blocked-summation bound",
                   "[simd]", float, double) {
    using T = TestType;
    for (fk::arch a : simd_archs()) {
        for (std::size_t n : {std::size_t(1), std::size_t(7), std::size_t(1023), std::size_t(4097),
                              std::size_t(1000003)}) {
            INFO(fk::arch_name(a) << " n = " << n);
            const auto x = random_buffer<T>(n, T(-1), T(2), 10);
            T got = 0, want = 0;
            on(a, [&] { got = fk::sum<T>(n, x.data()); });
            on(fk::arch::scalar, [&] { want = fk::sum<T>(n, x.data()); });
            double abs_sum = 0;
            for (std::size_t i = 0; i < n; ++i) abs_sum += std::fabs(double(x[i]));
            // Both are blocked sums: each within (128 + log2 n) ε Σ|x| of the exact sum.
            const double bound = 2 * (128 + std::log2(double(n) + 1)) * kEps<T> * abs_sum;
            REQUIRE(std::fabs(double(got) - double(want)) <= bound);
        }
        const std::size_t shapes[][2] = {{1, 1},    {7, 9},    {1023, 3},
                                         {300, 10}, {9, 1023}, {257, 600}};
        for (const auto& sh : shapes) {
            const std::size_t m = sh[0], n = sh[1];
            INFO(fk::arch_name(a) << " col_sums " << m << "x" << n);
            const auto x = random_buffer<T>(m * n, T(-1), T(2), 11);
            const auto old = random_buffer<T>(n, T(-1), T(1), 12);
            for (T beta : {T(0), T(0.5)}) {
                unaligned<T> got(old), want(old);
                on(a, [&] { fk::col_sums<T>(m, n, x.data(), beta, got.data()); });
                on(fk::arch::scalar, [&] { fk::col_sums<T>(m, n, x.data(), beta, want.data()); });
                check_close(got, want, [&](std::size_t j) {
                    double abs_sum = std::fabs(double(beta * old[j]));
                    for (std::size_t i = 0; i < m; ++i) abs_sum += std::fabs(double(x[i * n + j]));
                    return 2 * (128 + std::log2(double(m) + 1) + 2) * kEps<T> * abs_sum;
                });
            }
        }
    }
}

namespace {
const std::size_t kRowShapes[][2] = {{1, 1},    {7, 9},  {9, 7},   {3, 1023},
                                     {300, 10}, {5, 33}, {2, 4099}};
}

TEMPLATE_TEST_CASE("simd vs reference: softmax family", "[simd]", float, double) {
    using T = TestType;
    for (fk::arch a : simd_archs()) {
        for (const auto& sh : kRowShapes) {
            const std::size_t m = sh[0], n = sh[1];
            INFO(fk::arch_name(a) << " " << m << "x" << n);
            auto x = random_buffer<T>(m * n, T(-20), T(20), 13);
            if (n > 3) x[2] = -std::numeric_limits<T>::infinity();  // a masked entry
            const auto g = random_buffer<T>(m * n, T(-1), T(1), 14);
            const auto old = random_buffer<T>(m * n, T(-1), T(1), 15);
            // exp is ≤ 2 ulp on both sides and a row sum of n positive terms is within (n − 1) ε
            // in any order, so softmax agrees within (2n + 8) ε relative, log_softmax within
            // (2n + 8) ε (1 + |y|) absolute; FLT_MIN-scale results may flush to 0 (abs term).
            const double rel = (2.0 * n + 8) * kEps<T>;
            const double tiny = std::numeric_limits<T>::min() * 4;
            unaligned<T> sm(m * n), sm_ref(m * n), ls(m * n), ls_ref(m * n);
            on(a, [&] { fk::softmax_rows<T>(m, n, x.data(), sm.data()); });
            on(fk::arch::scalar, [&] { fk::softmax_rows<T>(m, n, x.data(), sm_ref.data()); });
            check_close(sm, sm_ref,
                        [&](std::size_t i) { return rel * std::fabs(double(sm_ref[i])) + tiny; });
            on(a, [&] { fk::log_softmax_rows<T>(m, n, x.data(), ls.data()); });
            on(fk::arch::scalar, [&] { fk::log_softmax_rows<T>(m, n, x.data(), ls_ref.data()); });
            check_close(ls, ls_ref,
                        [&](std::size_t i) { return rel * (1 + std::fabs(double(ls_ref[i]))); });
            // In place equals out of place on the same set.
            unaligned<T> inplace(x);
            on(a, [&] { fk::softmax_rows<T>(m, n, inplace.data(), inplace.data()); });
            check_equal(inplace, sm);

            for (T beta : {T(0), T(1)}) {
                // Backward bounds: the row reduction (Σ g s or Σ g) differs by at most
                // 2n ε Σ|terms|, then one or two roundings per element.
                unaligned<T> d(old), d_ref(old);
                on(a, [&] {
                    fk::softmax_rows_backward<T>(m, n, sm_ref.data(), g.data(), beta, d.data());
                });
                on(fk::arch::scalar, [&] {
                    fk::softmax_rows_backward<T>(m, n, sm_ref.data(), g.data(), beta, d_ref.data());
                });
                check_close(d, d_ref, [&](std::size_t k) {
                    const std::size_t i = k / n;
                    double dot = 0;
                    for (std::size_t j = 0; j < n; ++j)
                        dot += std::fabs(double(g[i * n + j] * sm_ref[i * n + j]));
                    return (2.0 * n + 8) * kEps<T> *
                               (std::fabs(double(sm_ref[k])) * (std::fabs(double(g[k])) + dot) +
                                std::fabs(double(beta * old[k]))) +
                           tiny;
                });
                unaligned<T> e(old), e_ref(old);
                on(a, [&] {
                    fk::log_softmax_rows_backward<T>(m, n, ls_ref.data(), g.data(), beta, e.data());
                });
                on(fk::arch::scalar, [&] {
                    fk::log_softmax_rows_backward<T>(m, n, ls_ref.data(), g.data(), beta,
                                                     e_ref.data());
                });
                check_close(e, e_ref, [&](std::size_t k) {
                    const std::size_t i = k / n;
                    double gs = 0;
                    for (std::size_t j = 0; j < n; ++j) gs += std::fabs(double(g[i * n + j]));
                    return (2.0 * n + 8) * kEps<T> *
                               (std::fabs(double(g[k])) + std::exp(double(ls_ref[k])) * gs +
                                std::fabs(double(beta * old[k]))) +
                           tiny;
                });
            }
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: fused softmax cross-entropy, every target form", "[simd]",
                   float, double) {
    using T = TestType;
    using I = std::int32_t;
    for (fk::arch a : simd_archs()) {
        for (const auto& sh : kRowShapes) {
            const std::size_t m = sh[0], n = sh[1];
            auto s = random_buffer<T>(m * n, T(-30), T(30), 16);
            if (n > 3) s[1] = -std::numeric_limits<T>::infinity();  // a masked class, not a label
            std::vector<I> y(m);
            for (std::size_t i = 0; i < m; ++i) y[i] = static_cast<I>((i * 7 + 3) % n);
            if (n > 3)
                for (std::size_t i = 0; i < m; ++i)
                    if (y[i] == 1) y[i] = 0;
            const auto w = random_buffer<T>(n, T(0.5), T(2), 17);
            auto p = random_buffer<T>(m * n, T(0), T(1), 18);
            if (n > 3)
                for (std::size_t i = 0; i < m; ++i) p[i * n + 1] = 0;  // no target mass on -inf
            const auto rs = random_buffer<T>(m, T(0.5), T(2), 19);
            const auto old = random_buffer<T>(m * n, T(-1), T(1), 20);
            // Bound per row: log Σ differs by at most (2n + 8) ε (the sum of positive terms in
            // another order, ≤ 2 ulp exps); every loss / gradient term is a product of O(1)
            // roundings with it, so |Δ| <= (4n + 16) ε |r| (c_max (1 + |s|max + log Σ)).
            const double k_eps = (4.0 * n + 16) * kEps<T>;
            for (int variant = 0; variant < 4; ++variant) {
                fk::xent_targets<T> tg;
                if (variant & 1) tg.class_weights = w.data();
                if (variant & 2) tg.smoothing = T(0.1);
                if (variant == 3) {
                    tg.has_ignore_index = true;
                    tg.ignore_index = y[0];
                }
                INFO(fk::arch_name(a) << " " << m << "x" << n << " variant " << variant);
                const double scale =
                    2 * 2 * (1 + 30 + 30 + std::log(double(n)));  // |r| c (1 + |s| + max + log Σ)
                for (int prob = 0; prob < 2; ++prob) {
                    unaligned<T> loss(m), loss_ref(m), st(2 * m), st_ref(2 * m);
                    T tot = 0, tot_ref = 0;
                    auto fwd = [&](T* l, T* stats) {
                        return prob
                                   ? fk::softmax_xent_prob_rows<T>(m, n, s.data(), p.data(), tg,
                                                                   T(0.5), rs.data(), l, stats)
                                   : fk::softmax_xent_index_rows<T, I>(m, n, s.data(), y.data(), tg,
                                                                       T(0.5), rs.data(), l, stats);
                    };
                    on(a, [&] { tot = fwd(loss.data(), st.data()); });
                    on(fk::arch::scalar, [&] { tot_ref = fwd(loss_ref.data(), st_ref.data()); });
                    check_close(loss, loss_ref,
                                [&](std::size_t) { return k_eps * scale * (prob ? n : 1); });
                    if (std::isinf(tot_ref))
                        REQUIRE(tot == tot_ref);  // a target on a masked class
                    else
                        REQUIRE(std::fabs(double(tot) - double(tot_ref)) <=
                                k_eps * scale * (prob ? n : 1) * m +
                                    256 * kEps<T> * std::fabs(double(tot_ref)));
                    for (std::size_t i = 0; i < m; ++i)
                        REQUIRE(st[2 * i] == st_ref[2 * i]);  // the max is exact
                    for (T beta : {T(0), T(1)}) {
                        for (int with_stats = 0; with_stats < 2; ++with_stats) {
                            unaligned<T> d(old), d_ref(old), dy(old), dy_ref(old);
                            auto bwd = [&](T* dd, T* ddy, const T* stats) {
                                if (prob)
                                    fk::softmax_xent_prob_rows_backward<T>(
                                        m, n, s.data(), p.data(), tg, T(0.5), rs.data(), stats,
                                        beta, dd, beta, ddy);
                                else
                                    fk::softmax_xent_index_rows_backward<T, I>(
                                        m, n, s.data(), y.data(), tg, T(0.5), rs.data(), stats,
                                        beta, dd);
                            };
                            on(a,
                               [&] { bwd(d.data(), dy.data(), with_stats ? st.data() : nullptr); });
                            on(fk::arch::scalar, [&] {
                                bwd(d_ref.data(), dy_ref.data(),
                                    with_stats ? st_ref.data() : nullptr);
                            });
                            check_close(d, d_ref,
                                        [&](std::size_t) { return k_eps * 4 * (prob ? n : 1); });
                            if (prob)
                                check_close(dy, dy_ref, [&](std::size_t) { return k_eps * scale; });
                        }
                    }
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("simd vs reference: SGD and Adam updates (within FMA contraction)", "[simd]",
                   float, double) {
    using T = TestType;
    for (fk::arch a : simd_archs()) {
        for (std::size_t n : kSizes) {
            INFO(fk::arch_name(a) << " n = " << n);
            const auto g = random_buffer<T>(n, T(-1), T(1), 21);
            const auto p0 = random_buffer<T>(n, T(-1), T(1), 22);
            const auto v0 = random_buffer<T>(n, T(0), T(1), 23);
            // Same operations in the same order, each correctly rounded (sqrt included), except
            // that the compiler may fuse a multiply and an add of the SIMD body into one FMA,
            // which skips one rounding: every value is within 4 ε (1 + |x|) of the reference
            // (inputs and states are O(1), lr <= 0.1).
            auto close = [](const unaligned<T>& got, const unaligned<T>& want) {
                check_close(got, want, [&](std::size_t i) {
                    return 4 * kEps<T> * (1 + std::fabs(double(want[i])));
                });
            };
            for (int variant = 0; variant < 4; ++variant) {
                const T mu = variant & 1 ? T(0.9) : T(0), wd = variant & 2 ? T(1e-2) : T(0);
                unaligned<T> p(p0), v(v0), p_ref(p0), v_ref(v0);
                on(a, [&] {
                    fk::sgd_update<T>(n, T(0.1), mu, wd, variant == 3, g.data(), v.data(),
                                      p.data());
                });
                on(fk::arch::scalar, [&] {
                    fk::sgd_update<T>(n, T(0.1), mu, wd, variant == 3, g.data(), v_ref.data(),
                                      p_ref.data());
                });
                close(p, p_ref);
                close(v, v_ref);
            }
            unaligned<T> p(p0), mm(g), vv(v0), p_ref(p0), mm_ref(g), vv_ref(v0);
            for (std::int64_t step = 1; step <= 3; ++step) {
                on(a, [&] {
                    fk::adam_update<T>(n, T(1e-3), T(0.9), T(0.999), T(1e-8), T(1e-2), step,
                                       g.data(), mm.data(), vv.data(), p.data());
                });
                on(fk::arch::scalar, [&] {
                    fk::adam_update<T>(n, T(1e-3), T(0.9), T(0.999), T(1e-8), T(1e-2), step,
                                       g.data(), mm_ref.data(), vv_ref.data(), p_ref.data());
                });
            }
            close(p, p_ref);
            close(mm, mm_ref);
            close(vv, vv_ref);
        }
    }
}

TEST_CASE("simd: the exp inside the softmax family is within 1 ulp of e^x on [-87.3, 0]",
          "[simd]") {
    // log_softmax_rows_backward with g = (0, 1) on a two-column row gives dx_0 = 0 − e^{ls_0} · 1,
    // exactly minus the kernel's exp of ls_0: a window onto the exp that every softmax and
    // cross-entropy kernel uses. About 10⁶ floats spread over [-87.3, 0] (every 1063rd float)
    // against e^x rounded from double; below -87.3 (results under FLT_MIN) it must give 0 or
    // the correctly rounded value.
    std::vector<float> xs;
    for (float x = -87.3f; x <= 0.0f;) {
        xs.push_back(x);
        for (int k = 0; k < 1063 && x <= 0.0f; ++k) x = std::nextafter(x, 1.0f);
    }
    xs.push_back(0.0f);
    xs.push_back(-0.0f);
    xs.push_back(-100.0f);
    xs.push_back(-std::numeric_limits<float>::infinity());
    const std::size_t m = xs.size();
    unaligned<float> ls(2 * m), g(2 * m), dx(2 * m);
    for (std::size_t i = 0; i < m; ++i) {
        ls[2 * i] = xs[i];
        ls[2 * i + 1] = -1.0f;
        g[2 * i] = 0.0f;
        g[2 * i + 1] = 1.0f;
    }
    for (fk::arch a : simd_archs()) {
        INFO(fk::arch_name(a));
        on(a, [&] {
            fk::log_softmax_rows_backward<float>(m, 2, ls.data(), g.data(), 0.0f, dx.data());
        });
        double worst = 0;
        for (std::size_t i = 0; i < m; ++i) {
            const float want = static_cast<float>(std::exp(static_cast<double>(xs[i])));
            const float got = -dx[2 * i];
            if (xs[i] < -87.3f) {
                REQUIRE((got == 0.0f || got == want));
                continue;
            }
            worst = std::max(worst, ulp_distance(got, want));
        }
        INFO("worst ulp " << worst);
        REQUIRE(worst <= 1.0);
    }
}

TEMPLATE_TEST_CASE("simd vs reference: dropout's mask and scale (bitwise equal)", "[simd]", float,
                   double) {
    using T = TestType;
    const std::uint64_t key = fk::splitmix64(42), threshold = std::uint64_t(1) << 52;  // p = 0.5
    const T scale = T(2);
    for (std::size_t n : kSizes) {
        auto x = random_buffer<T>(n, T(-3), T(3), 31);
        x[0] = std::numeric_limits<T>::infinity();  // kept: inf; dropped: inf · 0 = NaN (PyTorch)
        if (n > 1) x[n - 1] = std::numeric_limits<T>::quiet_NaN();
        const auto old = random_buffer<T>(n, T(-1), T(1), 32);
        unaligned<T> want(n), want1(old);
        on(fk::arch::scalar, [&] {
            fk::dropout<T>(n, x.data(), key, threshold, scale, T(0), want.data());
            fk::dropout<T>(n, x.data(), key, threshold, scale, T(1), want1.data());
        });
        std::size_t kept = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const bool k = (fk::splitmix64(key + i) >> 11) >= threshold;  // the documented mask
            kept += k;
            if (k)
                REQUIRE(((std::isnan(x[i]) && std::isnan(want[i])) || want[i] == x[i] * scale));
            else  // x · 0, as PyTorch's x · mask · scale: NaN where x is ±inf or NaN
                REQUIRE(((!std::isfinite(x[i]) && std::isnan(want[i])) || want[i] == T(0)));
        }
        if (n > 1000) REQUIRE(std::fabs(double(kept) / double(n) - 0.5) < 0.05);
        for (fk::arch a : simd_archs()) {
            INFO(fk::arch_name(a) << " n " << n);
            unaligned<T> got(n, std::numeric_limits<T>::quiet_NaN()),
                got1(old);  // beta 0: not read
            on(a, [&] {
                fk::dropout<T>(n, x.data(), key, threshold, scale, T(0), got.data());
                fk::dropout<T>(n, x.data(), key, threshold, scale, T(1), got1.data());
            });
            check_equal(got, want);
            check_close(got1, want1, [&](std::size_t i) {
                return 2 * kEps<T> * (std::fabs(double(want1[i])) + std::fabs(double(old[i])));
            });
        }
    }
}
