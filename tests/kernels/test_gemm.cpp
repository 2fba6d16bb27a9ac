// GEMM against hand computations and a long double oracle. The cases run on the default
// (best available) instruction set; the exact dyadic sweep runs on every available set.
// test_gemm_archs.cpp covers the SIMD paths in depth.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/special_values.hpp"
#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fk = fusegrad::kernels;
using fusegrad_test::kInf;
using fusegrad_test::kNaN;

namespace {

/// A matrix as handed to gemm: `rows`×`cols` stored row-major with leading dimension `ld`.
template <class T>
struct Stored {
    std::vector<T> data;
    std::size_t rows = 0;
    std::size_t cols = 0;
    std::size_t ld = 0;
};

/// Stores the logical r×c matrix `x` (contiguous, row-major) as gemm reads it: transposed
/// (c×r) when `trans`, with leading dimension stored-columns + `pad`, padding set to `fill`.
template <class T>
Stored<T> store(const std::vector<T>& x, std::size_t r, std::size_t c, bool trans, std::size_t pad,
                T fill) {
    Stored<T> s;
    s.rows = trans ? c : r;
    s.cols = trans ? r : c;
    s.ld = s.cols + pad;
    s.data.assign(s.rows * s.ld, fill);
    for (std::size_t i = 0; i < s.rows; ++i) {
        for (std::size_t j = 0; j < s.cols; ++j) {
            s.data[i * s.ld + j] = trans ? x[j * c + i] : x[i * c + j];
        }
    }
    return s;
}

/// Dyadic values v/16 with v in [-16, 16]: every product and partial sum in the sweep below is
/// exactly representable in float, so the kernel must match the oracle exactly.
template <class T>
std::vector<T> dyadic(std::size_t count, unsigned seed) {
    std::vector<T> v(count);
    for (std::size_t i = 0; i < count; ++i) {
        v[i] = static_cast<T>(static_cast<int>((i * 37 + seed * 11 + i * i * 7) % 33) - 16) / 16;
    }
    return v;
}

/// Naive triple-loop oracle in long double on logical (unstored) matrices:
/// alpha * A * B + beta * C, with A m×k, B k×n, C m×n contiguous. With beta == 0, C is ignored.
template <class T>
std::vector<long double> oracle(std::size_t m, std::size_t n, std::size_t k, T alpha,
                                const std::vector<T>& a, const std::vector<T>& b, T beta,
                                const std::vector<T>& c) {
    std::vector<long double> out(m * n);
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            long double acc = 0;
            for (std::size_t p = 0; p < k; ++p) {
                acc += static_cast<long double>(a[i * k + p]) * b[p * n + j];
            }
            out[i * n + j] = static_cast<long double>(alpha) * acc +
                             (beta == T(0) ? 0.0L : static_cast<long double>(beta) * c[i * n + j]);
        }
    }
    return out;
}

}  // namespace

