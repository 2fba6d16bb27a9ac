#pragma once
/// @file
/// A compiled graph: the plan of an expression, its buffers, and forward/backward over them.

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/finite.hpp"
#include "fusegrad/core/tensor_ref.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/grad/memory.hpp"
#include "fusegrad/grad/plan.hpp"
#include "fusegrad/grad/runtime.hpp"

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

// The graph's scalar type: the first real leaf's element type (float when it has none). Lists,
// not recursion or folds over the table: clang stops at 256 fold operands.
template <class List>
struct graph_scalar;
template <class... Es>
struct graph_scalar<type_list<Es...>> {
    using reals = type_list<typename real_leaf_type<typename Es::expr>::type..., float>;
    using type = type_at_t<
        first_true({!std::is_void_v<typename real_leaf_type<typename Es::expr>::type>...}), reals>;
    static_assert(
        all_true({(std::is_void_v<typename real_leaf_type<typename Es::expr>::type> ||
                   std::is_same_v<typename real_leaf_type<typename Es::expr>::type, type>)...}),
        "all real-valued leaves of one graph must have the same element type (all float "
        "or all double)");
};

// What holds a value's gradient: a param's is an xtensor handed to the user, others live in
// the graph's arena. Params' gradients are kept in one array per rank (a leaf's rank is at
// most 2), indexed by tables: no slot, constructor or accessor per value.
inline constexpr std::size_t no_param = 3;
template <class E>
struct param_rank_of : std::integral_constant<std::size_t, no_param> {};
template <fixed_string Name, class T, std::size_t R>
struct param_rank_of<leaf<Name, param_kind, T, R>> : std::integral_constant<std::size_t, R> {};

// The layout's columns: functions templated on the table's size only (see plan.hpp, "the
// table's derived columns").
template <std::size_t N>
constexpr std::array<std::size_t, N> places_by_rank(const std::array<std::size_t, N>& rank) {
    std::array<std::size_t, N> p{};
    std::size_t next[no_param + 1]{};
    for (std::size_t i = 0; i < N; ++i) p[i] = next[rank[i]]++;
    return p;
}
template <std::size_t N>
constexpr std::array<std::size_t, no_param + 1> counts_by_rank(
    const std::array<std::size_t, N>& rank) {
    std::array<std::size_t, no_param + 1> c{};
    for (const std::size_t r : rank) ++c[r];
    return c;
}
/// The names of the set flags, in order (K of them).
template <std::size_t K, std::size_t N>
constexpr std::array<std::string_view, K> names_of_set(
    const std::array<bool, N>& f, const std::array<std::string_view, N>& names) {
    std::array<std::string_view, K> out{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < N; ++i)
        if (f[i]) out[k++] = names[i];
    return out;
}

/// rank[i]: value i's rank when it is a param, else no_param; pos[i]: value i's place in the
/// array of its rank; counts[r]: how many params have rank r.
template <std::size_t N>
struct grad_layout_columns {
    std::array<std::size_t, N> rank{};
    std::array<std::size_t, N> pos{};
    std::array<std::size_t, no_param + 1> counts{};
};
template <std::size_t N>
constexpr grad_layout_columns<N> layout_by_rank(const std::array<std::size_t, N>& rank) {
    return {rank, places_by_rank(rank), counts_by_rank(rank)};
}

/// The params' gradient layout, as one constant (why: grad/plan.hpp, table_columns).
template <class List>
struct param_grad_layout;
template <class... Es>
struct param_grad_layout<type_list<Es...>> {
    static constexpr grad_layout_columns<sizeof...(Es)> columns =
        layout_by_rank<sizeof...(Es)>({param_rank_of<typename Es::expr>::value...});
};

/// The params' gradients, K0 of rank 0, K1 of rank 1, K2 of rank 2. Named by the counts, not
/// the layout: its functions' names then do not spell the table.
template <class T, std::size_t K0, std::size_t K1, std::size_t K2>
struct param_grads {
    std::array<xt::xtensor<T, 0>, K0> r0;
    std::array<xt::xtensor<T, 1>, K1> r1;
    std::array<xt::xtensor<T, 2>, K2> r2;

    template <std::size_t R>
    const auto& of_rank() const noexcept {
        if constexpr (R == 0)
            return r0;
        else if constexpr (R == 1)
            return r1;
        else
            return r2;
    }
};

