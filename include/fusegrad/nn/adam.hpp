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
}  // namespace detail

/// Adam over a list of params: `fg::nn::params<"W", "b">(W, b)` (each array paired with the
/// graph's param of that name), or every param of a graph, `fg::nn::params_of(graph)` (each
/// array reached through `graph.param_array(name)`, so a model names its params once).
/// `step(graph)` reads each param's gradient from the graph and updates the array and its
/// moments in place.
template <class Params>
class adam : public detail::step_in_shares<adam<Params>> {
    using T = typename Params::value_type;

  public:
    /// Throws value_error for settings torch.optim.Adam refuses.
    adam(Params params, adam_options options) : params_(params), options_(options) {
        detail::check_adam_options(options_);
    }

    // step(graph): one update, step number steps() + 1 (detail::step_in_shares).

    /// step(), cut in three for a caller that runs the update on several threads
    /// (fg::nn::data_parallel's run(optimizer)). begin_step checks the settings and sizes the
    /// moments, on one thread. step_share(graph, t, n), on thread t of n, updates share t of
    /// every param's elements (detail::share_of) with step number steps() + 1; it first checks
    /// every gradient's size, so it throws on every thread or on none, before writing.
    /// end_step counts the step.
    template <class Graph>
    void begin_step(Graph& graph) {
        detail::check_adam_options(options_);  // options() may have been changed
        detail::for_each_param_array(params_, graph, [&](std::size_t k, auto, auto p) {
            if (m_[k].size() != p.size()) {  // the first step, or an array resized since
                m_[k].assign(p.size(), T(0));
                v_[k].assign(p.size(), T(0));
            }
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
        detail::for_each_param_and_grad(params_, graph, [&](std::size_t k, auto, auto p, auto g) {
            const auto [lo, hi] = detail::share_of(p.size(), t, n);
            kernels::adam_update<T>(hi - lo, static_cast<T>(options_.lr), options_.beta1,
                                    options_.beta2, static_cast<T>(options_.eps),
                                    static_cast<T>(options_.weight_decay), t_ + 1, g.data() + lo,
                                    m_[k].data() + lo, v_[k].data() + lo, p.data() + lo);
        });
    }
    /// Every param's size against its gradient (shape_error), as step_share does first.
    template <class Graph>
    void check_grads(Graph& graph) {
        detail::check_param_grads("adam", params_, graph);
    }
    void end_step() noexcept { ++t_; }

    /// How many steps have been taken.
    std::int64_t steps() const noexcept { return t_; }
    /// The settings; the learning rate may be changed between steps (a schedule).
    adam_options& options() noexcept { return options_; }
    const adam_options& options() const noexcept { return options_; }

  private:
    Params params_;
    adam_options options_;
    std::int64_t t_ = 0;
    std::array<std::vector<T>, Params::size> m_{};
    std::array<std::vector<T>, Params::size> v_{};
};

template <class Names, class... A>
adam(param_list<Names, A...>, adam_options) -> adam<param_list<Names, A...>>;
template <class Graph>
adam(graph_params<Graph>, adam_options) -> adam<graph_params<Graph>>;

}  // namespace fusegrad::nn
