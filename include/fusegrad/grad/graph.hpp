#pragma once
/// @file
/// A compiled graph: the plan of an expression, its buffers, and forward/backward over them.

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/tensor_ref.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/grad/plan.hpp"

namespace fusegrad {

namespace detail {

// The element type of a leaf that holds real values (void for nodes and class indices).
template <class E>
struct real_leaf_type {
    using type = void;
};
template <fixed_string Name, class Kind, class T, std::size_t R>
requires std::floating_point<T>
struct real_leaf_type<leaf<Name, Kind, T, R>> {
    using type = T;
};
template <class T, std::size_t R>
struct real_leaf_type<constant_leaf<T, R>> {
    using type = T;
};

template <class... Ts>
struct first_non_void {
    using type = float;  // a graph without any real leaf computes in float
};
template <class T0, class... Ts>
struct first_non_void<T0, Ts...> {
    using type = std::conditional_t<std::is_void_v<T0>, typename first_non_void<Ts...>::type, T0>;
};

template <class List>
struct graph_scalar;
template <class... Es>
struct graph_scalar<type_list<Es...>> {
    using type = typename first_non_void<typename real_leaf_type<typename Es::expr>::type...>::type;
    static_assert(((std::is_void_v<typename real_leaf_type<typename Es::expr>::type> ||
                    std::is_same_v<typename real_leaf_type<typename Es::expr>::type, type>)&&...),
                  "all real-valued leaves of one graph must have the same element type (all float "
                  "or all double)");
};

// What holds a value's gradient: a param's is an xtensor handed to the user, others live in
// the graph's arena.
struct no_storage {};
template <class E, class T>
struct grad_storage {
    using type = no_storage;
};
template <fixed_string Name, class T, std::size_t R, class S>
struct grad_storage<leaf<Name, param_kind, T, R>, S> {
    using type = xt::xtensor<T, R>;
};

/// Whether an op offers run()'s fused protocol for these operand views:
/// `forward_with_vjp(out, d0, operands...)` computes the value and writes the first operand's
/// gradient for an upstream gradient of one into d0; `vjp_after_fused(sinks..., g, out,
/// operands...)` (same arguments as vjp) then finishes d0 in place for the real upstream g.
template <class Op, class T, class... V>
concept fused_vjp_op = requires(const Op& op, mview<T> out, mview<T> d0, V... operands) {
    op.forward_with_vjp(out, d0, operands...);
};

template <class Plan, class T, class Seq = std::make_index_sequence<Plan::size>>
struct grad_tuple;
template <class Plan, class T, std::size_t... I>
struct grad_tuple<Plan, T, std::index_sequence<I...>> {
    using type = std::tuple<typename grad_storage<typename Plan::template expr_at<I>, T>::type...>;
};

}  // namespace detail

/// A compiled expression. Built by `fg::compile(expr)`; it copies the expression (leaves are
/// references to the caller's arrays), plans its values at compile time, sizes its buffers from
/// the bound shapes on the first run, and reuses them on every later run with the same shapes.
template <class Expr>
class graph {
    using plan_type = detail::plan<Expr>;
    using tables = typename plan_type::tables;
    static constexpr std::size_t N = plan_type::size;
    static constexpr std::size_t root = plan_type::root;
    template <std::size_t I>
    using expr_at = typename plan_type::template expr_at<I>;

    using grad_tuple = typename detail::grad_tuple<
        plan_type, typename detail::graph_scalar<typename plan_type::entries>::type>::type;

  public:
    /// The element type of every computed value (float or double), taken from the leaves.
    using value_type = typename detail::graph_scalar<typename plan_type::entries>::type;
    using expression_type = Expr;
    /// The rank of the graph's value: 0 for a loss.
    static constexpr std::size_t rank = Expr::rank;
    /// How many distinct values the plan evaluates (leaves included), after merging identical
    /// subexpressions.
    static constexpr std::size_t num_values = N;

    /// `rules_fired`: what rewriting did to get here (see fg::compile).
    explicit graph(Expr expr, std::vector<std::string> rules_fired = {})
        : expr_(std::move(expr)), rules_fired_(std::move(rules_fired)) {
        static_assert(!is_index_leaf_v<Expr>, "a graph's value cannot be a label vector");
        bind_leaves_from_expression();
    }
    // Buffers point into the graph's own arena: a copy would share them, so there is none.
    graph(const graph&) = delete;
    graph& operator=(const graph&) = delete;
    graph(graph&&) noexcept = default;  // moving keeps the heap buffers where they are
    graph& operator=(graph&&) noexcept = default;