/// Whether an op offers run()'s fused protocol for these operand views:
/// `forward_with_vjp(out, d0, operands...)` computes the value and writes the first operand's
/// gradient for an upstream gradient of one into d0; `vjp_after_fused(sinks..., g, out,
/// operands...)` (same arguments as vjp) then finishes d0 in place for the real upstream g.
/// (An op with a workspace takes it as a trailing argument, see core/keeps.hpp.)
template <class Op, class T, class... V>
concept fused_vjp_op = requires(const Op& op, mview<T> out, mview<T> d0, V... operands) {
    op.forward_with_vjp(out, d0, operands...);
}
|| requires(const Op& op, workspace<T> ws, mview<T> out, mview<T> d0, V... operands) {
    op.forward_with_vjp(out, d0, operands..., ws);
};

/// Whether an op with this many operands declares `workspace_size(out, operands...)`.
template <class Op, class Seq>
struct has_workspace : std::false_type {};
template <class Op, std::size_t... C>
requires requires(const Op& op, const shape& s) {
    { op.workspace_size(s, (static_cast<void>(C), s)...) } -> std::convertible_to<std::size_t>;
}
struct has_workspace<Op, std::index_sequence<C...>> : std::true_type {};

// ---- one value's steps ------------------------------------------------------------------------
// Free functions whose template arguments are the op and the operands' element types only: all
// the relu values of a deep model share one instantiation, and no mangled name spells the
// graph's type (g++'s mangling cost grows faster than the length of the name).

/// Whether an op takes the run context as the last argument of its forward and vjp.
template <class Op>
constexpr bool uses_run_context() {
    if constexpr (requires { Op::uses_run_context; })
        return bool(Op::uses_run_context);
    else
        return false;
}

/// Calls f with the trailing arguments of op's forward and vjp: its workspace if it declares
/// one, then the run context if it takes it.
template <class Op, class Seq, class T, class F>
void with_trailing(const value_table<T>& v, std::size_t self, F&& f) {
    if constexpr (has_workspace<Op, Seq>::value) {
        const workspace<T> ws{v.ws[self], v.ws_sizes[self]};
        if constexpr (uses_run_context<Op>())
            f(ws, *v.ctx);
        else
            f(ws);
    } else if constexpr (uses_run_context<Op>()) {
        f(*v.ctx);
    } else {
        f();
    }
}

/// The view of an operand (or output) a vjp gets: null data where the op did not declare that
/// it reads it (core/keeps.hpp), since the buffer may by then hold another value.
template <class V>
cview<V> kept_view(bool reads, cview<V> v) noexcept {
    if (!reads) v.data = nullptr;
    return v;
}

template <class T, class V>
using operand_t = std::conditional_t<std::is_void_v<V>, T, V>;

template <class V, class T>
cview<V> operand_view(const value_table<T>& v, std::size_t s) noexcept {
    return {static_cast<const V*>(v.src[s]), v.shapes[s]};
}

template <class T, class Op, class... V, std::size_t... C>
void infer_value(const Op& op, value_table<T>& v, std::size_t self, const std::size_t* ch,
                 type_list<V...>, std::index_sequence<C...>) {
    v.shapes[self] = op.infer(v.shapes[ch[C]]...);
    if constexpr (has_workspace<Op, std::index_sequence<C...>>::value)
        v.ws_sizes[self] = op.workspace_size(v.shapes[self], v.shapes[ch[C]]...);
}

/// Whether an op has run()'s `forward(out, operands..., ws, backward_follows)` (core/views.hpp).
template <class Op, class T, class... V>
concept forward_before_vjp_op = requires(const Op& op, mview<T> out, workspace<T> ws,
                                         V... operands) {
    op.forward(out, operands..., ws, backward_follows{});
};

// InRun: run() is calling, so the backward follows at once (an op may prepare for it).
template <bool Fused, bool InRun, class T, class Op, class... V, std::size_t... C>
void forward_value(const Op& op, const value_table<T>& v, std::size_t self, const std::size_t* ch,
                   bool& fused, type_list<V...>, std::index_sequence<C...>) {
    const mview<T> out{v.out[self], v.shapes[self]};
    const auto call = [&](auto... ws) {  // the op's workspace and run context (with_trailing)
        if constexpr (Fused) {
            op.forward_with_vjp(out, mview<T>{v.grads[ch[0]], v.shapes[ch[0]]},
                                operand_view<operand_t<T, V>>(v, ch[C])..., ws...);
            fused = true;
        } else if constexpr (InRun && sizeof...(ws) == 1 &&
                             forward_before_vjp_op<Op, T, cview<operand_t<T, V>>...>) {
            op.forward(out, operand_view<operand_t<T, V>>(v, ch[C])..., ws..., backward_follows{});
        } else {
            op.forward(out, operand_view<operand_t<T, V>>(v, ch[C])..., ws...);
        }
    };
    with_trailing<Op, std::index_sequence<C...>>(v, self, call);
}
/// Whether an op checks its operands in anomaly mode (graph::check_finite): it has
/// `std::string check_operands(cview<V>... operands) const`, returning what is wrong with them
/// (empty when nothing is). nll uses it to refuse logits where it needs probabilities.
template <class Op, class T, class Types>
struct op_checks_operands : std::false_type {};
template <class Op, class T, class... V>
    struct op_checks_operands<Op, T, type_list<V...>>
    : std::bool_constant < requires(const Op& op, cview<operand_t<T, V>>... o) {
    { op.check_operands(o...) } -> std::convertible_to<std::string>;
} > {};