TEMPLATE_TEST_CASE("gemm: 2x3 by 3x2 worked by hand, all transposes", "[gemm]", float, double) {
    using T = TestType;
    const bool ta = GENERATE(false, true);
    const bool tb = GENERATE(false, true);
    CAPTURE(ta, tb);
    // A = [1 2 3; 4 5 6], B = [7 8; 9 10; 11 12]
    // A B = [1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12] = [58 64; 139 154]
    const std::vector<T> a = {1, 2, 3, 4, 5, 6};
    const std::vector<T> b = {7, 8, 9, 10, 11, 12};
    const auto sa = store(a, 2, 3, ta, 2, kNaN<T>);  // padding NaN: must never be read
    const auto sb = store(b, 3, 2, tb, 3, kNaN<T>);
    const std::size_t ldc = 5;

    SECTION("alpha = 1, beta = 0 over a NaN-filled C") {
        std::vector<T> c(2 * ldc, kNaN<T>);
        fk::gemm<T>(ta, tb, 2, 2, 3, T(1), sa.data.data(), sa.ld, sb.data.data(), sb.ld, T(0),
                    c.data(), ldc);
        CHECK(c[0] == T(58));
        CHECK(c[1] == T(64));
        CHECK(c[ldc + 0] == T(139));
        CHECK(c[ldc + 1] == T(154));
        for (std::size_t j = 2; j < ldc; ++j) {  // padding of C untouched
            CHECK(std::isnan(c[j]));
            CHECK(std::isnan(c[ldc + j]));
        }
    }
    SECTION("alpha = 2, beta = 1 accumulates") {
        std::vector<T> c(2 * ldc, T(-7));
        c[0] = 1;
        c[1] = 2;
        c[ldc] = 3;
        c[ldc + 1] = 4;
        fk::gemm<T>(ta, tb, 2, 2, 3, T(2), sa.data.data(), sa.ld, sb.data.data(), sb.ld, T(1),
                    c.data(), ldc);
        CHECK(c[0] == T(117));        // 2*58 + 1
        CHECK(c[1] == T(130));        // 2*64 + 2
        CHECK(c[ldc + 0] == T(281));  // 2*139 + 3
        CHECK(c[ldc + 1] == T(312));  // 2*154 + 4
        CHECK(c[2] == T(-7));
        CHECK(c[ldc + 4] == T(-7));
    }
    SECTION("alpha = -1, beta = 0.5") {
        std::vector<T> c = {2, 4, 0, 0, 0, 6, 8, 0, 0, 0};
        fk::gemm<T>(ta, tb, 2, 2, 3, T(-1), sa.data.data(), sa.ld, sb.data.data(), sb.ld, T(0.5),
                    c.data(), ldc);
        CHECK(c[0] == T(-57));         // -58 + 1
        CHECK(c[1] == T(-62));         // -64 + 2
        CHECK(c[ldc + 0] == T(-136));  // -139 + 3
        CHECK(c[ldc + 1] == T(-150));  // -154 + 4
    }
}

TEMPLATE_TEST_CASE("gemm: odd sizes, all transposes, padded leading dimensions, exact oracle",
                   "[gemm]", float, double) {
    using T = TestType;
    const std::size_t sizes[] = {1, 7, 9, 33};
    struct AlphaBeta {
        T alpha;
        T beta;
    };
    const AlphaBeta coeffs[] = {{T(1), T(0)}, {T(0.5), T(1)}, {T(-1.5), T(0.25)}, {T(2), T(0)}};
    const T sentinel = T(12345);
    int checked = 0;
    for (const fk::arch arch : fk::available_archs()) {
        const fk::arch_scope scope(arch);
        for (const bool ta : {false, true}) {
            for (const bool tb : {false, true}) {
                for (const std::size_t m : sizes) {
                    for (const std::size_t n : sizes) {
                        for (const std::size_t k : sizes) {
                            for (const auto& ab : coeffs) {
                                const auto a = dyadic<T>(m * k, 1 + static_cast<unsigned>(m + k));
                                const auto b = dyadic<T>(k * n, 2 + static_cast<unsigned>(k * n));
                                const auto c0 = dyadic<T>(m * n, 3 + static_cast<unsigned>(m));
                                const auto ref = oracle(m, n, k, ab.alpha, a, b, ab.beta, c0);

                                const auto sa = store(a, m, k, ta, 3, kNaN<T>);
                                const auto sb = store(b, k, n, tb, 1, kNaN<T>);
                                // beta == 0: C (and its padding) starts NaN, which must not leak.
                                const T c_fill = ab.beta == T(0) ? kNaN<T> : sentinel;
                                auto sc = store(c0, m, n, false, 2, c_fill);
                                if (ab.beta == T(0)) {
                                    std::fill(sc.data.begin(), sc.data.end(), kNaN<T>);
                                }
                                fk::gemm<T>(ta, tb, m, n, k, ab.alpha, sa.data.data(), sa.ld,
                                            sb.data.data(), sb.ld, ab.beta, sc.data.data(), sc.ld);

                                bool exact = true;
                                bool padding_kept = true;
                                for (std::size_t i = 0; i < m; ++i) {
                                    for (std::size_t j = 0; j < sc.ld; ++j) {
                                        const T got = sc.data[i * sc.ld + j];
                                        if (j < n) {
                                            exact = exact &&
                                                    static_cast<long double>(got) == ref[i * n + j];
                                        } else {
                                            padding_kept =
                                                padding_kept && (ab.beta == T(0) ? std::isnan(got)
                                                                                 : got == sentinel);
                                        }
                                    }
                                }
                                if (!exact || !padding_kept) {
                                    INFO("arch=" << fk::arch_name(arch) << " ta=" << ta << " tb="
                                                 << tb << " m=" << m << " n=" << n << " k=" << k
                                                 << " alpha=" << ab.alpha << " beta=" << ab.beta);
                                    CHECK(exact);
                                    CHECK(padding_kept);
                                }
                                ++checked;
                            }
                        }
                    }
                }
            }
        }
    }
    REQUIRE(checked == static_cast<int>(fk::available_archs().size()) * 4 * 64 * 4);
}

