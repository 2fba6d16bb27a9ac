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
}  // namespace detail

/// SGD over a list of params: `fg::nn::params<"W", "b">(W, b)` or every param of a graph,
/// `fg::nn::params_of(graph)` (as fg::nn::adam). `step(graph)` reads each param's gradient
/// from the graph and updates the array in place through the kernels.
template <class Params>
class sgd : public detail::step_in_shares<sgd<Params>> {
    using T = typename Params::value_type;

  public:
    /// Throws value_error for settings torch.optim.SGD refuses.
    sgd(Params params, sgd_options options) : params_(params), options_(options) {
        detail::check_sgd_options(options_);
    }

    // step(graph): one update (detail::step_in_shares).

    /// step(), cut in three for a caller that runs the update on several threads, as
    /// fg::nn::adam's: begin_step checks the settings and sizes the velocities (momentum only),
    /// step_share(graph, t, n) checks every gradient's size then updates share t of n of every
    /// param's elements, end_step does nothing (SGD counts no steps).
    template <class Graph>
    void begin_step(Graph& graph) {
        detail::check_sgd_options(options_);   // options() may have been changed
        if (options_.momentum == 0.0) return;  // no velocity is stored
        detail::for_each_param_array(params_, graph, [&](std::size_t k, auto, auto p) {
            if (velocity_[k].size() != p.size()) velocity_[k].assign(p.size(), T(0));
        });
    }
    template <class Graph>
    void step_share(Graph& graph, std::size_t t, std::size_t n) {
        check_grads(graph);
        update_share(graph, t, n);
    }
    /// step_share without the check: for a caller that has just run check_grads (step()).
    template <class Graph>
    void update_share(Graph& graph, std::size_t t, std::size_t n) {
        const bool momentum = options_.momentum != 0.0;
        detail::for_each_param_and_grad(params_, graph, [&](std::size_t k, auto, auto p, auto g) {
            const auto [lo, hi] = detail::share_of(p.size(), t, n);
            kernels::sgd_update<T>(
                hi - lo, static_cast<T>(options_.lr), static_cast<T>(options_.momentum),
                static_cast<T>(options_.weight_decay), options_.nesterov, g.data() + lo,
                momentum ? velocity_[k].data() + lo : nullptr, p.data() + lo);
        });
    }
    /// Every param's size against its gradient (shape_error), as step_share does first.
    template <class Graph>
    void check_grads(Graph& graph) {
        detail::check_param_grads("sgd", params_, graph);
    }
    void end_step() noexcept {}

    /// The settings; the learning rate may be changed between steps (a schedule).
    sgd_options& options() noexcept { return options_; }
    const sgd_options& options() const noexcept { return options_; }

  private:
    Params params_;
    sgd_options options_;
    std::array<std::vector<T>, Params::size> velocity_{};
};

template <class Names, class... A>
sgd(param_list<Names, A...>, sgd_options) -> sgd<param_list<Names, A...>>;
template <class Graph>
sgd(graph_params<Graph>, sgd_options) -> sgd<graph_params<Graph>>;

}  // namespace fusegrad::nn
