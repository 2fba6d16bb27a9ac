#pragma once
/// @file
/// A list of trainable arrays with the names of their graph params: what an optimizer updates.
///
/// `fg::nn::params<"W", "b">(W, b)` pairs each array with the param leaf of that name, so an
/// optimizer can read `graph.grad<"W">()` and write W in place. Leaves re-read their array's
/// buffer at every forward (docs/design.md), so in-place updates are always seen.

#include <charconv>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/fixed_string.hpp"
#include "fusegrad/core/node.hpp"
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
    static_assert(
        fusegrad::detail::all_true({std::is_same_v<typename A::value_type, value_type>...}),
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
    static_assert(fusegrad::detail::all_true({!std::is_const_v<A>...}),
                  "fg::nn::params: an optimizer writes the arrays, so they cannot be const");
    static_assert(fusegrad::detail::all_true({dense_array<A>...}),
                  "fg::nn::params: needs contiguous row-major arrays such as xt::xtensor");
    return param_list<name_list<Names...>, A...>{{&arrays...}};
}

/// Every param leaf of a graph of type `Graph`, in the graph's order (`Graph::param_names`):
/// what `fg::nn::params_of(graph)` returns. An optimizer built on it updates each param's
/// array in place through the graph (`graph.param_array(name)`), so a model names its params
/// once, in its expression. The arrays must have been given to `fg::param` as mutable lvalues.
template <class Graph>
struct graph_params {
    using value_type = typename Graph::value_type;
    static constexpr std::size_t size = Graph::num_params;
};

/// Every param of `graph`: `fg::nn::sgd opt(fg::nn::params_of(graph), {.lr = 0.1});` then
/// `opt.step(graph)` after each `graph.run()`.
template <class Graph>
graph_params<Graph> params_of(const Graph&) noexcept {
    static_assert(Graph::num_params > 0, "fg::nn::params_of: the graph has no fg::param leaf");
    return {};
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
    // Lists, not folds: clang stops a fold at 256 operands (a deep model has more params).
    constexpr bool known = fusegrad::detail::all_true({is_param_of<Graph, N>()...});
    if constexpr (!known) {
        static_assert(
            known,
            "fg::nn optimizer: a name given to fg::nn::params<...> is not a param leaf of "
            "this graph (the names are in the lines above): check its spelling, and "
            "that the leaf is fg::param, not fg::input");
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            [[maybe_unused]] const int done[] = {(f.template operator()<N, I>(), 0)..., 0};
        }
        (std::make_index_sequence<sizeof...(N)>{});
    }
}

/// Calls `f(k, name, p)` for every array of `list` in its order, `p` a std::span of the array
/// to update in place. (`graph` only names the params: a misspelt name is a static_assert.)
template <class Graph, class Names, class... A, class F>
void for_each_param_array(const param_list<Names, A...>& list, Graph&, F&& f) {
    using T = typename param_list<Names, A...>::value_type;
    for_each_param<std::remove_cv_t<Graph>>(Names{}, [&]<fixed_string Name, std::size_t I>() {
        auto& a = *std::get<I>(list.arrays);
        f(I, Name.view(), std::span<T>(a.data(), a.size()));
    });
}

/// Calls `f(k, name, p)` for every param of `graph` in its order, `p` a std::span of the
/// param's array (`graph.param_array`, which re-reads the container).
template <class Graph, class F>
void for_each_param_array(graph_params<Graph>, std::type_identity_t<Graph>& graph, F&& f) {
    for (std::size_t k = 0; k < Graph::num_params; ++k) {
        const std::string_view name = Graph::param_names[k];
        const auto p = graph.param_array(name);
        f(k, name, std::span<typename Graph::value_type>(p.data, p.size()));
    }
}

/// As for_each_param_array, with each param's gradient from the graph's last backward pass:
/// `f(k, name, p, g)`, g a std::span of const elements (`graph.grad<Name>()` for a param_list,
/// `graph.param_grad(name)` for every param of a graph).
template <class Graph, class Names, class... A, class F>
void for_each_param_and_grad(const param_list<Names, A...>& list, Graph& graph, F&& f) {
    using T = typename param_list<Names, A...>::value_type;
    for_each_param<std::remove_cv_t<Graph>>(Names{}, [&]<fixed_string Name, std::size_t I>() {
        auto& a = *std::get<I>(list.arrays);
        const auto& g = graph.template grad<Name>();
        f(I, Name.view(), std::span<T>(a.data(), a.size()), std::span<const T>(g.data(), g.size()));
    });
}