TEMPLATE_TEST_CASE("gemm: non-dyadic values within the dot-product error bound", "[gemm]", float,
                   double) {
    using T = TestType;
    const bool ta = GENERATE(false, true);
    const bool tb = GENERATE(false, true);
    const std::size_t m = 9;
    const std::size_t n = 33;
    const std::size_t k = 33;
    const T alpha = T(0.7);
    const T beta = T(-0.3);
    CAPTURE(ta, tb);
    std::mt19937 gen(42);
    std::uniform_real_distribution<double> dist(-1.0, 1.0);
    auto draw = [&](std::size_t count) {
        std::vector<T> v(count);
        for (auto& x : v) {
            x = static_cast<T>(dist(gen));
        }
        return v;
    };
    const auto a = draw(m * k);
    const auto b = draw(k * n);
    const auto c0 = draw(m * n);
    const auto ref = oracle(m, n, k, alpha, a, b, beta, c0);
    const auto sa = store(a, m, k, ta, 4, kNaN<T>);
    const auto sb = store(b, k, n, tb, 5, kNaN<T>);
    auto sc = store(c0, m, n, false, 6, T(0));
    fk::gemm<T>(ta, tb, m, n, k, alpha, sa.data.data(), sa.ld, sb.data.data(), sb.ld, beta,
                sc.data.data(), sc.ld);
    // |error| <= (k + 2) u' * (|alpha| Σ_p |a_ip b_pj| + |beta c_ij|), u' = machine epsilon:
    // a bound on recursive dot-product summation plus the two final operations.
    const long double eps = std::numeric_limits<T>::epsilon();
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            long double mag = 0;
            for (std::size_t p = 0; p < k; ++p) {
                mag += std::fabs(static_cast<long double>(a[i * k + p]) * b[p * n + j]);
            }
            mag = std::fabs(static_cast<long double>(alpha)) * mag +
                  std::fabs(static_cast<long double>(beta) * c0[i * n + j]);
            const long double err = std::fabs(sc.data[i * sc.ld + j] - ref[i * n + j]);
            INFO("i=" << i << " j=" << j);
            CHECK(err <= (k + 2) * eps * mag);
        }
    }
}

TEMPLATE_TEST_CASE("gemm: empty shapes", "[gemm]", float, double) {
    using T = TestType;
    SECTION("m == 0 or n == 0 is a no-op and touches no pointer") {
        fk::gemm<T>(false, false, 0, 3, 2, T(1), nullptr, 2, nullptr, 3, T(0), nullptr, 3);
        fk::gemm<T>(true, true, 3, 0, 2, T(1), nullptr, 3, nullptr, 2, T(0), nullptr, 1);
        SUCCEED();
    }
    SECTION("k == 0 gives C = beta * C, without reading A or B") {
        const bool ta = GENERATE(false, true);
        const bool tb = GENERATE(false, true);
        std::vector<T> c(2 * 4, kNaN<T>);
        fk::gemm<T>(ta, tb, 2, 3, 0, T(1), nullptr, 3, nullptr, 3, T(0), c.data(), 4);
        for (std::size_t i = 0; i < 2; ++i) {
            for (std::size_t j = 0; j < 3; ++j) {
                CHECK(c[i * 4 + j] == T(0));
            }
            CHECK(std::isnan(c[i * 4 + 3]));
        }
        std::vector<T> d = {1, 2, 3, 4, 5, 6};
        fk::gemm<T>(ta, tb, 2, 3, 0, T(1), nullptr, 3, nullptr, 3, T(-2), d.data(), 3);
        CHECK(d == std::vector<T>{-2, -4, -6, -8, -10, -12});
    }
}