    /// Forward pass: every value of the plan, in order. Throws `shape_error` when the bound
    /// shapes do not fit and `label_error` for a class index out of range.
    void forward() { forward_impl<false>(); }

    /// Backward pass for a scalar value, seeded with d(value)/d(value) = 1.
    void backward() {
        static_assert(
            rank == 0,
            "backward() without a seed needs a scalar value; for a vector or matrix value "
            "call backward(seed) with one upstream gradient per element");
        require_forward("backward");
        if constexpr (tables::requires_grad[root]) {
            grads_[root][0] = value_type(1);
            backward_all();
        }
    }

    /// Backward pass seeded with an upstream gradient shaped like the value (a vector-Jacobian
    /// product: afterwards each param's gradient is seedᵀ·∂value/∂param).
    void backward(cview<value_type> seed) {
        require_forward("backward");
        if (seed.size() != shapes_[root].size())
            throw shape_error("backward: seed has " + std::to_string(seed.size()) +
                              " elements but the value is " + shapes_[root].str());
        if constexpr (tables::requires_grad[root]) {
            for (std::size_t i = 0; i < seed.size(); ++i) grads_[root][i] = seed.data[i];
            backward_all();
        }
    }

    /// Forward then backward: the value and every param's gradient. An op that can (see
    /// docs/design.md, "fused forward and vjp") writes its operand's gradient during the forward.
    void run() {
        forward_impl<true>();
        backward();
    }

    /// The value of a scalar graph, after forward().
    value_type value() const {
        static_assert(rank == 0,
                      "value() is for a scalar graph; use value_view() for a vector or matrix");
        require_forward("value");
        return static_cast<const value_type*>(src_[root])[0];
    }
    /// The value, without a copy: pointer and shape, valid until the next forward().
    cview<value_type> value_view() const {
        require_forward("value_view");
        return {static_cast<const value_type*>(src_[root]), shapes_[root]};
    }
    /// The value's shape (known after forward()).
    shape value_shape() const { return shapes_[root]; }

    /// The gradient of the graph's value with respect to param `Name`, shaped like the param.
    template <fixed_string Name, std::size_t s = plan_type::template slot_of<Name>>
    const std::tuple_element_t<(s < N ? s : 0), grad_tuple>& grad() const {
        // One readable error each, with nothing after it: the discarded branches are not built.
        if constexpr (s >= N) {
            static_assert(s < N, "grad<Name>(): the graph has no leaf with this name");
        } else if constexpr (!is_param_v<expr_at<s>>) {
            static_assert(
                is_param_v<expr_at<s>>,
                "grad<Name>(): this leaf is not a param; only fg::param leaves get gradients");
        } else {
            return std::get<s>(param_grads_);
        }
    }

    /// Point leaf `Name` at another array (the next batch, say). Same element type and rank as
    /// the leaf; a new shape re-plans the buffers on the next forward().
    template <fixed_string Name, class A>
    void bind(A&& array) {
        constexpr std::size_t s = plan_type::template slot_of<Name>;
        static_assert(std::is_lvalue_reference_v<A>,
                      "bind<Name>(): the graph refers to the array, so it must outlive the graph's "
                      "use of it; pass a named array, not a temporary");
        using Arr = std::remove_cvref_t<A>;
        if constexpr (s >= N) {
            static_assert(s < N, "bind<Name>(): the graph has no leaf with this name");
        } else if constexpr (!dense_array<Arr>) {
            static_assert(dense_array<Arr>,
                          "bind<Name>(): needs a contiguous row-major array of rank 0, 1 or 2");
        } else {
            using L = expr_at<s>;
            static_assert(std::is_same_v<typename Arr::value_type, typename L::value_type>,
                          "bind<Name>(): the array's element type differs from the leaf's");
            static_assert(Arr::rank == L::rank,
                          "bind<Name>(): the array's rank differs from the leaf's");
            if constexpr (std::is_same_v<typename Arr::value_type, typename L::value_type> &&
                          Arr::rank == L::rank)
                bind_slot<s>(tensor_ref<typename L::value_type, L::rank>::of(array));
        }
    }

    /// The expression this graph runs (after any rewriting).
    const Expr& expression() const noexcept { return expr_; }
    /// The names of the rewrite rules that produced this graph's expression, in firing order.
    const std::vector<std::string>& rules_fired() const noexcept { return rules_fired_; }

    /// The shape a value of the plan had on the last forward() (for tests and printing).
    shape shape_of(std::size_t slot) const { return shapes_.at(slot); }

