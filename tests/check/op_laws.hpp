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

struct law_runner {
    std::string op;
    std::size_t instances = 0;

    template <class E>
    void operator()(const char* what, const E& expr, fg::shape expected) {
        ++instances;
        INFO(op << ": " << what << ": " << fg::to_string(expr));
        using params = fg::check::param_leaves_t<E>;
        auto g = fg::compile(expr, fg::no_rewrite);
        g.forward();

        // Law 3: the value's shape.
        CHECK(g.value_shape() == expected);

        // Law 1: the vjp against central differences, the full Jacobian of every param operand.
        fg::check::gradcheck_options opts;
        opts.atol = 1e-7;
        opts.rtol = 1e-6;
        fg::check::for_each_type<params>([&]<class L>(std::type_identity<L>) {
            const auto r = fg::check::jacobian_of<L::name>(expr, fg::no_rewrite, opts);
            INFO(r);
            CHECK(r.passed());
            CHECK(r.analytic.shape()[0] == expected.size());
        });

        // Law 2: linear in the upstream gradient.
        const std::size_t m = g.value_shape().size();
        fg::check::random_stream rng(fg::check::hash_name(op) ^ instances);
        std::vector<double> u(m), v(m), w(m);
        const double alpha = 0.7, beta = -1.3;
        for (std::size_t i = 0; i < m; ++i) {
            u[i] = rng.normal();
            v[i] = rng.normal();
            w[i] = alpha * u[i] + beta * v[i];
        }
        auto grads_for = [&](const std::vector<double>& seed) {
            g.backward(fg::cview<double>{seed.data(), g.value_shape()});
            std::vector<std::vector<double>> out;
            fg::check::for_each_type<params>([&]<class L>(std::type_identity<L>) {
                const auto& gr = g.template grad<L::name>();
                out.emplace_back(gr.begin(), gr.end());
                // Law 3: each gradient has its operand's shape.
                const auto leaf = find_leaf<L>(expr);
                CHECK(gr.size() == leaf->ref.dims.size());
                if constexpr (L::rank == 2)
                    CHECK((gr.shape()[0] == leaf->ref.dims.rows &&
                           gr.shape()[1] == leaf->ref.dims.cols));
            });
            return out;
        };
        const auto gu = grads_for(u), gv = grads_for(v), gw = grads_for(w);
        double worst = 0;
        for (std::size_t k = 0; k < gu.size(); ++k)
            for (std::size_t i = 0; i < gu[k].size(); ++i) {
                const double lin = alpha * gu[k][i] + beta * gv[k][i];
                worst = std::max(worst, std::abs(gw[k][i] - lin) / (1 + std::abs(lin)));
            }
        INFO("linearity: worst relative deviation " << worst);
        CHECK(worst <= 1e-12);

        // Law 4: accumulation. In sum(expr) + sum(p) the backward pass meets sum(p) first, which
        // writes p's gradient; the op under test then accumulates into it: the result must be
        // the op's own gradient (for an upstream of ones) plus one.
        const std::vector<double> ones(m, 1.0);
        const auto g1 = grads_for(ones);
        std::size_t k = 0;
        fg::check::for_each_type<params>([&]<class L>(std::type_identity<L>) {
            const auto leaf = find_leaf<L>(expr);
            auto both = fg::compile(fg::sum(expr) + fg::sum(*leaf), fg::no_rewrite);
            both.run();
            const auto& gb = both.template grad<L::name>();
            double dev = 0;
            for (std::size_t i = 0; i < gb.size(); ++i)
                dev = std::max(dev, std::abs(gb.data()[i] - (g1[k][i] + 1.0)));
            INFO("accumulation into " << L::name.view() << ": worst deviation " << dev);
            CHECK(dev <= 1e-12 * (1 + m));
            ++k;
        });
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
