#pragma once
/// @file
/// A non-owning reference to a caller's dense array: what a leaf holds.

#include <array>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include <xtensor/xlayout.hpp>

#include "fusegrad/core/shape.hpp"

namespace fusegrad {

/// A contiguous row-major array whose rank is known at compile time and is 0, 1 or 2:
/// `xt::xtensor<T, N>` and `xt::xtensor_adaptor` over contiguous memory both model it.
template <class A>
concept dense_array = requires(const A& a) {
    typename A::value_type;
    { a.data() } -> std::convertible_to<const typename A::value_type*>;
    a.shape();
    requires A::rank <= 2;
    requires A::static_layout == xt::layout_type::row_major;
};

/// Where a leaf's values live: a pointer to the caller's memory and the shape it had when it
/// was bound. The caller keeps the memory alive and rebinds after resizing it.
template <class T, std::size_t Rank>
struct tensor_ref {
    static_assert(Rank <= 2, "fusegrad values are scalars, vectors or matrices (rank 0, 1 or 2)");
    const T* data = nullptr;
    std::array<std::size_t, Rank> extents{};

    template <dense_array A>
    static tensor_ref of(const A& a) {
        tensor_ref r;
        r.data = a.data();
        for (std::size_t i = 0; i < Rank; ++i) r.extents[i] = a.shape()[i];
        return r;
    }

    fusegrad::shape dims() const noexcept {
        if constexpr (Rank == 0) return shape::scalar();
        else if constexpr (Rank == 1) return shape::vector(extents[0]);
        else return shape::matrix(extents[0], extents[1]);
    }
};

}  // namespace fusegrad