  private:
    Expr expr_;
    std::vector<std::string> rules_fired_;
    std::array<array_binding, N> bound_{};  // leaves: the caller's containers
    std::array<shape, N> shapes_{};         // every value's shape
    std::array<const void*, N> src_{};      // every value's data (leaves: the caller's)
    std::array<value_type*, N> out_{};      // computed values (null for leaves)
    std::array<value_type*, N> grads_{};    // gradients (null where none is needed)
    std::vector<value_type> arena_;         // every computed value and gradient
    grad_tuple param_grads_;
    // vjp_fused_[i]: value i's forward already wrote its first operand's gradient (run() only);
    // its next backward finishes that gradient instead of computing it.
    std::array<bool, N> vjp_fused_{};
    bool dirty_ = true;
    bool forward_done_ = false;

    static constexpr std::size_t align_elems = 64 / sizeof(value_type);  // 64-byte buffers

    // Prepare: run() is calling, so a backward follows at once and ops may fuse their vjp.
    template <bool Prepare>
    void forward_impl() {
        forward_done_ = false;
        vjp_fused_ = {};
        refresh_leaves();
        if (dirty_) prepare();
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (forward_one<I, Prepare>(), ...);
        }
        (std::make_index_sequence<N>{});
        forward_done_ = true;
    }

    // Value I may write its first operand's gradient in its forward when the op offers it, that
    // operand needs a gradient, no other operand does, and I is the first writer of it in the
    // backward pass (accumulate is false), so nothing touches the buffer in between.
    template <std::size_t I, std::size_t... C>
    static constexpr bool fused_vjp_operands(std::index_sequence<C...>) {
        using Op = typename expr_at<I>::op_type;
        return tables::requires_grad[tables::children[I][0]] && !tables::accumulate[I][0] &&
               ((C == 0 || !tables::requires_grad[tables::children[I][C]]) && ...) &&
               detail::fused_vjp_op<Op, value_type,
                                    cview<typename value_type_of<expr_at<tables::children[I][C]>,
                                                                 value_type>::type>...>;
    }
    template <std::size_t I>
    static constexpr bool fused_vjp_at() {
        if constexpr (tables::is_leaf[I])
            return false;
        else
            return fused_vjp_operands<I>(std::make_index_sequence<tables::arity[I]>{});
    }

    void require_forward(const char* what) const {
        if (!forward_done_)
            throw std::logic_error(std::string(what) + "(): call forward() (or run()) first");
    }

    template <std::size_t S>
    void bind_slot(const array_binding& ref) {
        if (ref.dims != bound_[S].dims) dirty_ = true;
        bound_[S] = ref;
        src_[S] = ref.data;
    }

