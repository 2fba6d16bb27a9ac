#pragma once
// Test support for comparisons with libtorch: copying arrays into tensors, comparing results.

#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <xtensor/xtensor.hpp>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace fusegrad_test {

/// A torch tensor holding a copy of an xtensor array (float, double, int32 or int64).
template <class A>
torch::Tensor to_torch(const A& a, bool requires_grad = false) {
    std::vector<std::int64_t> sizes(a.shape().begin(), a.shape().end());
    using T = typename A::value_type;
    const auto dtype = std::is_same_v<T, float>          ? torch::kFloat32
                       : std::is_same_v<T, double>       ? torch::kFloat64
                       : std::is_same_v<T, std::int32_t> ? torch::kInt32
                                                         : torch::kInt64;
    auto t = torch::from_blob(const_cast<T*>(a.data()), sizes, dtype).clone();
    return requires_grad ? t.requires_grad_(true) : t;
}

/// Compares n values of ours with a torch tensor, elementwise, to tol · (1 + |theirs|); a NaN
/// of theirs must be a NaN of ours.
template <class T>
void check_close(const T* ours, std::size_t n, const torch::Tensor& theirs, double tol) {
    auto t = theirs.contiguous().to(torch::kFloat64);
    REQUIRE(static_cast<std::size_t>(t.numel()) == n);
    const double* p = t.data_ptr<double>();
    for (std::size_t i = 0; i < n; ++i) {
        INFO("element " << i);
        if (std::isnan(p[i])) {
            CHECK(std::isnan(double(ours[i])));
        } else {
            CHECK_THAT(double(ours[i]),
                       Catch::Matchers::WithinAbs(p[i], tol * (1 + std::abs(p[i]))));
        }
    }
}

/// The same for a whole array.
template <class A>
void check_close(const A& ours, const torch::Tensor& theirs, double tol) {
    check_close(ours.data(), ours.size(), theirs, tol);
}

/// Compares ours with a torch tensor elementwise to tol · (1 + |theirs|), where a NaN of theirs
/// must be a NaN of ours and an infinity the same infinity; `what` names the comparison.
template <class T>
inline void agree_elementwise(const T* ours, const torch::Tensor& theirs, double tol,
                              const char* what) {
    auto t = theirs.contiguous().to(torch::kFloat64);
    const double* p = t.data_ptr<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        const double a = double(ours[i]), b = p[i];
        INFO(what << " element " << i << ": ours " << a << ", libtorch " << b);
        // (CHECK itself is glog's once torch is included: CHECK_FALSE is Catch's.)
        if (std::isnan(b))
            CHECK_FALSE(!std::isnan(a));
        else if (std::isinf(b))
            CHECK_FALSE(a != b);
        else
            CHECK_FALSE(std::abs(a - b) > tol * (1 + std::abs(b)));
    }
}

/// An array of rank R and the given dimensions filled deterministically from `seed` with values
/// in [lo, hi] (a fixed stride through 101 levels).
template <class T, std::size_t R>
xt::xtensor<T, R> filled(std::array<std::size_t, R> dims, double lo, double hi, unsigned seed) {
    auto a = xt::xtensor<T, R>::from_shape(dims);
    for (std::size_t i = 0; i < a.size(); ++i)
        a.data()[i] = T(lo + (hi - lo) * double((i * 37 + seed * 11) % 101) / 100.0);
    return a;
}

/// An upstream gradient of n entries in [0.25, 1.5], for vector-Jacobian products.
template <class T>
std::vector<T> upstream(std::size_t n) {
    std::vector<T> u(n);
    for (std::size_t i = 0; i < n; ++i) u[i] = T(0.25 + double((i * 7) % 11) / 8.0);
    return u;
}

}  // namespace fusegrad_test
