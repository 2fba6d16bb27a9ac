// Gradient laws, written once and run over every op in the registry (as Hana runs its laws over
// every model of a concept):
//   1. the vjp equals the numeric Jacobian (central differences in double), for every operand;
//   2. the vjp is linear in the upstream gradient: vjp(αu + βv) = α·vjp(u) + β·vjp(v);
//   3. shapes: the value has the shape the fixture states, each gradient its operand's shape;
//   4. accumulation: with `accumulate` set, the vjp adds to what another use wrote.
// An op in the registry without a law fixture fails here.
//
// The laws run in four TUs (test_op_laws_<k>.cpp, every fourth op of the registry each) so that
// no one TU holds every op's instantiations: under the sanitizers that one TU took 21 minutes.
#pragma once

#include <catch2/catch.hpp>

#include <optional>

#include <cmath>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fusegrad/check/jacobian.hpp>
#include <fusegrad/fusegrad.hpp>
#include <fusegrad/ops/registry.hpp>

#include "op_law_fixtures.hpp"

namespace fg = fusegrad;

namespace {

// The leaf of type L inside expression e (the first occurrence), by value: a pure node
// rebuilds its operands on request (core/node.hpp).
template <class L, class E>
std::optional<L> find_leaf(const E& e) {
    if constexpr (std::is_same_v<E, L>) {
        return e;
    } else if constexpr (fg::is_leaf_v<E>) {
        return std::nullopt;
    } else {
        return fg::apply_operands(
            [](const auto&... c) {
                std::optional<L> found;
                ((found = found ? found : find_leaf<L>(c)), ...);
                return found;
            },
            e);
    }
}

// The types of a type_list at even (Parity 0) or odd (Parity 1) positions.
template <std::size_t Parity, class List>
struct every_other;
template <std::size_t Parity, class... Ls>
struct every_other<Parity, fg::detail::type_list<Ls...>> {
    template <std::size_t... I>
    static auto pick(std::index_sequence<I...>) -> fg::detail::concat_t<
        std::conditional_t<I % 2 == Parity, fg::detail::type_list<Ls>, fg::detail::type_list<>>...>;
    using type = decltype(pick(std::index_sequence_for<Ls...>{}));
};

// sum(expr) + sum(p1) + ... + sum(pk) over the params Ls of expr (law 4).
template <class E, class... Ls>
auto with_param_sums(const E& expr, fg::detail::type_list<Ls...>) {
    return (fg::sum(expr) + ... + fg::sum(*find_leaf<Ls>(expr)));
}

// What the laws need of a compiled graph, behind function pointers, so that the checks below
// are compiled once rather than once per expression (the law TUs were the largest of the build).
struct graph_handle {
    void* g;
    // With a seed: backward seeded with it first. Then every param's gradient as double, in
    // `names` order.
    std::vector<std::vector<double>> (*grads)(void* g, const std::vector<double>* seed,
                                              const std::vector<std::string_view>& names);

    std::vector<std::vector<double>> grads_for(const std::vector<double>& seed,
                                               const std::vector<std::string_view>& names) const {
        return grads(g, &seed, names);
    }
};

template <class G>
graph_handle handle_of(G& g) {
    return {&g, [](void* p, const std::vector<double>* seed,
                   const std::vector<std::string_view>& names) {
                auto& graph = *static_cast<G*>(p);
                using T = typename G::value_type;
                if (seed) {
                    const std::vector<T> s(seed->begin(), seed->end());
                    graph.backward(fg::cview<T>{s.data(), graph.value_shape()});
                }
                std::vector<std::vector<double>> out;
                for (const auto name : names) {
                    const auto gr = graph.param_grad(name);
                    out.emplace_back(gr.data, gr.data + gr.size());
                }
                return out;
            }};
}

// One param of the instance: its name, its shape, and the shape its typed gradient container
// (grad<Name>()) had.
struct param_facts {
    std::string_view name;
    fg::shape dims;
    std::size_t grad_size = 0, grad_rows = 0, grad_cols = 0;
    std::size_t rank = 0;
};

// Laws 1 to 4 on the facts gathered from one instance (law_runner::operator()).
inline void check_laws(const std::string& op, std::size_t instance, const fg::shape& expected,
                       const fg::shape& value_shape,
                       const std::vector<fg::check::jacobian_report>& jacobians,
                       const std::vector<param_facts>& params, graph_handle g, graph_handle even,
                       graph_handle odd) {
    // Law 3: the value's shape.
    CHECK(value_shape == expected);

    // Law 1: the vjp against central differences, the full Jacobian of every param operand.
    for (const auto& r : jacobians) {
        INFO(r);
        CHECK(r.passed());
        CHECK(r.analytic.shape()[0] == expected.size());
    }

    // Law 3: each gradient (the typed container grad<Name>() returns) has its operand's shape.
    std::vector<std::string_view> names;
    for (const auto& p : params) {
        INFO("param " << p.name);
        names.push_back(p.name);
        CHECK(p.grad_size == p.dims.size());
        if (p.rank == 2) CHECK((p.grad_rows == p.dims.rows && p.grad_cols == p.dims.cols));
    }

    // Law 2: linear in the upstream gradient.
    const std::size_t m = value_shape.size();
    fg::check::random_stream rng(fg::check::hash_name(op) ^ instance);
    std::vector<double> u(m), v(m), w(m);
    const double alpha = 0.7, beta = -1.3;
    for (std::size_t i = 0; i < m; ++i) {
        u[i] = rng.normal();
        v[i] = rng.normal();
        w[i] = alpha * u[i] + beta * v[i];
    }
    const auto gu = g.grads_for(u, names), gv = g.grads_for(v, names), gw = g.grads_for(w, names);
    double worst = 0;
    for (std::size_t k = 0; k < gu.size(); ++k)
        for (std::size_t i = 0; i < gu[k].size(); ++i) {
            const double lin = alpha * gu[k][i] + beta * gv[k][i];
            worst = std::max(worst, std::abs(gw[k][i] - lin) / (1 + std::abs(lin)));
        }
    INFO("linearity: worst relative deviation " << worst);
    CHECK(worst <= 1e-12);

    // Law 4: accumulation. In sum(expr) + sum(p) the backward pass meets sum(p) first, which
    // writes p's gradient; the op under test then accumulates into it: the result must be the
    // op's own gradient (for an upstream of ones) plus one, and an operand whose param is not
    // summed keeps the op's own gradient. Twice, after run(): `even` sums the params at even
    // positions, `odd` those at odd positions, so each operand's accumulate flag is set in one
    // graph and clear in the other while its neighbour's is the opposite (a vjp that reads
    // another operand's flag fails).
    const auto g1 = g.grads_for(std::vector<double>(m, 1.0), names);
    const auto ge = even.grads(even.g, nullptr, names);
    const auto go = odd.grads(odd.g, nullptr, names);
    for (std::size_t k = 0; k < names.size(); ++k) {
        double dev_even = 0, dev_odd = 0;
        for (std::size_t i = 0; i < g1[k].size(); ++i) {
            dev_even = std::max(dev_even, std::abs(ge[k][i] - (g1[k][i] + (k % 2 == 0))));
            dev_odd = std::max(dev_odd, std::abs(go[k][i] - (g1[k][i] + (k % 2 == 1))));
        }
        INFO("accumulation into " << names[k] << ": worst deviation " << dev_even
                                  << " (even params summed), " << dev_odd << " (odd params)");
        CHECK(dev_even <= 1e-12 * (1 + m));
        CHECK(dev_odd <= 1e-12 * (1 + m));
    }
}

struct law_runner {
    std::string op;
    std::size_t instances = 0;

