#pragma once
/// @file
/// Adam with bias correction and L2 weight decay (torch.optim.Adam's arithmetic, amsgrad off).

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "fusegrad/kernels/optim.hpp"
#include "fusegrad/nn/params.hpp"

namespace fusegrad::nn {

/// Adam settings: m = β1m + (1−β1)g, v = β2v + (1−β2)g², p -= lr · m̂ / (√v̂ + ε) with the
/// bias-corrected m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ); g includes λp.
struct adam_options {
    double lr = 1e-3;           ///< learning rate
    double beta1 = 0.9;         ///< decay of the first-moment average
    double beta2 = 0.999;       ///< decay of the second-moment average
    double eps = 1e-8;          ///< added to √v̂
    double weight_decay = 0.0;  ///< λ, added to the gradient as λp (not AdamW's decoupled form)
};

template <class Params>
class adam;

namespace detail {
/// The settings torch.optim.Adam refuses (a negative or NaN lr, eps or weight decay; a beta
/// outside [0, 1)), refused with value_error naming the setting and its value.
inline void check_adam_options(const adam_options& o) {
    check_setting("adam", "lr", o.lr, o.lr >= 0.0, ">= 0");
    check_setting("adam", "eps", o.eps, o.eps >= 0.0, ">= 0");
    check_setting("adam", "beta1", o.beta1, o.beta1 >= 0.0 && o.beta1 < 1.0, "in [0, 1)");
    check_setting("adam", "beta2", o.beta2, o.beta2 >= 0.0 && o.beta2 < 1.0, "in [0, 1)");
    check_setting("adam", "weight_decay", o.weight_decay, o.weight_decay >= 0.0, ">= 0");
}

/// One param's Adam update (step number t), the same for both kinds of param list: the
/// settings and size checks, the moments (allocated at the first step), the kernel.
template <class T>
void adam_step_one(const adam_options& o, std::int64_t t, std::string_view name, T* p,
                   std::size_t p_size, const T* g, std::size_t g_size, std::vector<T>& m,
                   std::vector<T>& v) {
    check_adam_options(o);  // options() may have been changed since the last step
    check_param_grad("adam", name, p_size, g_size);
    if (m.size() != p_size) {
        m.assign(p_size, T(0));
        v.assign(p_size, T(0));
    }
    kernels::adam_update<T>(p_size, static_cast<T>(o.lr), o.beta1, o.beta2, static_cast<T>(o.eps),
                            static_cast<T>(o.weight_decay), t, g, m.data(), v.data(), p);
}
}  // namespace detail

/// Adam over the arrays of `fg::nn::params<...>(...)`; `step(graph)` reads each param's
/// gradient from the graph by name and updates the array and its moments in place.
template <class Names, class... A>
class adam<param_list<Names, A...>> {
    using list = param_list<Names, A...>;
    using T = typename list::value_type;

  public:
    /// Throws value_error for settings torch.optim.Adam refuses.
    adam(list params, adam_options options) : params_(params), options_(options) {
        detail::check_adam_options(options_);
    }

    /// One update (step number t + 1) from the gradients of the graph's last backward pass.
    /// Throws shape_error if an array and its gradient differ in size.
    template <class Graph>
    void step(const Graph& graph) {
        detail::check_adam_options(options_);  // before the count moves
        ++t_;
        detail::for_each_param<Graph>(
            Names{}, [&]<fixed_string Name, std::size_t I>() { step_one<Name, I>(graph); });
    }

    /// How many steps have been taken.
    std::int64_t steps() const noexcept { return t_; }
    /// The settings; the learning rate may be changed between steps (a schedule).
    adam_options& options() noexcept { return options_; }
    const adam_options& options() const noexcept { return options_; }

  private:
    list params_;
    adam_options options_;
    std::int64_t t_ = 0;
    std::array<std::vector<T>, sizeof...(A)> m_{};
    std::array<std::vector<T>, sizeof...(A)> v_{};

    template <fixed_string Name, std::size_t I, class Graph>
    void step_one(const Graph& graph) {
        auto& p = *std::get<I>(params_.arrays);
        const auto& g = graph.template grad<Name>();
        detail::adam_step_one<T>(options_, t_, Name.view(), p.data(), p.size(), g.data(), g.size(),
                                 m_[I], v_[I]);
    }
};

template <class Names, class... A>
adam(param_list<Names, A...>, adam_options) -> adam<param_list<Names, A...>>;

/// Adam over every param of a graph (`fg::nn::params_of(graph)`): `step(graph)` updates each
/// param's array and its moments in place through `graph.param_array(name)`.
template <class Graph>
class adam<graph_params<Graph>> {
    using T = typename Graph::value_type;

  public:
    /// Throws value_error for settings torch.optim.Adam refuses.
    adam(graph_params<Graph>, adam_options options) : options_(options) {
        detail::check_adam_options(options_);
    }

    /// One update (step number t + 1) from the gradients of the graph's last backward pass.
    /// Throws shape_error if an array and its gradient differ in size, std::logic_error for a
    /// param built from a const array.
    void step(Graph& graph) {
        detail::check_adam_options(options_);  // before the count moves
        ++t_;
        detail::for_each_graph_param(
            graph, [&](std::size_t k, std::string_view name, auto p, auto g) {
                detail::adam_step_one<T>(options_, t_, name, p.data, p.size(), g.data, g.size(),
                                         m_[k], v_[k]);
            });
    }

    std::int64_t steps() const noexcept { return t_; }
    adam_options& options() noexcept { return options_; }
    const adam_options& options() const noexcept { return options_; }

  private:
    adam_options options_;
    std::int64_t t_ = 0;
    std::array<std::vector<T>, Graph::num_params> m_{};
    std::array<std::vector<T>, Graph::num_params> v_{};
};

template <class Graph>
adam(graph_params<Graph>, adam_options) -> adam<graph_params<Graph>>;

}  // namespace fusegrad::nn