    // Every leaf's container may have moved its buffer or changed shape since the last run.
    void refresh_leaves() noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            if (!tables::is_leaf[i]) continue;
            const shape before = bound_[i].dims;
            bound_[i].refresh();
            src_[i] = bound_[i].data;
            if (bound_[i].dims != before) dirty_ = true;
        }
    }

    // Bind every leaf to the array it was built with; a name used with two arrays is an error.
    void bind_leaves_from_expression() {
        std::array<bool, N> seen{};
        visit_leaves(expr_, detail::path<>{}, seen);
    }
    template <class E, std::size_t... P>
    void visit_leaves(const E& e, detail::path<P...>, std::array<bool, N>& seen) {
        if constexpr (is_leaf_v<E>) {
            constexpr std::size_t s = detail::index_of_key<detail::key_of_t<E, detail::path<P...>>>(
                typename plan_type::entries{});
            if (!seen[s]) {
                seen[s] = true;
                bound_[s] = e.ref;
                src_[s] = e.ref.data;
            } else if constexpr (detail::expr_traits<E>::is_named) {  // a constant is never seen
                                                                      // twice
                if (bound_[s].source != e.ref.source)
                    throw binding_error(
                        "leaf \"" + std::string(E::name.view()) +
                        "\" is used with two different arrays; one name is one variable");
            }
        } else {
            [&]<std::size_t... C>(std::index_sequence<C...>) {
                (visit_leaves(std::get<C>(e.children), detail::path<P..., C>{}, seen), ...);
            }
            (std::make_index_sequence<E::arity>{});
        }
    }

    // Shapes from the bindings, then one arena holding every computed value and gradient.
    void prepare() {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (infer_one<I>(), ...);
        }
        (std::make_index_sequence<N>{});

        auto padded = [](std::size_t n) {
            return (n + align_elems - 1) / align_elems * align_elems;
        };
        std::size_t total = 0;
        for (std::size_t i = 0; i < N; ++i) {
            if (tables::is_leaf[i]) continue;
            total += padded(shapes_[i].size());
            if (tables::requires_grad[i]) total += padded(shapes_[i].size());
        }
        if (arena_.size() < total + align_elems) arena_.assign(total + align_elems, value_type(0));
        auto addr = reinterpret_cast<std::uintptr_t>(arena_.data());
        value_type* next = arena_.data() + ((64 - addr % 64) % 64) / sizeof(value_type);
        for (std::size_t i = 0; i < N; ++i) {
            if (tables::is_leaf[i]) continue;
            out_[i] = next;
            src_[i] = next;
            next += padded(shapes_[i].size());
            if (tables::requires_grad[i]) {
                grads_[i] = next;
                next += padded(shapes_[i].size());
            }
        }
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (size_param_grad<I>(), ...);
        }
        (std::make_index_sequence<N>{});
        dirty_ = false;
    }

    template <std::size_t I>
    void infer_one() {
        if constexpr (tables::is_leaf[I]) {
            shapes_[I] = bound_[I].dims;
        } else {
            const auto& n =
                detail::get_at(expr_, typename plan_type::template entry_at<I>::path_type{});
            [&]<std::size_t... C>(std::index_sequence<C...>) {
                shapes_[I] = n.op.infer(shapes_[tables::children[I][C]]...);
            }
            (std::make_index_sequence<tables::arity[I]>{});
        }
    }

    template <std::size_t I>
    void size_param_grad() {
        if constexpr (is_param_v<expr_at<I>>) {
            auto& g = std::get<I>(param_grads_);
            using G = std::remove_cvref_t<decltype(g)>;
            typename G::shape_type sh{};
            const shape d = shapes_[I];
            if constexpr (G::rank == 1) sh = {d.cols};
            if constexpr (G::rank == 2) sh = {d.rows, d.cols};
            if (g.shape() != sh) g.resize(sh);
            grads_[I] = g.data();
        }
    }

    template <std::size_t S>
    auto operand_view() const {
        using V = typename value_type_of<expr_at<S>, value_type>::type;
        return cview<V>{static_cast<const V*>(src_[S]), shapes_[S]};
    }

    template <std::size_t I, std::size_t C>
    grad_sink<value_type> operand_sink() const {
        constexpr std::size_t s = tables::children[I][C];
        if constexpr (tables::requires_grad[s])
            return {grads_[s], shapes_[s], tables::accumulate[I][C]};
        else
            return {};
    }

    template <std::size_t I, bool Prepare>
    void forward_one() {
        if constexpr (!tables::is_leaf[I]) {
            const auto& n =
                detail::get_at(expr_, typename plan_type::template entry_at<I>::path_type{});
            [&]<std::size_t... C>(std::index_sequence<C...>) {
                if constexpr (Prepare && fused_vjp_at<I>()) {
                    constexpr std::size_t s0 = tables::children[I][0];
                    n.op.forward_with_vjp(mview<value_type>{out_[I], shapes_[I]},
                                          mview<value_type>{grads_[s0], shapes_[s0]},
                                          operand_view<tables::children[I][C]>()...);
                    vjp_fused_[I] = true;
                } else {
                    n.op.forward(mview<value_type>{out_[I], shapes_[I]},
                                 operand_view<tables::children[I][C]>()...);
                }
            }
            (std::make_index_sequence<tables::arity[I]>{});
        }
    }

    template <std::size_t I>
    void backward_one() {
        if constexpr (!tables::is_leaf[I] && tables::requires_grad[I]) {
            const auto& n =
                detail::get_at(expr_, typename plan_type::template entry_at<I>::path_type{});
            [&]<std::size_t... C>(std::index_sequence<C...>) {
                if constexpr (fused_vjp_at<I>()) {
                    if (vjp_fused_[I]) {  // once: a second backward() recomputes from scratch
                        vjp_fused_[I] = false;
                        n.op.vjp_after_fused(operand_sink<I, C>()...,
                                             cview<value_type>{grads_[I], shapes_[I]},
                                             cview<value_type>{out_[I], shapes_[I]},
                                             operand_view<tables::children[I][C]>()...);
                        return;
                    }
                }
                n.op.vjp(operand_sink<I, C>()..., cview<value_type>{grads_[I], shapes_[I]},
                         cview<value_type>{out_[I], shapes_[I]},
                         operand_view<tables::children[I][C]>()...);
            }
            (std::make_index_sequence<tables::arity[I]>{});
        }
    }

    void backward_all() {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (backward_one<N - 1 - I>(), ...);
        }
        (std::make_index_sequence<N>{});
    }
};

}  // namespace fusegrad
