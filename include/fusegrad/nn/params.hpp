#pragma once
/// @file
/// A list of trainable arrays with the names of their graph params: what an optimizer updates.
///
/// `fg::nn::params<"W", "b">(W, b)` pairs each array with the param leaf of that name, so an
/// optimizer can read `graph.grad<"W">()` and write W in place. Leaves re-read their array's
/// buffer at every forward (docs/design.md), so in-place updates are always seen.

#include <cstddef>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/fixed_string.hpp"
#include "fusegrad/core/tensor_ref.hpp"

namespace fusegrad::nn {

/// The arrays `A...` (held by pointer) trained under the param names `Names...`.
template <class Names, class... A>
struct param_list;

/// A pack of leaf names.
template <fixed_string... Names>
struct name_list {
    static constexpr std::size_t size = sizeof...(Names);
};

template <fixed_string... Names, class... A>
struct param_list<name_list<Names...>, A...> {
    static_assert(sizeof...(Names) == sizeof...(A),
                  "fg::nn::params<names...>(arrays...): give one array per name");
    using value_type = std::common_type_t<typename A::value_type...>;
    static_assert((std::is_same_v<typename A::value_type, value_type> && ...),
                  "fg::nn::params: every array must have the same element type");
    static constexpr std::size_t size = sizeof...(A);

    std::tuple<A*...> arrays;
};

/// Pairs each array with the param leaf of the same position in `Names`. The arrays must be
/// mutable lvalues that outlive the optimizer.
template <fixed_string... Names, class... A>
auto params(A&... arrays) {
    static_assert(sizeof...(Names) == sizeof...(A),
                  "fg::nn::params<names...>(arrays...): give one array per name");
    static_assert((!std::is_const_v<A> && ...),
                  "fg::nn::params: an optimizer writes the arrays, so they cannot be const");
    static_assert((dense_array<A> && ...),
                  "fg::nn::params: needs contiguous row-major arrays such as xt::xtensor");
    return param_list<name_list<Names...>, A...>{{&arrays...}};
}

namespace detail {
/// Whether `Name` is a param leaf of `Graph`: an optimizer checks every name of its params<...>
/// with this first, so that a misspelt name is one static_assert that says so.
template <class Graph, fixed_string Name>
constexpr bool is_param_of() {
    for (auto n : Graph::param_names)
        if (n == Name.view()) return true;
    return false;
}

/// Calls `f.template operator()<Name, I>()` for every name of `names` and its position I,
/// after one check that every name is a param leaf of Graph: a misspelt name is one
/// static_assert that says so, and nothing else is instantiated.
template <class Graph, fixed_string... N, class F>
void for_each_param(name_list<N...>, F&& f) {
    constexpr bool known = (is_param_of<Graph, N>() && ...);
    if constexpr (!known) {
        static_assert(
            known,
            "fg::nn optimizer: a name given to fg::nn::params<...> is not a param leaf of "
            "this graph (the names are in the lines above): check its spelling, and "
            "that the leaf is fg::param, not fg::input");
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f.template operator()<N, I>(), ...);
        }
        (std::make_index_sequence<sizeof...(N)>{});
    }
}

// The size check every optimizer does before touching memory.
template <fixed_string Name>
void check_param_grad(const char* optimizer, std::size_t param_size, std::size_t grad_size) {
    if (grad_size == 0 && param_size != 0)
        throw std::logic_error(std::string(optimizer) + ": param \"" + std::string(Name.view()) +
                               "\" has no gradient yet: run the graph (graph.run()) before "
                               "the optimizer's step");
    if (param_size != grad_size)
        throw shape_error(std::string(optimizer) + ": param \"" + std::string(Name.view()) +
                          "\" has " + std::to_string(param_size) +
                          " elements but its gradient has " + std::to_string(grad_size) +
                          " (was the array resized after the graph last ran?)");
}
}  // namespace detail

}  // namespace fusegrad::nn