template <class Graph, class F>
void for_each_param_and_grad(graph_params<Graph>, std::type_identity_t<Graph>& graph, F&& f) {
    using T = typename Graph::value_type;
    for (std::size_t k = 0; k < Graph::num_params; ++k) {
        const std::string_view name = Graph::param_names[k];
        const auto g = graph.param_grad(name);
        const auto p = graph.param_array(name);
        f(k, name, std::span<T>(p.data, p.size()), std::span<const T>(g.data, g.size()));
    }
}

/// Share `t` of `n` of an array of `size` elements, [begin, end): nearly equal consecutive
/// shares whose bounds are multiples of 16 elements (a cache line of floats), so that two
/// threads writing neighbouring shares never write the same line. What an optimizer's
/// step_share(graph, t, n) updates and fg::nn::data_parallel's threads sum, so each thread
/// updates the elements it has just summed.
struct element_share {
    std::size_t begin, end;
};
inline element_share share_of(std::size_t size, std::size_t t, std::size_t n) noexcept {
    constexpr std::size_t line = 16;
    const std::size_t lines = (size + line - 1) / line;
    auto bound = [&](std::size_t k) {
        const std::size_t b = (lines / n * k + lines % n * k / n) * line;
        return b < size ? b : size;
    };
    return {bound(t), bound(t + 1)};
}

/// An optimizer setting torch.optim refuses: value_error "adam: beta2 must be in [0, 1), got 1".
inline void check_setting(const char* optimizer, const char* setting, double value, bool ok,
                          const char* rule) {
    if (ok) return;
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    throw value_error(std::string(optimizer) + ": " + setting + " must be " + rule + ", got " +
                      std::string(buf, r.ptr) + " (as torch.optim)");
}

// The size check every optimizer does before touching memory.
inline void check_param_grad(const char* optimizer, std::string_view name, std::size_t param_size,
                             std::size_t grad_size) {
    if (grad_size == 0 && param_size != 0)
        throw std::logic_error(std::string(optimizer) + ": param \"" + std::string(name) +
                               "\" has no gradient yet: run the graph (graph.run()) before "
                               "the optimizer's step");
    if (param_size != grad_size)
        throw shape_error(std::string(optimizer) + ": param \"" + std::string(name) + "\" has " +
                          std::to_string(param_size) + " elements but its gradient has " +
                          std::to_string(grad_size) +
                          " (was the array resized after the graph last ran?)");
}
/// Every param's size check against its gradient, before an optimizer writes any (what each
/// step_share does first, so that a refused step changes nothing on any thread).
template <class Params, class Graph>
void check_param_grads(const char* optimizer, const Params& params, Graph& graph) {
    for_each_param_and_grad(params, graph, [&](std::size_t, std::string_view name, auto p, auto g) {
        check_param_grad(optimizer, name, p.size(), g.size());
    });
}

/// The step() of an optimizer written as begin_step(graph), step_share(graph, t, n) and
/// end_step() (fg::nn::sgd, fg::nn::adam): the three on the calling thread, one share. The
/// gradients' sizes are checked once, before begin_step; the share is then updated by
/// update_share, which is step_share without that check (it ran twice per step before).
template <class Derived>
struct step_in_shares {
    /// One update from the gradients of the graph's last backward pass. Throws value_error for
    /// settings changed to ones torch refuses, shape_error if an array and its gradient differ
    /// in size, std::logic_error before the first backward or for a param built from a const
    /// array; then no array has changed and the step is not counted.
    template <class Graph>
    void step(Graph&& graph) {
        auto& self = static_cast<Derived&>(*this);
        self.check_grads(graph);  // before begin_step sizes any state
        self.begin_step(graph);
        self.update_share(graph, 0, 1);
        self.end_step();
    }
};

}  // namespace detail

}  // namespace fusegrad::nn
