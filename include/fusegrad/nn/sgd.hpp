#pragma once
/// @file
/// Stochastic gradient descent with momentum and weight decay (torch.optim.SGD's arithmetic).

#include <array>
#include <cstddef>
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

/// SGD over the arrays of `fg::nn::params<...>(...)`; `step(graph)` reads each param's
/// gradient from the graph by name and updates the array in place through the kernels.
template <class Names, class... A>
class sgd<param_list<Names, A...>> {
    using list = param_list<Names, A...>;
    using T = typename list::value_type;

  public:
    sgd(list params, sgd_options options) : params_(params), options_(options) {}

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
        detail::check_param_grad<Name>("sgd", p.size(), g.size());
        T* v = nullptr;
        if (options_.momentum != 0.0) {
            if (velocity_[I].size() != p.size()) velocity_[I].assign(p.size(), T(0));
            v = velocity_[I].data();
        }
        kernels::sgd_update<T>(
            p.size(), static_cast<T>(options_.lr), static_cast<T>(options_.momentum),
            static_cast<T>(options_.weight_decay), options_.nesterov, g.data(), v, p.data());
    }
};

template <class Names, class... A>
sgd(param_list<Names, A...>, sgd_options) -> sgd<param_list<Names, A...>>;

}  // namespace fusegrad::nn
