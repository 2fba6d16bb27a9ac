#pragma once
/// @file
/// The leaf builders: `fg::input<"x">(X)`, `fg::param<"W">(W)`, `fg::labels<"y">(y)`,
/// `fg::constant(C)`. A leaf refers to the caller's array, which must outlive the graph.

#include <concepts>
#include <cstdint>
#include <type_traits>

#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/tensor_ref.hpp"

namespace fusegrad {

namespace detail {
template <class A>
using array_value_t = typename std::remove_cvref_t<A>::value_type;

template <class A>
constexpr void check_leaf_array() {
    static_assert(std::is_lvalue_reference_v<A>,
                  "a fusegrad leaf refers to the caller's array: pass a named array that outlives "
                  "the graph, not a temporary");
    static_assert(dense_array<std::remove_cvref_t<A>>,
                  "a fusegrad leaf needs a contiguous row-major array of rank 0, 1 or 2, such as "
                  "xt::xtensor<float, 2>");
}
}  // namespace detail

/// A named input: data the graph reads but does not differentiate.
template <fixed_string Name, class A>
auto input(A&& array) {
    detail::check_leaf_array<A>();
    using T = detail::array_value_t<A>;
    static_assert(std::floating_point<T>,
                  "fg::input holds floating-point values; use fg::labels for class indices");
    constexpr std::size_t R = std::remove_cvref_t<A>::rank;
    return leaf<Name, input_kind, T, R>{tensor_ref<T, R>::of(array)};
}

/// A named parameter: a leaf whose gradient the graph computes (`graph.grad<"W">()`).
template <fixed_string Name, class A>
auto param(A&& array) {
    detail::check_leaf_array<A>();
    using T = detail::array_value_t<A>;
    static_assert(std::floating_point<T>,
                  "fg::param holds floating-point values (float or double)");
    constexpr std::size_t R = std::remove_cvref_t<A>::rank;
    return leaf<Name, param_kind, T, R>{tensor_ref<T, R>::of(array)};
}

/// Named targets: class indices as an integer vector, or probability (or one-hot) targets as
/// a floating-point matrix with one row per sample.
template <fixed_string Name, class A>
auto labels(A&& array) {
    detail::check_leaf_array<A>();
    using T = detail::array_value_t<A>;
    constexpr std::size_t R = std::remove_cvref_t<A>::rank;
    static_assert((std::integral<T> && R == 1) || (std::floating_point<T> && R == 2),
                  "fg::labels takes class indices as an integer vector, or probability / one-hot "
                  "targets as a floating-point matrix");
    static_assert(
        !std::integral<T> || std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>,
        "fg::labels: class indices are std::int32_t or std::int64_t (the index types "
        "the kernels are built for); convert other integer labels first");
    return leaf<Name, labels_kind, T, R>{tensor_ref<T, R>::of(array)};
}

/// An unnamed constant array. Being unnamed it cannot be rebound; each use is its own value.
template <class A>
auto constant(A&& array) {
    detail::check_leaf_array<A>();
    using T = detail::array_value_t<A>;
    static_assert(std::floating_point<T>, "fg::constant holds floating-point values");
    constexpr std::size_t R = std::remove_cvref_t<A>::rank;
    return constant_leaf<T, R>{tensor_ref<T, R>::of(array)};
}

}  // namespace fusegrad