TEMPLATE_TEST_CASE("gemm: beta = 1 accumulates over repeated calls", "[gemm]", float, double) {
    using T = TestType;
    // Outer products: C = Σ_r u_r v_rᵀ, built by k = 1 GEMMs with beta = 1 after a first
    // beta = 0 call. u = [1 2 3]ᵀ, v = [1 -1]: each call adds [1 -1; 2 -2; 3 -3].
    const std::vector<T> u = {1, 2, 3};
    const std::vector<T> v = {1, -1};
    std::vector<T> c(3 * 2, kNaN<T>);
    fk::gemm<T>(false, false, 3, 2, 1, T(1), u.data(), 1, v.data(), 2, T(0), c.data(), 2);
    for (int r = 0; r < 4; ++r) {
        fk::gemm<T>(false, false, 3, 2, 1, T(1), u.data(), 1, v.data(), 2, T(1), c.data(), 2);
    }
    CHECK(c == std::vector<T>{5, -5, 10, -10, 15, -15});
}

TEMPLATE_TEST_CASE("gemm: every depth block (per micro-architecture) gives the exact result",
                   "[gemm]", float, double) {
    // k spans several depth blocks for each choice, so later blocks add to what earlier ones
    // wrote; dyadic values keep every partial sum exact whatever the grouping. 37 × 45: whole
    // and ragged micro-tiles; 700 × 10 with Aᵀ: the short-C path (Cᵀ, 10-row tiles on AVX-512).
    using T = TestType;
    struct Case {
        std::size_t m, n, k;
        bool ta, tb;
    };
    const Case cases[] = {{37, 45, 1100, false, false},
                          {37, 45, 1100, true, true},
                          {700, 10, 600, true, false},
                          {45, 37, 530, false, true}};
    const std::size_t default_block = fk::gemm_depth_block();
    int checked = 0;
    for (const Case& cs : cases) {
        const auto a = dyadic<T>(cs.m * cs.k, 5);
        const auto b = dyadic<T>(cs.k * cs.n, 6);
        const auto c0 = dyadic<T>(cs.m * cs.n, 7);
        const T alpha = T(0.5), beta = T(-1);
        const auto ref = oracle(cs.m, cs.n, cs.k, alpha, a, b, beta, c0);
        const auto sa = store(a, cs.m, cs.k, cs.ta, 3, kNaN<T>);
        const auto sb = store(b, cs.k, cs.n, cs.tb, 1, kNaN<T>);
        for (const fk::arch arch : fk::available_archs()) {
            const fk::arch_scope arch_scope(arch);
            for (const std::size_t kc :
                 {std::size_t(16), std::size_t(48), std::size_t(256), std::size_t(512)}) {
                const fk::gemm_depth_block_scope block_scope(kc);
                REQUIRE(fk::gemm_depth_block() == kc);
                auto sc = store(c0, cs.m, cs.n, false, 2, T(0));
                fk::gemm<T>(cs.ta, cs.tb, cs.m, cs.n, cs.k, alpha, sa.data.data(), sa.ld,
                            sb.data.data(), sb.ld, beta, sc.data.data(), sc.ld);
                std::size_t wrong = 0;
                for (std::size_t i = 0; i < cs.m; ++i)
                    for (std::size_t j = 0; j < cs.n; ++j)
                        wrong +=
                            static_cast<long double>(sc.data[i * sc.ld + j]) != ref[i * cs.n + j];
                INFO("arch=" << fk::arch_name(arch) << " depth block " << kc << " m=" << cs.m
                             << " n=" << cs.n << " k=" << cs.k << " ta=" << cs.ta
                             << " tb=" << cs.tb);
                CHECK(wrong == 0);
                ++checked;
            }
        }
    }
    REQUIRE(checked == 4 * 4 * static_cast<int>(fk::available_archs().size()));
    CHECK(fk::gemm_depth_block() == default_block);  // every scope restored it
}

TEST_CASE("gemm_depth_block: the default is a measured choice; a bad value is refused by name",
          "[gemm]") {
    const std::size_t kc = fk::gemm_depth_block();
    CHECK((kc == 256 || kc == 512));
    for (const std::size_t bad :
         {std::size_t(0), std::size_t(8), std::size_t(100), std::size_t(8192)}) {
        INFO("depth block " << bad);
        try {
            fk::set_gemm_depth_block(bad);
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Catch::Matchers::Contains(std::to_string(bad)) &&
                                     Catch::Matchers::Contains("set_gemm_depth_block"));
        }
    }
    CHECK(fk::gemm_depth_block() == kc);  // a refused value changes nothing
}