template <class T, class Op, class... V, std::size_t... C>
std::string check_operands_of(const Op& op, const value_table<T>& v, const std::size_t* ch,
                              type_list<V...>, std::index_sequence<C...>) {
    return op.check_operands(operand_view<operand_t<T, V>>(v, ch[C])...);
}

/// A param's gradient: an xtensor shaped like the param (resized only when the shape changed).
template <class G, class T>
void size_grad(G& g, const shape& d, T*& buffer) {
    typename G::shape_type sh{};
    if constexpr (G::rank == 1) sh = {d.cols};
    if constexpr (G::rank == 2) sh = {d.rows, d.cols};
    if (g.shape() != sh) g.resize(sh);
    buffer = g.data();
}

// fused: the forward wrote the first operand's gradient (run()); finish it instead.
template <bool MayBeFused, class T, class Op, class... V, std::size_t... C>
void backward_value(const Op& op, const value_table<T>& v, std::size_t self, const std::size_t* ch,
                    const bool* accumulate, bool& fused, type_list<V...>,
                    std::index_sequence<C...>) {
    constexpr keeps reads = kept_of<Op>();
    const cview<T> g{v.grads[self], v.shapes[self]};
    const cview<T> out = kept_view(reads.has_output(), cview<T>{v.out[self], v.shapes[self]});
    const auto call = [&](auto... ws) {
        if constexpr (MayBeFused) {
            if (fused) {  // once: a second backward() recomputes from scratch
                fused = false;
                op.vjp_after_fused(
                    grad_sink<T>{v.grads[ch[C]], v.shapes[ch[C]], accumulate[C]}..., g, out,
                    kept_view(reads.has_operand(C), operand_view<operand_t<T, V>>(v, ch[C]))...,
                    ws...);
                return;
            }
        }
        op.vjp(grad_sink<T>{v.grads[ch[C]], v.shapes[ch[C]], accumulate[C]}..., g, out,
               kept_view(reads.has_operand(C), operand_view<operand_t<T, V>>(v, ch[C]))..., ws...);
    };
    with_trailing<Op, std::index_sequence<C...>>(v, self, call);
}

/// Whether value I of the plan (table entry Entry) may write its first operand's gradient in
/// its forward: the op offers it for these operand types, that operand needs a gradient, no
/// other operand does, and I is the first writer of it in the backward pass (accumulate is
/// false), so nothing touches the buffer in between. (A class, not a constexpr function: no
/// mangled name.)
template <class Plan, class T, std::size_t I, class Entry,
          class Seq = std::make_index_sequence<Plan::tables::columns.arity[I]>,
          class Types = typename Entry::operand_types>
struct fused_vjp_at : std::false_type {};
template <class Plan, class T, std::size_t I, class Entry, std::size_t... C, class... V>
requires(!Plan::tables::columns.is_leaf[I]) struct fused_vjp_at<
    Plan, T, I, Entry, std::index_sequence<C...>, type_list<V...>>
    : std::bool_constant<
          Plan::tables::columns.requires_grad[Plan::tables::columns.child(I, 0)] &&
          !Plan::tables::columns.accumulate[I * Plan::tables::max_arity] &&
          ((C == 0 || !Plan::tables::columns.requires_grad[Plan::tables::columns.child(I, C)]) &&
           ...) &&
          fused_vjp_op<typename Entry::expr::op_type, T, cview<operand_t<T, V>>...>> {
};

// ---- the step tables --------------------------------------------------------------------------
// A graph runs its values through tables of function pointers, one entry per value, indexed by
// id: each pointer is a thunk instantiated per (op, operand element types), which every value
// of that kind shares. So the code a model compiles to grows with the number of distinct ops,
// not with the number of values: a fold that inlined every value's step into one function made
// g++'s back end the largest compile cost of a deep model. An indirect call per value and step
// costs nanoseconds against kernels that take microseconds.