    // Gathers what depends on the expression's type (the compiled graphs, the Jacobians, the
    // params' shapes), then checks the laws on it in check_laws.
    template <class E>
    void operator()(const char* what, const E& expr, fg::shape expected) {
        ++instances;
        INFO(op << ": " << what << ": " << fg::to_string(expr));
        using params = fg::check::param_leaves_t<E>;
        auto g = fg::compile(expr, fg::no_rewrite);
        g.forward();
        const fg::shape value_shape = g.value_shape();

        fg::check::gradcheck_options opts;
        opts.atol = 1e-7;
        opts.rtol = 1e-6;
        std::vector<fg::check::jacobian_report> jacobians;
        std::vector<param_facts> facts;
        // a backward, so that grad<Name>() has its containers (law 3 reads their shapes)
        const std::vector<typename decltype(g)::value_type> zeros(value_shape.size());
        g.backward({zeros.data(), value_shape});
        fg::check::for_each_type<params>([&]<class L>(std::type_identity<L>) {
            jacobians.push_back(fg::check::jacobian_of<L::name>(expr, fg::no_rewrite, opts));
            const auto& gr = g.template grad<L::name>();
            param_facts f{L::name.view(), find_leaf<L>(expr)->ref.dims, gr.size(), 0, 0, L::rank};
            if constexpr (L::rank == 2) f.grad_rows = gr.shape()[0], f.grad_cols = gr.shape()[1];
            facts.push_back(f);
        });

        auto even = fg::compile(with_param_sums(expr, typename every_other<0, params>::type{}),
                                fg::no_rewrite);
        even.run();
        auto odd = fg::compile(with_param_sums(expr, typename every_other<1, params>::type{}),
                               fg::no_rewrite);
        odd.run();
        check_laws(op, instances, expected, value_shape, jacobians, facts, handle_of(g),
                   handle_of(even), handle_of(odd));
    }
};

template <class Op>
std::string op_label() {
    std::string s(Op::name);
    if constexpr (std::is_same_v<Op, fg::op::softmax_xent<fg::reduction::none>>) s += "<none>";
    if constexpr (std::is_same_v<Op, fg::op::softmax_xent<fg::reduction::mean>>) s += "<mean>";
    if constexpr (std::is_same_v<Op, fg::op::softmax_xent<fg::reduction::sum>>) s += "<sum>";
    return s;
}

template <class TestType>
void run_laws() {
    using fixture = fusegrad_test::law_fixture<TestType>;
    const std::string name = op_label<TestType>();
    INFO("op " << name);
    if constexpr (!fixture::defined) {
        FAIL("op " << name
                   << " is in the registry but has no law fixture in "
                      "tests/check/op_law_fixtures.hpp");
    } else {
        law_runner run{name};
        fixture::instances(run);
        CHECK(run.instances > 0);
    }
}

// The ops of the registry whose index is Part modulo law_parts: TEST_LIST of one TU.
inline constexpr std::size_t law_parts = 4;

template <std::size_t Part, class List>
struct ops_part;

template <std::size_t Part, class... Ops>
struct ops_part<Part, fg::detail::type_list<Ops...>> {
    template <std::size_t... I>
    static auto pick(std::index_sequence<I...>) -> fg::detail::concat_t<std::conditional_t<
        I % law_parts == Part, fg::detail::type_list<Ops>, fg::detail::type_list<>>...>;
    using type = decltype(pick(std::index_sequence_for<Ops...>{}));
};

template <std::size_t Part>
using ops_part_t = typename ops_part<Part, fg::op::all_ops>::type;

}  // namespace

#define FUSEGRAD_OP_LAWS_PART(K)                                                         \
    TEMPLATE_LIST_TEST_CASE("every registered op obeys the gradient laws (part " #K ")", \
                            "[check][laws]", ops_part_t<K>) {                            \
        run_laws<TestType>();                                                            \
    }
