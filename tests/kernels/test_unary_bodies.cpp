// Every unary op body (include/fusegrad/kernels/bodies/), found through the registry: on every
// instruction set this CPU and build have, the SIMD forward and backward (with beta 0 and 1)
// against the scalar reference of the same body, at lengths around the batch widths. A body is
// written once for both, so they differ only by the vector math (xsimd's exp, erf, ...) and by
// the compiler: this test caught g++ 12 -O3 dropping `beta · dx` in lanes of the AVX-512 loop.
// Every row body (fusegrad/kernels/rows.hpp) the same way, over m×n matrices whose rows end in
// a partial batch.

#include <catch2/catch.hpp>

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
bool close(T a, T b) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b)) return a == b;
    // xsimd 8.1's erfc (gelu) is within 4e-12 relative in double, 2e-6 in float: the bound.
    const double tol = sizeof(T) == 4 ? 2e-6 : 1e-12;
    return std::abs(double(a) - double(b)) <= tol * std::max(1.0, std::abs(double(b)));
}

template <class Body, class T>
void check_body(const std::string& name) {
    INFO("body " << name << (sizeof(T) == 4 ? " (float)" : " (double)"));
    const Body k{};
    for (const std::size_t n : {1u, 3u, 7u, 8u, 9u, 16u, 17u, 31u, 33u, 100u}) {
        INFO("n = " << n);
        std::vector<T> x(n), g(n), y(n), y_ref(n), dx(n), dx_ref(n);
        for (std::size_t i = 0; i < n; ++i) {
            x[i] = T(-6.0 + 12.0 * double((i * 37) % 101) / 100.0);  // [-6, 6], 0 included
            g[i] = T(0.5 + double(i % 5) * 0.25);
        }
        fk::unary_forward<Body, T>(k, n, x.data(), y.data());
        {
            const fk::arch_scope scalar(fk::arch::scalar);
            fk::unary_forward<Body, T>(k, n, x.data(), y_ref.data());
        }
        for (std::size_t i = 0; i < n; ++i) {
            INFO("forward at x = " << x[i] << ": " << y[i] << " vs " << y_ref[i]);
            CHECK(close(y[i], y_ref[i]));
        }
        for (const T beta : {T(0), T(1)}) {
            INFO("beta = " << beta);
            for (std::size_t i = 0; i < n; ++i) dx[i] = dx_ref[i] = T(100 + i);
            fk::unary_backward<Body, T>(k, n, x.data(), y_ref.data(), g.data(), beta, dx.data());
            {
                const fk::arch_scope scalar(fk::arch::scalar);
                fk::unary_backward<Body, T>(k, n, x.data(), y_ref.data(), g.data(), beta,
                                            dx_ref.data());
            }
            for (std::size_t i = 0; i < n; ++i) {
                INFO("backward at x = " << x[i] << ": " << dx[i] << " vs " << dx_ref[i]);
                CHECK(close(dx[i], dx_ref[i]));
            }
        }
    }
}

template <class Op>
concept unary_op = requires {
    typename Op::body;
};

template <class Op>
concept row_op = requires {
    typename Op::row_body;
};

/// Row sums may add in another order on each set: n ε relative, with room.
template <class T>
bool close_row(T a, T b, std::size_t n) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    if (std::isinf(a) || std::isinf(b)) return a == b;
    const double eps = sizeof(T) == 4 ? 6e-8 : 1.2e-16;
    return std::abs(double(a) - double(b)) <=
           8.0 * double(n + 4) * eps * std::max(1.0, std::abs(double(b)));
}

template <class Body, class T>
void check_row_body(const std::string& name) {
    INFO("row body " << name << (sizeof(T) == 4 ? " (float)" : " (double)"));
    const Body k{};
    const std::size_t m = 3;
    for (const std::size_t n : {1u, 7u, 8u, 9u, 17u, 31u, 33u, 100u}) {
        INFO("n = " << n);
        const std::size_t ny = Body::result == fk::row_result::value ? 1 : n;
        std::vector<T> x(m * n), g(m * ny), y(m * ny), y_ref(m * ny), dx(m * n), dx_ref(m * n);
        for (std::size_t i = 0; i < m * n; ++i)
            x[i] = T(-6.0 + 12.0 * double((i * 37) % 101) / 100.0);
        for (std::size_t i = 0; i < m * ny; ++i) g[i] = T(0.5 + double(i % 5) * 0.25);
        fk::row_forward<Body, T>(k, m, n, x.data(), y.data());
        {
            const fk::arch_scope scalar(fk::arch::scalar);
            fk::row_forward<Body, T>(k, m, n, x.data(), y_ref.data());
        }
        for (std::size_t i = 0; i < m * ny; ++i) {
            INFO("forward, output " << i << ": " << y[i] << " vs " << y_ref[i]);
            CHECK(close_row(y[i], y_ref[i], n));
        }
        for (const T beta : {T(0), T(1)}) {
            INFO("beta = " << beta);
            for (std::size_t i = 0; i < m * n; ++i) dx[i] = dx_ref[i] = T(100 + i);
            fk::row_backward<Body, T>(k, m, n, x.data(), y_ref.data(), g.data(), beta, dx.data());
            {
                const fk::arch_scope scalar(fk::arch::scalar);
                fk::row_backward<Body, T>(k, m, n, x.data(), y_ref.data(), g.data(), beta,
                                          dx_ref.data());
            }
            for (std::size_t i = 0; i < m * n; ++i) {
                INFO("backward, entry " << i << ": " << dx[i] << " vs " << dx_ref[i]);
                CHECK(close_row(dx[i], dx_ref[i], n));
            }
        }
    }
}