template <bool Fused, bool InRun, class T, class Op, class Types, class Seq>
void forward_thunk(const void* op, const value_table<T>& v, std::size_t self, const std::size_t* ch,
                   bool& fused) {
    forward_value<Fused, InRun, T>(*static_cast<const Op*>(op), v, self, ch, fused, Types{}, Seq{});
}
template <bool MayBeFused, class T, class Op, class Types, class Seq>
void backward_thunk(const void* op, const value_table<T>& v, std::size_t self,
                    const std::size_t* ch, const bool* accumulate, bool& fused) {
    backward_value<MayBeFused, T>(*static_cast<const Op*>(op), v, self, ch, accumulate, fused,
                                  Types{}, Seq{});
}
template <class T, class Op, class Types, class Seq>
std::string check_thunk(const void* op, const value_table<T>& v, const std::size_t* ch) {
    return check_operands_of<T>(*static_cast<const Op*>(op), v, ch, Types{}, Seq{});
}

template <class T, class Op, class Types, class Seq>
void infer_thunk(const void* op, value_table<T>& v, std::size_t self, const std::size_t* ch) {
    infer_value<T>(*static_cast<const Op*>(op), v, self, ch, Types{}, Seq{});
}

/// The step-table entries of one kind of value: functions of the op, the operands' element
/// types and flags only, so every relu value of a deep model shares one instantiation and no
/// instantiated name spells the graph or the value's subexpression.
template <class T, class Op, class Types, class Seq>
struct step_fns {
    template <bool Fused, bool InRun>
    static constexpr forward_fn<T> forward() noexcept {
        return &forward_thunk<Fused, InRun, T, Op, Types, Seq>;
    }
    template <bool MayBeFused>
    static constexpr backward_fn<T> backward() noexcept {
        return &backward_thunk<MayBeFused, T, Op, Types, Seq>;
    }
    static constexpr infer_fn<T> infer() noexcept { return &infer_thunk<T, Op, Types, Seq>; }
    static constexpr check_fn<T> check() noexcept {
        if constexpr (op_checks_operands<Op, T, Types>::value)
            return &check_thunk<T, Op, Types, Seq>;
        else
            return nullptr;
    }
};
/// A leaf's entries: none.
struct no_step_fns {
    template <bool, bool>
    static constexpr std::nullptr_t forward() noexcept {
        return nullptr;
    }
    template <bool>
    static constexpr std::nullptr_t backward() noexcept {
        return nullptr;
    }
    static constexpr std::nullptr_t infer() noexcept { return nullptr; }
    static constexpr std::nullptr_t check() noexcept { return nullptr; }
};

/// What the step tables need of value I (a class with types only: no function is instantiated
/// per value).
template <class Plan, class T, std::size_t I, class Entry>
struct steps_of {
    using fns = std::conditional_t<
        Plan::tables::columns.is_leaf[I], no_step_fns,
        step_fns<T, typename state_of<typename Entry::expr>::type, typename Entry::operand_types,
                 std::make_index_sequence<Plan::tables::columns.arity[I]>>>;
    using fusable = fused_vjp_at<Plan, T, I, Entry>;
    using grad = std::bool_constant<!Plan::tables::columns.is_leaf[I] &&
                                    Plan::tables::columns.requires_grad[I]>;
};

/// A plan's step tables, one entry per value: `may_fuse[i]`: run() may write value i's first
/// operand's gradient in its forward.
template <class T, std::size_t N>
struct step_columns {
    std::array<forward_fn<T>, N> forward{};
    std::array<forward_fn<T>, N> forward_in_run{};
    std::array<backward_fn<T>, N> backward{};
    std::array<infer_fn<T>, N> infer{};
    std::array<check_fn<T>, N> check{};
    std::array<bool, N> may_fuse{};
};

/// The step tables of a plan, as one constant (why: grad/plan.hpp, table_columns).
///
/// Compile cost: each element names `steps_of<...>` directly, not through a member alias
/// template of this class. A member template's arguments include the enclosing class's, and
/// those hold the pack of every entry: g++ copied and hashed that pack (N types) for each of
/// the N elements of each table, quadratic in the model (a 128-layer MLP: 790 → 682 MB of
/// g++'s allocations, 8.2 → 6.5 s of its time; g++ 12 -O2).
template <class Plan, class T, class Seq = std::make_index_sequence<Plan::size>,
          class List = typename Plan::entries>
