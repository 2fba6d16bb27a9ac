// Every binary op body (include/fusegrad/kernels/bodies/), found through the registry: on every
// instruction set this CPU and build have, the SIMD forward and backward against the scalar
// reference of the same body, for every pair of operand layouts (full, scalar, row, column),
// beta 0 and 1, and row lengths around the batch widths. The broadcast gradients are sums whose
// order differs between lane counts, hence a tolerance; the full ones are the same arithmetic.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <fusegrad/ops/registry.hpp>

#include "each_arch.hpp"

namespace fg = fusegrad;
namespace fk = fusegrad::kernels;

namespace {

template <class T>
bool close(T a, T b, double scale) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b)) return a == b;
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
    return std::abs(double(a) - double(b)) <= tol * std::max({1.0, scale, std::abs(double(b))});
}

std::size_t count_of(fk::layout l, std::size_t rows, std::size_t cols) {
    switch (l) {
        case fk::layout::full:
            return rows * cols;
        case fk::layout::scalar:
            return 1;
        case fk::layout::row:
            return cols;
        case fk::layout::col:
            return rows;
    }
    return 0;
}

const char* name_of(fk::layout l) {
    static const char* names[] = {"full", "scalar", "row", "col"};
    return names[static_cast<int>(l)];
}

template <class Body, class T>
void check_body(const std::string& name) {
    INFO("body " << name << (sizeof(T) == 4 ? " (float)" : " (double)"));
    const Body k{};
    const fk::layout layouts[] = {fk::layout::full, fk::layout::scalar, fk::layout::row,
                                  fk::layout::col};
    for (const fk::layout la : layouts)
        for (const fk::layout lb : layouts)
            for (const std::size_t rows : {1u, 3u})
                for (const std::size_t cols : {1u, 7u, 17u, 33u}) {
                    INFO("a " << name_of(la) << ", b " << name_of(lb) << ", " << rows << "x"
                              << cols);
                    const std::size_t n = rows * cols, na = count_of(la, rows, cols),
                                      nb = count_of(lb, rows, cols);
                    std::vector<T> a(na), b(nb), g(n), y(n), y_ref(n);
                    for (std::size_t i = 0; i < na; ++i)
                        a[i] = T(0.05 + double((i * 37) % 41) /
                                            45.0);  // in every body's domain (BCE: (0, 1))
                    for (std::size_t i = 0; i < nb; ++i)
                        b[i] = T(0.5 + double((i * 13) % 17) / 8.0);
                    for (std::size_t i = 0; i < n; ++i) g[i] = T(0.5 + double(i % 5) * 0.25);
                    fk::binary_forward<Body, T>(k, rows, cols, a.data(), la, b.data(), lb,
                                                y.data());
                    {
                        const fk::arch_scope scalar(fk::arch::scalar);
                        fk::binary_forward<Body, T>(k, rows, cols, a.data(), la, b.data(), lb,
                                                    y_ref.data());
                    }
                    for (std::size_t i = 0; i < n; ++i)
                        CHECK(close(y[i], y_ref[i], std::abs(double(y_ref[i]))));
                    for (const T beta : {T(0), T(1)}) {
                        INFO("beta = " << beta);
                        std::vector<T> da(na), db(nb), da_ref(na), db_ref(nb);
                        for (std::size_t i = 0; i < na; ++i) da[i] = da_ref[i] = T(100 + i);
                        for (std::size_t i = 0; i < nb; ++i) db[i] = db_ref[i] = T(-50 + double(i));
                        fk::binary_backward<Body, T>(k, rows, cols, a.data(), la, b.data(), lb,
                                                     y_ref.data(), g.data(), da.data(), beta,
                                                     db.data(), beta);
                        {
                            const fk::arch_scope scalar(fk::arch::scalar);
                            fk::binary_backward<Body, T>(k, rows, cols, a.data(), la, b.data(), lb,
                                                         y_ref.data(), g.data(), da_ref.data(),
                                                         beta, db_ref.data(), beta);
                        }
                        const double scale = 8.0 * double(n);  // |sums| over up to n terms
                        for (std::size_t i = 0; i < na; ++i) {
                            INFO("da[" << i << "] = " << da[i] << ", scalar " << da_ref[i]);
                            CHECK(close(da[i], da_ref[i], scale));
                        }
                        for (std::size_t i = 0; i < nb; ++i) {
                            INFO("db[" << i << "] = " << db[i] << ", scalar " << db_ref[i]);
                            CHECK(close(db[i], db_ref[i], scale));
                        }
                    }
                }
}

