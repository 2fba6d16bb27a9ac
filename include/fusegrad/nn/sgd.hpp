#pragma once
/// @file
/// Stochastic gradient descent with momentum and weight decay (torch.optim.SGD's arithmetic).

#include <array>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "fusegrad/kernels/optim.hpp"
#include "fusegrad/nn/params.hpp"

namespace fusegrad::nn {

/// SGD settings. With momentum μ and weight decay λ: g' = g + λp, v = μv + g',
/// p -= lr · (nesterov ? g' + μv : v).
struct sgd_options {
    double lr = 0.01;           ///< learning rate
    double momentum = 0.0;      ///< μ; 0 turns momentum off (no velocity is stored)
    double weight_decay = 0.0;  ///< λ, an L2 penalty λ/2 · ‖p‖² added to the loss
    bool nesterov = false;      ///< Nesterov momentum
};

template <class Params>
class sgd;

namespace detail {
/// The settings torch.optim.SGD refuses (a negative lr, momentum or weight decay; Nesterov
/// without momentum), and NaN ones, which it lets through: value_error naming the setting.
inline void check_sgd_options(const sgd_options& o) {
    check_setting("sgd", "lr", o.lr, o.lr >= 0.0, ">= 0");
    check_setting("sgd", "momentum", o.momentum, o.momentum >= 0.0, ">= 0");
    check_setting("sgd", "weight_decay", o.weight_decay, o.weight_decay >= 0.0, ">= 0");
    if (o.nesterov && !(o.momentum > 0.0))
        throw value_error("sgd: nesterov momentum requires a momentum > 0 (as torch.optim.SGD)");
}

/// One param's SGD update, the same for both kinds of param list: the settings and size
/// checks, the velocity (allocated at the first step with momentum), the kernel.
template <class T>
void sgd_step_one(const sgd_options& o, std::string_view name, T* p, std::size_t p_size, const T* g,
                  std::size_t g_size, std::vector<T>& velocity) {
    check_sgd_options(o);  // options() may have been changed since the last step
    check_param_grad("sgd", name, p_size, g_size);
    T* v = nullptr;
    if (o.momentum != 0.0) {
        if (velocity.size() != p_size) velocity.assign(p_size, T(0));
        v = velocity.data();
    }
    kernels::sgd_update<T>(p_size, static_cast<T>(o.lr), static_cast<T>(o.momentum),
                           static_cast<T>(o.weight_decay), o.nesterov, g, v, p);
}
}  // namespace detail

/// SGD over the arrays of `fg::nn::params<...>(...)`; `step(graph)` reads each param's
/// gradient from the graph by name and updates the array in place through the kernels.
template <class Names, class... A>
class sgd<param_list<Names, A...>> {
    using list = param_list<Names, A...>;
    using T = typename list::value_type;

  public:
    /// Throws value_error for settings torch.optim.SGD refuses.
    sgd(list params, sgd_options options) : params_(params), options_(options) {
        detail::check_sgd_options(options_);
    }

    /// One update from the gradients of the graph's last backward pass. Throws shape_error if
    /// an array and its gradient differ in size.
    template <class Graph>
    void step(const Graph& graph) {
        detail::for_each_param<Graph>(
            Names{}, [&]<fixed_string Name, std::size_t I>() { step_one<Name, I>(graph); });
    }

    /// The settings; the learning rate may be changed between steps (a schedule).
    sgd_options& options() noexcept { return options_; }
    const sgd_options& options() const noexcept { return options_; }

  private:
    list params_;
    sgd_options options_;
    std::array<std::vector<T>, sizeof...(A)> velocity_{};

    template <fixed_string Name, std::size_t I, class Graph>
    void step_one(const Graph& graph) {
        auto& p = *std::get<I>(params_.arrays);
        const auto& g = graph.template grad<Name>();
        detail::sgd_step_one<T>(options_, Name.view(), p.data(), p.size(), g.data(), g.size(),
                                velocity_[I]);
    }
};

template <class Names, class... A>
sgd(param_list<Names, A...>, sgd_options) -> sgd<param_list<Names, A...>>;

/// SGD over every param of a graph (`fg::nn::params_of(graph)`): `step(graph)` updates each
/// param's array in place through `graph.param_array(name)`.
template <class Graph>
class sgd<graph_params<Graph>> {
    using T = typename Graph::value_type;

  public:
    /// Throws value_error for settings torch.optim.SGD refuses.
    sgd(graph_params<Graph>, sgd_options options) : options_(options) {
        detail::check_sgd_options(options_);
    }

    /// One update from the gradients of the graph's last backward pass. Throws shape_error if
    /// an array and its gradient differ in size, std::logic_error for a param built from a
    /// const array.
    void step(Graph& graph) {
        detail::for_each_graph_param(graph,
                                     [&](std::size_t k, std::string_view name, auto p, auto g) {
                                         detail::sgd_step_one<T>(options_, name, p.data, p.size(),
                                                                 g.data, g.size(), velocity_[k]);
                                     });
    }

    sgd_options& options() noexcept { return options_; }
    const sgd_options& options() const noexcept { return options_; }

  private:
    sgd_options options_;
    std::array<std::vector<T>, Graph::num_params> velocity_{};
};

template <class Graph>
sgd(graph_params<Graph>, sgd_options) -> sgd<graph_params<Graph>>;

}  // namespace fusegrad::nn