struct step_tables;
template <class Plan, class T, std::size_t... I, class... Es>
struct step_tables<Plan, T, std::index_sequence<I...>, type_list<Es...>> {
    static constexpr step_columns<T, sizeof...(I)> columns{
        .forward = {steps_of<Plan, T, I, Es>::fns::template forward<false, false>()...},
        .forward_in_run = {steps_of<Plan, T, I, Es>::fns::template forward<
            steps_of<Plan, T, I, Es>::fusable::value, true>()...},
        .backward = {std::conditional_t<
            steps_of<Plan, T, I, Es>::grad::value, typename steps_of<Plan, T, I, Es>::fns,
            no_step_fns>::template backward<steps_of<Plan, T, I, Es>::fusable::value>()...},
        .infer = {steps_of<Plan, T, I, Es>::fns::infer()...},
        .check = {steps_of<Plan, T, I, Es>::fns::check()...},
        .may_fuse = {steps_of<Plan, T, I, Es>::fusable::value...}};
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

    using grad_layout = detail::param_grad_layout<typename plan_type::entries>;

  public:
    /// The element type of every computed value (float or double), taken from the leaves.
    using value_type = typename detail::graph_scalar<typename plan_type::entries>::type;
    static_assert(std::is_same_v<value_type, float> || std::is_same_v<value_type, double>,
                  "a graph's real-valued leaves are float or double (the kernels and the graph's "
                  "run-time loops are built for these two)");
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
        if constexpr (tables::columns.requires_grad[root]) {
            grads_[root][0] = value_type(1);
            backward_all();
        }
        backward_done_ = true;
    }

    /// Backward pass seeded with an upstream gradient shaped like the value (a vector-Jacobian
    /// product: afterwards each param's gradient is seedᵀ·∂value/∂param).
    void backward(cview<value_type> seed) {
        require_forward("backward");
        if (seed.size() != shapes_[root].size())
            throw shape_error("backward: seed has " + std::to_string(seed.size()) +
                              " elements but the value is " + shapes_[root].str());
        if constexpr (tables::columns.requires_grad[root]) {
            for (std::size_t i = 0; i < seed.size(); ++i) grads_[root][i] = seed.data[i];
            backward_all();
        }
        backward_done_ = true;
    }

    /// Forward then backward: the value and every param's gradient. An op that can (see
    /// docs/design.md, "fused forward and vjp") writes its operand's gradient during the forward.
    ///
    /// Each run() is one training step: an op that draws random numbers (dropout) draws them
    /// for step(), and run() then advances step(), so the next run() draws new ones. forward()
    /// and backward() on their own keep the step (a gradient check sees one mask).
    void run() {
        forward_impl<true>();
        backward();
        ++ctx_.step;
    }

    /// Training mode (the default), as PyTorch's `module.train()`: dropout drops. `train(false)`
    /// is eval().
    void train(bool on = true) noexcept { ctx_.training = on; }
    /// Evaluation mode, as PyTorch's `module.eval()`: dropout is the identity.
    void eval() noexcept { ctx_.training = false; }
    /// Whether the graph is in training mode.
    bool training() const noexcept { return ctx_.training; }
    /// The step dropout's masks are drawn for: the number of run() calls so far.
    std::uint64_t step() const noexcept { return ctx_.step; }
    /// Sets the step, to replay the masks of an earlier one.
    void set_step(std::uint64_t step) noexcept { ctx_.step = step; }
    /// When this graph runs one part of a larger batch (rows [first_row, ...) of it, see
    /// bind_rows): dropout then draws, for each element, what it draws for that element of the
    /// whole batch, so the parts of a split batch together draw the whole batch's mask. 0 (the
    /// default) for a graph that runs a whole batch.
    void set_batch_offset(std::uint64_t first_row) noexcept { ctx_.first_row = first_row; }
    /// The batch offset set_batch_offset gave (0 by default).
    std::uint64_t batch_offset() const noexcept { return ctx_.first_row; }

    /// Anomaly mode. With it on, forward() checks every leaf it reads and every value it
    /// computes, and backward() every gradient it writes, and throws value_error at the first
    /// NaN or ±inf, naming the op (or leaf), the element and the shape: the first op that
    /// turned finite numbers into non-finite ones. Ops that can check their operands do so
    /// first (nll: its input must be a probability matrix, not logits). Off by default: it
    /// costs one pass over every value and gradient. The graph stays usable after the error.
    void check_finite(bool on) noexcept { check_finite_ = on; }
    /// Whether anomaly mode is on.
    bool check_finite() const noexcept { return check_finite_; }

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
    const auto& grad() const {
        // One readable error each, with nothing after it: the discarded branches are not built.
        if constexpr (s >= N) {
            static_assert(s < N, "grad<Name>(): the graph has no leaf with this name");
        } else if constexpr (!is_param_v<expr_at<s>>) {
            static_assert(
                is_param_v<expr_at<s>>,
                "grad<Name>(): this leaf is not a param; only fg::param leaves get gradients");
        } else {
            require_backward("grad");
            return param_grads_
                .template of_rank<grad_layout::columns.rank[s]>()[grad_layout::columns.pos[s]];
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

    /// Leaf `Name` reads only rows [first, first + count) of the array it is bound to (of a
    /// vector: elements), in place, from the next forward() on: one part of a batch without a
    /// copy. Without a count, rows from `first` to the end. The window is applied to whatever
    /// the array holds at each forward, and a window that does not fit it is a shape_error
    /// naming the leaf. `bind_rows<Name>()` reads the whole array again; bind<Name>() to
    /// another array also drops the window.
    template <fixed_string Name>
    void bind_rows(std::size_t first = 0, std::size_t count = array_binding::all_rows) {
        constexpr std::size_t s = plan_type::template slot_of<Name>;
        if constexpr (s >= N) {
            static_assert(s < N, "bind_rows<Name>(): the graph has no leaf with this name");
        } else {
            static_assert(expr_at<s>::rank >= 1,
                          "bind_rows<Name>(): a scalar leaf has no rows to choose from");
            values_.leaves[s].first_row = first;
            values_.leaves[s].row_count = count;
        }
    }

    /// The rows of the array leaf `Name` is bound to (of a vector: its length), re-read now,
    /// whatever row window bind_rows set.
    template <fixed_string Name>
    std::size_t array_rows() const {
        constexpr std::size_t s = plan_type::template slot_of<Name>;
        static_assert(s < N, "array_rows<Name>(): the graph has no leaf with this name");
        array_binding b = values_.leaves[s < N ? s : 0];
        b.first_row = 0;
        b.row_count = array_binding::all_rows;
        b.refresh();
        return b.dims.rank == 2 ? b.dims.rows : b.dims.rank == 1 ? b.dims.cols : 1;
    }

    /// A second graph of the same expression that reads the same arrays as this one does now
    /// (its bindings and row windows) and has the same settings (training or evaluation, step,
    /// batch offset, check_finite), with buffers of its own: graphs are not copied, since a
    /// copy would share the buffers. What fg::nn::data_parallel runs the parts of a batch on.
    graph replica() const {
        graph g(expr_, rules_fired_);
        g.bind_like(*this);
        g.ctx_ = ctx_;
        g.check_finite_ = check_finite_;
        return g;
    }

    /// Points every leaf at the array the same leaf of `other` reads now (its binding and row
    /// window), as bind<Name>() for each: a shape that differs re-plans on the next forward().
    /// What keeps fg::nn::data_parallel's replicas on the arrays the user's graph is bound to.
    void bind_like(const graph& other) noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            if (!tables::columns.is_leaf[i]) continue;
            const array_binding& b = other.values_.leaves[i];
            if (b.dims != values_.leaves[i].dims) dirty_ = true;
            values_.leaves[i] = b;
            src_[i] = b.data;
        }
    }

    /// Marks the gradients as not computed: grad<Name>() and param_grad() throw until the next
    /// backward. fg::nn::data_parallel does so when a part of a batch fails, so that no
    /// optimizer steps on a part's gradient taken for the batch's.
    void discard_gradients() noexcept { backward_done_ = false; }

    /// How many param leaves the graph has, and their names in table order (the order of first
    /// appearance, left to right).
    static constexpr std::size_t num_params = detail::count_set(tables::columns.params);
    static constexpr std::array<std::string_view, num_params> param_names =
        detail::names_of_set<num_params>(tables::columns.params, tables::columns.names);

    /// The gradient of param `name`, chosen at run time (what `grad<Name>()` holds), after a
    /// backward pass. One function for every param: a caller looping over many params (the
    /// gradient checker) instantiates nothing per param. Throws std::invalid_argument for a
    /// name that is not a param of the graph.
    cview<value_type> param_grad(std::string_view name) const {
        require_backward("param_grad");
        const std::size_t i = param_slot(name, "param_grad");
        return {grads_[i], shapes_[i]};
    }

    /// The gradient of param `name`, to rewrite in place between the backward pass and the
    /// optimizer's step: what gradient synchronisation across processes (fusegrad/dist) and
    /// gradient clipping do. The next backward overwrites it. Throws as `param_grad` does.
    mview<value_type> param_grad_buffer(std::string_view name) {
        require_backward("param_grad_buffer");
        const std::size_t i = param_slot(name, "param_grad_buffer");
        return {grads_[i], shapes_[i]};
    }

    /// The current buffer of param `name`'s array, to write in place: what an optimizer over
    /// every param (`fg::nn::params_of(graph)`) and `checkpoint::add_params` use, so that a
    /// model names its params once, in its expression. Re-reads the container, so it is right
    /// after the caller moved or resized it. Throws std::invalid_argument for a name that is not
    /// a param of the graph, and std::logic_error when the param was built from (or bound to)
    /// a const array, which nothing may write.
    mview<value_type> param_array(std::string_view name) {
        // A copy of the binding: forward() compares the stored shape with the container's.
        array_binding b = values_.leaves[param_slot(name, "param_array")];
        if (!b.writable)
            throw std::logic_error("param_array(): param \"" + std::string(name) +
                                   "\" refers to a const array, which cannot be written; "
                                   "build it with fg::param from a mutable array");
        b.refresh();
        return {static_cast<value_type*>(const_cast<void*>(b.data)), b.dims};
    }

    /// The expression this graph runs (after any rewriting).
    const Expr& expression() const noexcept { return expr_; }
    /// The names of the rewrite rules that produced this graph's expression, in firing order.
    const std::vector<std::string>& rules_fired() const noexcept { return rules_fired_; }

    /// The shape a value of the plan had on the last forward() (for tests and printing).
    shape shape_of(std::size_t slot) const { return shapes_.at(slot); }

    /// What the graph's buffers take for the shapes of the last forward() (grad/memory.hpp):
    /// the arena after reuse, what it would be without, the peak live bytes, what is kept for
    /// the backward.
    fusegrad::memory_report memory_report() const {
        require_forward("memory_report");
        return memory_;
    }
    /// Whether value `slot`'s output survives the forward for a backward (or is the value):
    /// from its ops' `kept` declarations (core/keeps.hpp).
    static constexpr bool kept_for_backward(std::size_t slot) {
        return tables::columns.kept.at(slot);
    }

  private:
    Expr expr_;
    std::vector<std::string> rules_fired_;
    detail::bound_values<plan_type> values_;       // leaves: the caller's containers; op state
    std::array<shape, N> shapes_{};                // every value's shape
    std::array<const void*, N> src_{};             // every value's data (leaves: the caller's)
    std::array<value_type*, N> out_{};             // computed values (null for leaves)
    std::array<value_type*, N> grads_{};           // gradients (null where none is needed)
    std::array<value_type*, N> ws_{};              // op workspaces (null where an op has none)
    std::array<std::size_t, N> ws_sizes_{};        // their sizes, in elements
    std::vector<value_type> arena_;                // every computed value, gradient and workspace
    std::vector<detail::buffer_request> buffers_;  // the layout of the arena (grad/memory.hpp)
    fusegrad::memory_report memory_{};
    detail::param_grads<value_type, grad_layout::columns.counts[0], grad_layout::columns.counts[1],
                        grad_layout::columns.counts[2]>
        param_grads_;
    // vjp_fused_[i]: value i's forward already wrote its first operand's gradient (run() only);
    // its next backward finishes that gradient instead of computing it.
    std::array<bool, N> vjp_fused_{};
    bool dirty_ = true;
    bool forward_done_ = false;
    bool backward_done_ = false;
    bool check_finite_ = false;
    run_context ctx_{};  // training or evaluation, and the step (core/views.hpp)

    // The slot of param `name`; std::invalid_argument, naming the caller, when there is none.
    static std::size_t param_slot(std::string_view name, const char* who) {
        for (std::size_t i = 0; i < N; ++i)
            if (tables::columns.is_leaf[i] && tables::columns.requires_grad[i] &&
                tables::columns.names[i] == name)
                return i;
        throw std::invalid_argument(std::string(who) + "(): the graph has no param named \"" +
                                    std::string(name) + "\"");
    }

    detail::graph_state<value_type> state() noexcept {
        return {values_.leaves.data(),
                shapes_.data(),
                src_.data(),
                out_.data(),
                grads_.data(),
                ws_.data(),
                ws_sizes_.data(),
                &ctx_,
                &arena_,
                &buffers_,
                &memory_};
    }

    // ---- the schedule (grad/memory.hpp): forward of i at step i, its backward at 2N − 1 − i ----
    using steps = detail::step_tables<plan_type, value_type>;
    // may_fuse[i]: run() may write value i's first operand's gradient in its forward.
    static constexpr const std::array<bool, N>& may_fuse = steps::columns.may_fuse;
    std::array<const void*, N> op_addresses() const noexcept { return values_.op_addresses(); }
    // The last step that reads value i's output.
    static constexpr std::array<std::size_t, N> output_last =
        detail::output_last_steps<N, tables::max_arity>(tables::columns.kept, tables::columns.arity,
                                                        tables::columns.operands);
    // The first step that writes value i's gradient (a vjp of a consumer, or its fused forward).
    static constexpr std::array<std::size_t, N> grad_first =
        detail::grad_first_steps<N, tables::max_arity>(
            tables::columns.is_leaf, tables::columns.requires_grad, tables::columns.arity,
            tables::columns.operands, may_fuse);
    // The tables above as the run-time loops read them (grad/runtime.hpp): the loops are
    // compiled once in the library, not once per graph type.
    static constexpr detail::plan_view view{N,
                                            tables::max_arity,
                                            tables::columns.is_leaf.data(),
                                            tables::columns.requires_grad.data(),
                                            tables::columns.labels.data(),
                                            tables::columns.refuses_empty.data(),
                                            tables::columns.kept.data(),
                                            tables::columns.arity.data(),
                                            tables::columns.operands.data(),
                                            tables::columns.accumulate.data(),
                                            tables::columns.names.data(),
                                            tables::columns.op_names.data(),
                                            output_last.data(),
                                            grad_first.data()};

    // Prepare: run() is calling, so a backward follows at once and ops may fuse their vjp.
    // Every per-value step is a call to a free function in detail (see "one value's steps").
    template <bool Prepare>
    void forward_impl() {
        forward_done_ = false;
        vjp_fused_ = {};
        if (detail::refresh_leaves(view, values_.leaves.data(), src_.data())) dirty_ = true;
        if (dirty_) prepare();
        const auto ops = op_addresses();
        const auto& steps = Prepare ? steps::columns.forward_in_run : steps::columns.forward;
        detail::run_forward<value_type>(view, state(), steps.data(), steps::columns.check.data(),
                                        ops.data(), vjp_fused_.data(), check_finite_);
        forward_done_ = true;
    }

    void require_forward(const char* what) const {
        if (!forward_done_)
            throw std::logic_error(std::string(what) + "(): call forward() (or run()) first");
    }
    void require_backward(const char* what) const {
        if (!backward_done_)
            throw std::logic_error(std::string(what) +
                                   "(): no gradients yet; call backward() after forward(), or "
                                   "run()");
    }

    template <std::size_t S>
    void bind_slot(const array_binding& ref) {
        if (ref.dims != values_.leaves[S].dims) dirty_ = true;
        values_.leaves[S] = ref;
        src_[S] = ref.data;
    }

    // Bind every leaf to the array it was built with; a name used with two arrays is an error.
    void bind_leaves_from_expression() {
        const std::string_view conflict = values_.bind(expr_);
        if (!conflict.empty())
            throw binding_error("leaf \"" + std::string(conflict) +
                                "\" is used with two different arrays; one name is one variable");
        for (std::size_t i = 0; i < N; ++i) src_[i] = values_.leaves[i].data;
    }

    // Shapes from the bindings, then one arena holding every computed value, gradient and
    // workspace (grad/runtime.hpp), then each param's gradient array sized to its param.
    void prepare() {
        // First: from here on the shapes change and the gradients are re-sized, so none is
        // valid any more, also when planning throws half-way.
        backward_done_ = false;
        const auto ops = op_addresses();
        detail::plan_buffers<value_type>(view, state(), steps::columns.infer.data(), ops.data());
        for (std::size_t i = 0; i < N; ++i) {
            const std::size_t p = grad_layout::columns.pos[i];
            // (A rank without params has an empty array: its branch is not built.)
            switch (grad_layout::columns.rank[i]) {
                case 0:
                    if constexpr (grad_layout::columns.counts[0] > 0)
                        detail::size_grad(param_grads_.r0[p], shapes_[i], grads_[i]);
                    break;
                case 1:
                    if constexpr (grad_layout::columns.counts[1] > 0)
                        detail::size_grad(param_grads_.r1[p], shapes_[i], grads_[i]);
                    break;
                case 2:
                    if constexpr (grad_layout::columns.counts[2] > 0)
                        detail::size_grad(param_grads_.r2[p], shapes_[i], grads_[i]);
                    break;
                default:
                    break;  // not a param: its gradient lives in the arena
            }
        }
        dirty_ = false;
    }

    void backward_all() {
        const auto ops = op_addresses();
        detail::run_backward<value_type>(view, state(), steps::columns.backward.data(), ops.data(),
                                         vjp_fused_.data(), check_finite_);
    }
};

}  // namespace fusegrad