template <class Op>
concept binary_op = requires {
    typename Op::binary_body;
};

/// Where the scalar reference gives a zero, the same zero, sign included (see
/// test_unary_bodies.cpp, "signed zeros"): full layouts, special operands, upstream gradients of
/// both signs and both zeros.
template <class Body, class T>
void check_zero_signs(const std::string& name) {
    INFO("body " << name << (sizeof(T) == 4 ? " (float)" : " (double)"));
    const Body k{};
    const T inf = std::numeric_limits<T>::infinity();
    const T vs[] = {T(0), -T(0), T(1), T(-1), T(0.5), T(-3), inf, -inf};
    const T gs[] = {T(1), T(-1), T(0), -T(0)};
    std::vector<T> a, b, g;
    for (const T av : vs)
        for (const T bv : vs)
            for (const T gv : gs) {
                a.push_back(av);
                b.push_back(bv);
                g.push_back(gv);
            }
    const std::size_t n = a.size();
    const fk::layout full = fk::layout::full;
    std::vector<T> y(n), y_ref(n), da(n), db(n), da_ref(n), db_ref(n);
    fk::binary_forward<Body, T>(k, 1, n, a.data(), full, b.data(), full, y.data());
    fk::binary_backward<Body, T>(k, 1, n, a.data(), full, b.data(), full, y.data(), g.data(),
                                 da.data(), T(0), db.data(), T(0));
    {
        const fk::arch_scope scalar(fk::arch::scalar);
        fk::binary_forward<Body, T>(k, 1, n, a.data(), full, b.data(), full, y_ref.data());
        fk::binary_backward<Body, T>(k, 1, n, a.data(), full, b.data(), full, y_ref.data(),
                                     g.data(), da_ref.data(), T(0), db_ref.data(), T(0));
    }
    const auto same_zero = [](T v, T ref) {
        return ref != T(0) || (v == T(0) && std::signbit(v) == std::signbit(ref));
    };
    for (std::size_t i = 0; i < n; ++i) {
        INFO("a = " << a[i] << ", b = " << b[i] << ", g = " << (std::signbit(g[i]) ? "-" : "+")
                    << std::abs(g[i]) << ": y " << y[i] << " vs " << y_ref[i] << ", da " << da[i]
                    << " vs " << da_ref[i] << ", db " << db[i] << " vs " << db_ref[i]);
        CHECK(same_zero(y[i], y_ref[i]));
        CHECK(same_zero(da[i], da_ref[i]));
        CHECK(same_zero(db[i], db_ref[i]));
    }
}

/// check(body, name) on each binary op's body, in float and double; how many ops there were.
template <class... Ops, class Check>
std::size_t each_binary_body(fg::detail::type_list<Ops...>, Check check) {
    std::size_t count = 0;
    const auto one = [&]<class Op>() {
        if constexpr (binary_op<Op>) {
            check.template operator()<typename Op::binary_body, float>(std::string(Op::name));
            check.template operator()<typename Op::binary_body, double>(std::string(Op::name));
            ++count;
        }
    };
    (one.template operator()<Ops>(), ...);
    return count;
}

}  // namespace

