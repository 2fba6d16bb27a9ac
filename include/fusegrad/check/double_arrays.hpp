#pragma once
/// @file
/// `double_arrays`: the double copies of an expression's leaves, by name, that a gradient
/// check perturbs instead of the caller's arrays (owned by `double_copy<E>`, to_double.hpp).
/// Compiled in the library (src/check/double_arrays.cpp).

#include <cstddef>
#include <deque>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "fusegrad/core/node.hpp"
#include "fusegrad/core/shape.hpp"
#include "fusegrad/core/tensor_ref.hpp"

namespace fusegrad::check {

/// The double copies of an expression's leaves, by name: what `double_copy<E>` owns. Nothing
/// here depends on the expression, only on a leaf's element type and rank, which are run-time
/// values: the copying is compiled once, in the library (src/check/double_arrays.cpp), not once
/// per model (the gradient checker's cost was quadratic in the model's size when it was
/// instantiated per leaf under a name that spells the whole model, and each model still compiled
/// it in full when it was instantiated per element type and rank).
class double_arrays {
  public:
    double_arrays();
    ~double_arrays();
    double_arrays(const double_arrays&) = delete;
    double_arrays& operator=(const double_arrays&) = delete;

    /// The double array of rank R behind the leaf named `name`. Throws binding_error for an
    /// unknown name.
    template <std::size_t R>
    xt::xtensor<double, R>& array(std::string_view name) {
        return *static_cast<xt::xtensor<double, R>*>(find_array(name, R));
    }

    /// The double copy of named leaf `name`: its data and shape (a vector is 1×n, a scalar
    /// 1×1). Throws binding_error for an unknown name.
    std::pair<double*, shape> view_of(std::string_view name);

    /// What converting a leaf needs of its type: its element type and rank.
    struct leaf_type {
        enum element { other, f32, f64 } elem = other;
        std::size_t rank = 0;
    };
    template <class L>
    static constexpr leaf_type leaf_type_of() noexcept {
        using T = typename L::value_type;
        return {std::is_same_v<T, float>    ? leaf_type::f32
                : std::is_same_v<T, double> ? leaf_type::f64
                                            : leaf_type::other,
                L::rank};
    }

    /// A named leaf's binding in the double expression: the caller's array for class indices
    /// (`other`), else the double copy of the array under that name, made on first use. Throws
    /// binding_error when the name was met before bound to another array (one name is one
    /// variable).
    fusegrad::detail::named_binding convert_named(leaf_type t,
                                                  const fusegrad::detail::named_binding& b);
    /// An unnamed constant's binding in the double expression: a fresh double copy of it.
    array_binding convert_constant(leaf_type t, const array_binding& b);

  private:
    /// The array behind `name` at rank `rank` (an xt::xtensor<double, rank>).
    void* find_array(std::string_view name, std::size_t rank);

    struct named_slot {
        std::string_view name;
        const void* source;  // the caller's container
        void* array;         // our double copy
        std::size_t rank;    // its rank
    };
    std::deque<xt::xtensor<double, 0>> s0_;  // deques: elements never move
    std::deque<xt::xtensor<double, 1>> s1_;
    std::deque<xt::xtensor<double, 2>> s2_;
    std::vector<named_slot> named_;
};

}  // namespace fusegrad::check
