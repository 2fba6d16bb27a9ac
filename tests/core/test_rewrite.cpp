// Compile-time rewriting: each built-in rule fires where it should and not on near misses;
// user rules, declining builders, rule-set composition and the fixpoint.

#include <catch2/catch.hpp>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;
using namespace fg::placeholders;
using fg::reduction;

namespace {

struct fixture {
    xt::xtensor<float, 2> X = {{1.f, 2.f}, {3.f, 4.f}};
    xt::xtensor<float, 2> W = {{0.5f, -0.5f}, {0.25f, 1.f}};
    xt::xtensor<float, 1> b = {0.f, 0.1f};
    xt::xtensor<std::int32_t, 1> y = {1, 0};
    xt::xtensor<float, 2> Y = {{0.2f, 0.8f}, {1.f, 0.f}};
};

template <class A, class B>
constexpr bool same = std::is_same_v<A, B>;

}  // namespace

TEST_CASE("the textbook graph fuses into one linear_xent with the mean folded in", "[rewrite]") {
    fixture f;
    auto x = fg::input<"x">(f.X);
    auto W = fg::param<"W">(f.W);
    auto b = fg::param<"b">(f.b);
    auto s = fg::linear(x, W, b);
    auto t = fg::labels<"y">(f.y);
    auto loss = fg::mean(fg::nll(fg::softmax(s), t));
    using fused = decltype(fg::rewrite(loss));
    STATIC_REQUIRE(same<fused, fg::node<fg::op::linear_xent<reduction::mean, true>, decltype(x),
                                        decltype(W), decltype(b), decltype(t)>>);
    STATIC_REQUIRE_FALSE(fg::contains_op<fused, fg::op::softmax>);
    STATIC_REQUIRE_FALSE(fg::contains_op<fused, fg::op::nll>);
    STATIC_REQUIRE_FALSE(fg::contains_op<fused, fg::op::linear>);
    CHECK(fg::rules_fired(loss) ==
          std::vector<std::string>{"nll(softmax(s), y) -> softmax_xent(s, y)",
                                   "mean(softmax_xent(s, y)) -> softmax_xent<mean>(s, y)",
                                   "softmax_xent(linear(x, W, b), y) -> linear_xent(x, W, b, y)"});
    // The mean over the rows of the per-row losses divides by N, whatever is ignored.
    CHECK(fg::rewrite(loss).op.options.mean_over_all_rows);
    // Without the linear layer the fusion stops at softmax_xent.
    auto logits_only = fg::mean(fg::nll(fg::softmax(fg::param<"s">(f.X)), t));
    STATIC_REQUIRE(same<decltype(fg::rewrite(logits_only)),
                        fg::node<fg::op::softmax_xent<reduction::mean>,
                                 fg::leaf<"s", fg::param_kind, float, 2>, decltype(t)>>);
    // fg::compile applies the default rules; fg::no_rewrite keeps the graph as written.
    auto g = fg::compile(loss);
    STATIC_REQUIRE(same<decltype(g)::expression_type, fused>);
    CHECK(g.rules_fired().size() == 3);
    auto u = fg::compile(loss, fg::no_rewrite);
    STATIC_REQUIRE(same<decltype(u)::expression_type, decltype(loss)>);
    CHECK(u.rules_fired().empty());
}

TEST_CASE("each built-in rule fires on its pattern", "[rewrite]") {
    fixture f;
    auto s = fg::param<"s">(f.X);
    auto t = fg::labels<"y">(f.y);
    auto T = fg::labels<"Y">(f.Y);
    using S = decltype(s);
    using Ti = decltype(t);
    using Tp = decltype(T);
    // nll(softmax(s), y) -> softmax_xent(s, y), class indices and probability targets
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::nll(fg::softmax(s), t))),
                        fg::node<fg::op::softmax_xent<reduction::none>, S, Ti>>);
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::nll(fg::softmax(s), T))),
                        fg::node<fg::op::softmax_xent<reduction::none>, S, Tp>>);
    // log(softmax(s)) -> log_softmax(s)
    STATIC_REQUIRE(
        same<decltype(fg::rewrite(fg::log(fg::softmax(s)))), fg::node<fg::op::log_softmax, S>>);
    // nll_logp(log_softmax(s), y) -> softmax_xent(s, y), also reached from
    // nll_logp(log(softmax(s)), y)
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::nll_logp(fg::log_softmax(s), t))),
                        fg::node<fg::op::softmax_xent<reduction::none>, S, Ti>>);
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::nll_logp(fg::log(fg::softmax(s)), t))),
                        fg::node<fg::op::softmax_xent<reduction::none>, S, Ti>>);
    // sum / mean fold into the reduction
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::sum(fg::nll(fg::softmax(s), t)))),
                        fg::node<fg::op::softmax_xent<reduction::sum>, S, Ti>>);
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::mean(fg::nll(fg::softmax(s), T)))),
                        fg::node<fg::op::softmax_xent<reduction::mean>, S, Tp>>);
}

