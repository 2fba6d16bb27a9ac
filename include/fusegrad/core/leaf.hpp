#pragma once
/// @file
/// Leaves: the named variables of a graph (inputs, params, labels) and unnamed constants.

#include <cstddef>
#include <type_traits>

#include "fusegrad/core/fixed_string.hpp"
#include "fusegrad/core/tensor_ref.hpp"

namespace fusegrad {

/// Leaf kinds. Only a `param` gets a gradient.
struct input_kind {};
struct param_kind {};
struct labels_kind {};

/// A named leaf. The name is part of the type, so two leaves with one name are one variable:
/// it is evaluated once and its gradient accumulates over every use.
template <fixed_string Name, class Kind, class T, std::size_t Rank>
struct leaf {
    using kind = Kind;
    using value_type = T;
    static constexpr auto name = Name;
    static constexpr std::size_t rank = Rank;

    tensor_ref<T, Rank> ref;
};

/// An unnamed leaf holding fixed values. It has no name to share, so every occurrence is its
/// own value (it takes no part in common-subexpression elimination).
template <class T, std::size_t Rank>
struct constant_leaf {
    using kind = input_kind;
    using value_type = T;
    static constexpr std::size_t rank = Rank;

    tensor_ref<T, Rank> ref;
};

}  // namespace fusegrad