TEST_CASE("this_cpu: the vendor, family, model and name /proc/cpuinfo reports", "[gemm]") {
    const fk::cpu_id& cpu = fk::this_cpu();
    std::ifstream info("/proc/cpuinfo");
    if (!info) {
        SUCCEED("no /proc/cpuinfo here");
        return;
    }
    std::string line, vendor, name;
    long family = -1, model = -1;
    auto value = [](const std::string& l) { return l.substr(l.find(':') + 2); };
    while (std::getline(info, line) &&
           (vendor.empty() || family < 0 || model < 0 || name.empty())) {
        if (line.rfind("vendor_id", 0) == 0) vendor = value(line);
        if (line.rfind("cpu family", 0) == 0) family = std::stol(value(line));
        if (line.rfind("model", 0) == 0 && line.rfind("model name", 0) != 0)
            model = std::stol(value(line));
        if (line.rfind("model name", 0) == 0 && name.empty()) name = value(line);
    }
    REQUIRE(family >= 0);
    CHECK(cpu.vendor == vendor);
    CHECK(cpu.family == static_cast<unsigned>(family));
    CHECK(cpu.model == static_cast<unsigned>(model));
    CHECK(cpu.name == name);
}

TEMPLATE_TEST_CASE(
    "gemm_rows: rows read by index give gemm's result on the gathered copy, bit "
    "for bit",
    "[gemm]", float, double) {
    using T = TestType;
    // Shapes through every path: the skinny one (few columns, !trans_a), the swapped one
    // (few columns, trans_a, m > n: the gathered rows become op(B)'s), the blocked one with a
    // gathered A by rows and by columns, short C (the 10- and 12-row tiles), and the training
    // shapes (softmax regression 256×784 → 10, an MLP's 128×784 → 256), large enough for two
    // threads where OpenMP has them.
    struct dims {
        std::size_t m, n, k;
    };
    const dims cases[] = {{1, 1, 1},       {7, 3, 33},      {33, 10, 40},   {9, 37, 17},
                          {10, 50, 70},    {12, 64, 300},   {256, 10, 784}, {784, 10, 256},
                          {128, 256, 784}, {784, 256, 128}, {70, 700, 520}};
    std::mt19937 rng(7);
    std::normal_distribution<double> normal;
    int checked = 0;
    for (const fk::arch arch : fk::available_archs()) {
        const fk::arch_scope scope(arch);
        for (const bool ta : {false, true}) {
            for (const bool tb : {false, true}) {
                for (const auto& d : cases) {
                    // A's stored rows: m rows of k when !ta, k rows of m when ta; picked from a
                    // table of more rows (a wider leading dimension), with repeats.
                    const std::size_t rows = ta ? d.k : d.m, width = ta ? d.m : d.k;
                    const std::size_t table_rows = rows + 5, ld = width + 3;
                    std::vector<T> table(table_rows * ld);
                    for (auto& v : table) v = T(normal(rng));
                    std::vector<const T*> ptr(rows);
                    std::vector<T> gathered(rows * width);
                    for (std::size_t r = 0; r < rows; ++r) {
                        const std::size_t i = (r * 7 + 3) % table_rows;
                        ptr[r] = table.data() + i * ld;
                        std::copy_n(ptr[r], width, gathered.data() + r * width);
                    }
                    const std::size_t ldb = tb ? d.k : d.n;
                    std::vector<T> b((tb ? d.n : d.k) * ldb);
                    for (auto& v : b) v = T(normal(rng));
                    for (const T beta : {T(0), T(0.5)}) {
                        std::vector<T> c0(d.m * d.n);
                        for (auto& v : c0) v = T(normal(rng));
                        auto want = c0, got = c0;
                        fk::gemm<T>(ta, tb, d.m, d.n, d.k, T(1.5), gathered.data(), width, b.data(),
                                    ldb, beta, want.data(), d.n);
                        fk::gemm_rows<T>(ta, tb, d.m, d.n, d.k, T(1.5), ptr.data(), b.data(), ldb,
                                         beta, got.data(), d.n);
                        const bool same = std::equal(got.begin(), got.end(), want.begin());
                        if (!same) {
                            INFO("arch=" << fk::arch_name(arch) << " ta=" << ta << " tb=" << tb
                                         << " m=" << d.m << " n=" << d.n << " k=" << d.k
                                         << " beta=" << beta);
                            CHECK(same);
                        }
                        ++checked;
                    }
                }
            }
        }
    }
    REQUIRE(checked == static_cast<int>(fk::available_archs().size()) * 4 * 11 * 2);
}