TEST_CASE("near misses are left alone", "[rewrite]") {
    fixture f;
    auto s = fg::param<"s">(f.X);
    auto t = fg::labels<"y">(f.y);
    // a softmax whose output is used elsewhere too: fusing would compute it twice
    auto p = fg::softmax(s);
    auto shared = fg::mean(fg::nll(p, t)) + fg::sum(p);
    STATIC_REQUIRE(same<decltype(fg::rewrite(shared)), decltype(shared)>);
    CHECK(fg::rules_fired(shared).empty());
    // ... also when the other use is deeper inside
    auto shared_deep = fg::mean(fg::nll(p, t)) + fg::sum(fg::exp(fg::log(p)));
    STATIC_REQUIRE_FALSE(
        fg::contains_op<decltype(fg::rewrite(shared_deep)), fg::op::softmax_xent<reduction::mean>>);
    // nll over something that is not a softmax
    auto not_softmax = fg::mean(fg::nll(fg::exp(s), t));
    STATIC_REQUIRE(same<decltype(fg::rewrite(not_softmax)), decltype(not_softmax)>);
    // log of a log_softmax, softmax of a log: no rule
    auto other = fg::sum(fg::log(fg::log_softmax(s))) + fg::sum(fg::softmax(fg::log(s)));
    STATIC_REQUIRE(same<decltype(fg::rewrite(other)), decltype(other)>);
    // a mean over something other than a per-row cross-entropy
    auto mean_other = fg::mean(fg::nll(fg::param<"p">(f.X), t));
    STATIC_REQUIRE(same<decltype(fg::rewrite(mean_other)), decltype(mean_other)>);
}

TEST_CASE("one loss used twice is one value and fuses once per occurrence", "[rewrite]") {
    fixture f;
    auto s = fg::param<"s">(f.X);
    auto t = fg::labels<"y">(f.y);
    auto l = fg::mean(fg::nll(fg::softmax(s), t));
    using fused = decltype(fg::rewrite(l));
    STATIC_REQUIRE(same<decltype(fg::rewrite(l + l)), fg::node<fg::op::add, fused, fused>>);
}

TEST_CASE("user rules: builders, declining, composition with +, first match wins", "[rewrite]") {
    fixture f;
    auto w = fg::param<"W">(f.W);
    auto v = fg::input<"v">(f.X);
    // exp(log(x)) -> x, but only for params (a builder that declines on types)
    auto exp_log = fg::make_rule<fg::pattern<fg::op::exp, fg::pattern<fg::op::log, _1_t>>>(
        "exp(log(x)) -> x", [](const auto& x) {
            if constexpr (fg::is_param_v<std::remove_cvref_t<decltype(x)>>)
                return x;
            else
                return fg::decline;
        });
    STATIC_REQUIRE(
        same<decltype(fg::rewrite(fg::sum(fg::exp(fg::log(w))), exp_log)), decltype(fg::sum(w))>);
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::sum(fg::exp(fg::log(v))), exp_log)),
                        decltype(fg::sum(fg::exp(fg::log(v))))>);

    // x + x -> 2·x: a repeated placeholder matches only equal operands
    auto twice = fg::make_rule<fg::pattern<fg::op::add, _1_t, _1_t>>(
        "x + x -> 2x", [](const auto& x) { return 2.0 * x; });
    STATIC_REQUIRE(same<decltype(fg::rewrite(w + w, twice)), decltype(2.0 * w)>);
    STATIC_REQUIRE(same<decltype(fg::rewrite(w + v, twice)), decltype(w + v)>);

    // first match wins: the same pattern with two builders
    auto to_neg = fg::make_rule<fg::pattern<fg::op::exp, _1_t>>("exp(x) -> -x",
                                                                [](const auto& x) { return -x; });
    auto to_relu = fg::make_rule<fg::pattern<fg::op::exp, _1_t>>(
        "exp(x) -> relu(x)", [](const auto& x) { return fg::relu(x); });
    STATIC_REQUIRE(same<decltype(fg::rewrite(fg::exp(w), to_neg + to_relu)), decltype(-w)>);
    STATIC_REQUIRE(
        same<decltype(fg::rewrite(fg::exp(w), to_relu + to_neg)), decltype(fg::relu(w))>);

    // User rules composed with the defaults, rewriting to a fixpoint across passes:
    // -(-x) -> x (user) exposes nll(softmax(s), y) (pass 2), whose result exposes the mean (pass
    // 3).
    auto t = fg::labels<"y">(f.y);
    auto neg_neg = fg::make_rule<fg::pattern<fg::op::neg, fg::pattern<fg::op::neg, _1_t>>>(
        "-(-x) -> x", [](const auto& x) { return x; });
    auto loss = fg::mean(fg::nll(fg::softmax(-(-w)), t));
    using R = decltype(fg::rewrite(loss, neg_neg + fg::default_rules()));
    STATIC_REQUIRE(
        same<R, fg::node<fg::op::softmax_xent<reduction::mean>, decltype(w), decltype(t)>>);
    CHECK(fg::rules_fired(loss, neg_neg + fg::default_rules()).size() == 3);
}