TEST_CASE("every binary body: SIMD against its scalar reference on every instruction set",
          "[simd][binary]") {
    FUSEGRAD_EACH_ARCH();
    CHECK(each_binary_body(fg::op::all_ops{}, []<class Body, class T>(const std::string& name) {
              check_body<Body, T>(name);
          }) >= 2);
}

TEST_CASE("every binary body keeps the scalar reference's signed zeros on every instruction set",
          "[simd][binary]") {
    FUSEGRAD_EACH_ARCH();
    CHECK(each_binary_body(fg::op::all_ops{}, []<class Body, class T>(const std::string& name) {
              check_zero_signs<Body, T>(name);
          }) >= 2);
}

TEST_CASE("binary kernels: broadcast gradients are the sums PyTorch takes", "[binary]") {
    // mul over a 2x3 a and each layout of b, by hand: da = g·b (full), db = the sum of g·a over
    // what b was broadcast along.
    const fk::body::mul k{};
    const double a[] = {1, 2, 3, 4, 5, 6}, g[] = {1, 1, 2, 2, 3, 3};
    const double col[] = {10, 20}, row[] = {1, 2, 3}, s[] = {2};
    double y[6], da[6], dcol[2], drow[3], ds[1];
    fk::binary_forward(k, 2, 3, a, fk::layout::full, col, fk::layout::col, y);
    CHECK(y[0] == 10);
    CHECK(y[5] == 120);
    fk::binary_backward(k, 2, 3, a, fk::layout::full, col, fk::layout::col, y, g, da, 0.0, dcol,
                        0.0);
    CHECK(da[0] == 10);
    CHECK(da[3] == 40);
    CHECK(dcol[0] == 1 + 2 + 2 * 3);  // Σ_j g[0, j] a[0, j]
    CHECK(dcol[1] == 8 + 15 + 18);
    fk::binary_backward<fk::body::mul, double>(k, 2, 3, a, fk::layout::full, row, fk::layout::row,
                                               y, g, nullptr, 0.0, drow, 0.0);
    CHECK(drow[0] == 1 * 1 + 2 * 4);  // Σ_i g[i, 0] a[i, 0]
    CHECK(drow[2] == 2 * 3 + 3 * 6);
    ds[0] = 1;
    fk::binary_backward<fk::body::mul, double>(k, 2, 3, a, fk::layout::full, s, fk::layout::scalar,
                                               y, g, nullptr, 0.0, ds, 1.0);
    CHECK(ds[0] == 1 + (1 + 2 + 6 + 8 + 15 + 18));  // beta 1 adds to what was there
}

TEST_CASE("binary kernels: with no rows, a row or scalar operand's gradient is an empty sum",
          "[binary]") {
    // a of 0×3 times a row b of 3 (PyTorch: db = 0): the row loop never runs, and the gradient
    // used to keep whatever its buffer held.
    FUSEGRAD_EACH_ARCH();
    const fk::body::mul k{};
    const double row[] = {1, 2, 3}, s[] = {2};
    for (const double beta : {0.0, 0.5}) {
        double drow[3] = {7, 8, 9}, ds[1] = {4};
        fk::binary_backward<fk::body::mul, double>(k, 0, 3, nullptr, fk::layout::full, row,
                                                   fk::layout::row, nullptr, nullptr, nullptr, 0.0,
                                                   drow, beta);
        CHECK(drow[0] == beta * 7);
        CHECK(drow[2] == beta * 9);
        fk::binary_backward<fk::body::mul, double>(k, 0, 3, row, fk::layout::row, nullptr,
                                                   fk::layout::full, nullptr, nullptr, drow, beta,
                                                   nullptr, 0.0);
        CHECK(drow[1] == beta * beta * 8);
        fk::binary_backward<fk::body::mul, double>(k, 0, 3, nullptr, fk::layout::full, s,
                                                   fk::layout::scalar, nullptr, nullptr, nullptr,
                                                   0.0, ds, beta);
        CHECK(ds[0] == beta * 4);
    }
}