#include "../../src/kernels/team_gemm.hpp"

TEMPLATE_TEST_CASE(
    "gemm_from, team_gemm and gemm_packed_b read gathered rows at an offset as the strided copy",
    "[gemm]", float, double) {
    // The internal entry points linear_xent uses (src/kernels/team_gemm.hpp) on a stored A given
    // as row pointers with an offset into each row (dW's share of D columns in a team), against
    // the same calls on the gathered copy: bit for bit, both transposes, every set. One thread
    // (nt = 1): a team's threads differ only in which rows of C they pass.
    using T = TestType;
    namespace fd = fusegrad::kernels::detail;
    struct dims {
        std::size_t m, n, k;
    };
    const dims cases[] = {{7, 3, 33}, {33, 10, 40}, {40, 37, 300}, {256, 10, 100}};
    std::mt19937 rng(11);
    std::normal_distribution<double> normal;
    int checked = 0;
    for (const fk::arch arch : fk::available_archs()) {
        const fk::arch_scope scope(arch);
        for (const bool ta : {false, true}) {
            for (const std::size_t off : {std::size_t(0), std::size_t(5)}) {
                for (const auto& d : cases) {
                    const std::size_t rows = ta ? d.k : d.m, width = ta ? d.m : d.k;
                    const std::size_t table_rows = rows + 3, ld = off + width + 2;
                    std::vector<T> table(table_rows * ld);
                    for (auto& v : table) v = T(normal(rng));
                    std::vector<const T*> ptr(rows);
                    std::vector<T> gathered(rows * width);
                    for (std::size_t r = 0; r < rows; ++r) {
                        ptr[r] = table.data() + ((r * 5 + 1) % table_rows) * ld;
                        std::copy_n(ptr[r] + off, width, gathered.data() + r * width);
                    }
                    std::vector<T> b(d.k * d.n);
                    for (auto& v : b) v = T(normal(rng));
                    const fd::stored_a<T> strided{gathered.data(), width};
                    const fd::stored_a<T> in_place{nullptr, 0, ptr.data(), off};
                    INFO("arch=" << fk::arch_name(arch) << " ta=" << ta << " off=" << off
                                 << " m=" << d.m << " n=" << d.n << " k=" << d.k);
                    std::vector<T> c0(d.m * d.n);
                    for (auto& v : c0) v = T(normal(rng));
                    auto want = c0, got = c0;
                    fd::gemm_from<T>(ta, false, d.m, d.n, d.k, T(1.5), strided, b.data(), d.n,
                                     T(0.5), want.data(), d.n);
                    fd::gemm_from<T>(ta, false, d.m, d.n, d.k, T(1.5), in_place, b.data(), d.n,
                                     T(0.5), got.data(), d.n);
                    CHECK(got == want);
                    T* shared = fd::team_gemm_buffer<T>(fd::team_gemm_shared_size<T>(d.n) +
                                                        fd::packed_b_size<T>(d.k, d.n));
                    fd::team_gemm_reserve<T>();
                    want = got = c0;
                    fd::team_gemm<T>(0, 1, ta, false, d.m, d.n, d.k, T(1), strided, b.data(), d.n,
                                     T(1), want.data(), d.n, shared);
                    fd::team_gemm<T>(0, 1, ta, false, d.m, d.n, d.k, T(1), in_place, b.data(), d.n,
                                     T(1), got.data(), d.n, shared);
                    CHECK(got == want);
                    T* packed = shared + fd::team_gemm_shared_size<T>(d.n);
                    fd::team_pack_b<T>(0, 1, false, d.k, d.n, b.data(), d.n, packed);
                    want = got = c0;
                    fd::gemm_packed_b<T>(ta, d.m, d.n, d.k, T(1), strided, packed, T(0),
                                         want.data(), d.n);
                    fd::gemm_packed_b<T>(ta, d.m, d.n, d.k, T(1), in_place, packed, T(0),
                                         got.data(), d.n);
                    CHECK(got == want);
                    ++checked;
                }
            }
        }
    }
    REQUIRE(checked == static_cast<int>(fk::available_archs().size()) * 2 * 2 * 4);
}