template <class... Ops>
std::size_t check_all_rows(fg::detail::type_list<Ops...>) {
    std::size_t count = 0;
    const auto one = [&]<class Op>() {
        if constexpr (row_op<Op>) {
            check_row_body<typename Op::row_body, float>(std::string(Op::name));
            check_row_body<typename Op::row_body, double>(std::string(Op::name));
            ++count;
        }
    };
    (one.template operator()<Ops>(), ...);
    return count;
}

/// Where the scalar reference gives a zero, the same zero, sign included: what IEEE arithmetic
/// and PyTorch give. (xsimd 8.1 negates an AVX-512 batch as 0 − x, which made −0 a +0 there
/// only: pow(−1e20f, −3), the gradient of sub and div at a zero; the bodies negate with
/// generic::neg.) Special operands, with upstream gradients of both signs and both zeros.
template <class Body, class T>
void check_zero_signs(const Body& k, const std::string& name) {
    INFO("body " << name << (sizeof(T) == 4 ? " (float)" : " (double)"));
    const T inf = std::numeric_limits<T>::infinity(), big = T(sizeof(T) == 4 ? 1e20 : 1e200),
            tiny = T(sizeof(T) == 4 ? 1e-20 : 1e-200);
    const T xs[] = {T(0),    -T(0),   T(1), T(-1), T(0.5),
                    T(-0.5), big,     -big, tiny,  -tiny,
                    T(700),  T(-700), inf,  -inf,  std::numeric_limits<T>::quiet_NaN()};
    const T gs[] = {T(1), T(-1), T(0), -T(0)};
    std::vector<T> x, g;
    for (const T xv : xs)
        for (const T gv : gs) {
            x.push_back(xv);
            g.push_back(gv);
        }
    const std::size_t n = x.size();
    std::vector<T> y(n), y_ref(n), dx(n), dx_ref(n);
    fk::unary_forward<Body, T>(k, n, x.data(), y.data());
    fk::unary_backward<Body, T>(k, n, x.data(), y.data(), g.data(), T(0), dx.data());
    {
        const fk::arch_scope scalar(fk::arch::scalar);
        fk::unary_forward<Body, T>(k, n, x.data(), y_ref.data());
        fk::unary_backward<Body, T>(k, n, x.data(), y_ref.data(), g.data(), T(0), dx_ref.data());
    }
    for (std::size_t i = 0; i < n; ++i) {
        INFO("x = " << x[i] << ", g = " << (std::signbit(g[i]) ? "-" : "+") << std::abs(g[i])
                    << ": forward " << y[i] << " vs " << y_ref[i] << ", backward " << dx[i]
                    << " vs " << dx_ref[i]);
        if (y_ref[i] == T(0)) CHECK((y[i] == T(0) && std::signbit(y[i]) == std::signbit(y_ref[i])));
        if (dx_ref[i] == T(0))
            CHECK((dx[i] == T(0) && std::signbit(dx[i]) == std::signbit(dx_ref[i])));
    }
}

/// check(body, name) on each unary op's body, in float and double; how many ops there were.
template <class... Ops, class Check>
std::size_t each_unary_body(fg::detail::type_list<Ops...>, Check check) {
    std::size_t count = 0;
    const auto one = [&]<class Op>() {
        if constexpr (unary_op<Op>) {
            check.template operator()<typename Op::body, float>(std::string(Op::name));
            check.template operator()<typename Op::body, double>(std::string(Op::name));
            ++count;
        }
    };
    (one.template operator()<Ops>(), ...);
    return count;
}

}  // namespace

TEST_CASE("every unary body: SIMD against its scalar reference on every instruction set",
          "[simd][unary]") {
    FUSEGRAD_EACH_ARCH();
    CHECK(each_unary_body(fg::op::all_ops{}, []<class Body, class T>(const std::string& name) {
              check_body<Body, T>(name);
          }) >= 10);
}

TEST_CASE("every row body: SIMD against its scalar reference on every instruction set",
          "[simd][rows]") {
    FUSEGRAD_EACH_ARCH();
    CHECK(check_all_rows(fg::op::all_ops{}) >= 2);  // logsumexp, max_rows
}

TEST_CASE("every unary body keeps the scalar reference's signed zeros on every instruction set",
          "[simd][unary]") {
    FUSEGRAD_EACH_ARCH();
    CHECK(each_unary_body(fg::op::all_ops{}, []<class Body, class T>(const std::string& name) {
              check_zero_signs<Body, T>(Body{}, name);
          }) >= 10);
    // pow at odd exponents, where |x|^p underflows to a zero that keeps x's sign (PyTorch: -0)
    for (const double p : {-3.0, -5.0, 5.0, 7.0}) {
        INFO("pow, p = " << p);
        fk::body::pow k{};
        k.exponent = p;
        check_zero_signs<fk::body::pow, float>(k, "pow");
        check_zero_signs<fk::body::pow, double>(k, "pow");
    }
}
