// fg::check::verify_rule: every built-in rule keeps values and gradients (three ways), and a
// wrong rule is caught with the comparison that shows it.

#include <catch2/catch.hpp>

#include <set>
#include <sstream>
#include <string>

#include <boost/hana/for_each.hpp>

#include <fusegrad/check/verify_rule.hpp>
#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;
namespace ck = fusegrad::check;
using namespace fg::placeholders;

namespace check_test_ops {  // named: clang warns on unused members of ops in an unnamed namespace

// identity forward, but a vjp that doubles: right values, wrong gradient.
struct bad_identity {
    static constexpr std::string_view name = "bad_identity";
    template <std::size_t R>
    static constexpr std::size_t result_rank = R;
    fg::shape infer(const fg::shape& x) const { return x; }
    template <class T>
    void forward(fg::mview<T> out, fg::cview<T> x) const {
        for (std::size_t i = 0; i < x.size(); ++i) out.data[i] = x.data[i];
    }
    template <class T>
    void vjp(fg::grad_sink<T> dx, fg::cview<T> g, fg::cview<T>, fg::cview<T>) const {
        if (!dx) return;
        for (std::size_t i = 0; i < g.size(); ++i)
            dx.data[i] = 2 * g.data[i] + (dx.accumulate ? dx.data[i] : T(0));
    }
};

}  // namespace check_test_ops

namespace {

using namespace check_test_ops;

fg::linear_xent_options ignore_lx() {
    fg::linear_xent_options o;
    o.ignore_index = 3;
    return o;
}

void require_passed(const ck::rule_report& r) {
    INFO(r);
    REQUIRE(r.passed());
    REQUIRE_FALSE(r.rules_fired.empty());
}

}  // namespace

TEST_CASE("every built-in rule is verified: values and gradients, three ways",
          "[check][verify_rule]") {
    std::set<std::string> verified;
    auto record = [&](const ck::rule_report& r) {
        require_passed(r);
        for (const auto& f : r.rules_fired) verified.insert(f);
    };

    // Patterns instantiated from shapes: logits in [-3, 3), class indices and probabilities.
    record(ck::verify_rule(fg::rules::nll_of_softmax, ck::matrix(4, 5, -3, 3),
                           ck::class_labels(4, 5)));
    record(ck::verify_rule(fg::rules::nll_of_softmax, ck::matrix(3, 6, -3, 3), ck::targets(3, 6)));
    record(ck::verify_rule(fg::rules::log_of_softmax, ck::matrix(3, 4, -3, 3)));
    record(ck::verify_rule(fg::rules::log_of_softmax, ck::vector(7, -3, 3)));

    // The sigmoid fusions: logits in [-3, 3), targets in [0, 1) (a param: their gradient too).
    record(ck::verify_rule(fg::rules::bce_of_sigmoid, ck::matrix(3, 4, -3, 3),
                           ck::matrix(3, 4, 0, 1)));
    record(ck::verify_rule(fg::rules::bce_of_sigmoid, ck::vector(9, -3, 3), ck::vector(9, 0, 1)));
    record(ck::verify_rule(fg::rules::log_of_sigmoid, ck::matrix(3, 4, -3, 3)));
    record(ck::verify_rule(fg::rules::logsumexp_of_exp, ck::matrix(3, 5, -3, 3)));

    // The reduction rules match any operand of sum / mean and decline unless it is a per-row
    // softmax_xent: verified on expressions built here, with every option of softmax_xent.
    xt::xtensor<double, 2> S = {
        {0.5, -1.0, 2.0, 0.1}, {1.5, 0.3, -0.7, -2.0}, {0.0, 0.9, -0.4, 1.1}};
    xt::xtensor<std::int64_t, 1> y = {3, 0, 1};
    xt::xtensor<double, 2> T = {
        {0.1, 0.2, 0.3, 0.4}, {0.25, 0.25, 0.25, 0.25}, {0.7, 0.1, 0.1, 0.1}};
    xt::xtensor<double, 1> w = {0.5, 2.0, 1.0, 1.5};
    auto s = fg::param<"s">(S);
    auto k = fg::labels<"y">(y);
    auto t = fg::param<"t">(T);  // a param: the target gradient is verified too
    fg::xent_options ignore;
    ignore.ignore_index = 3;
    fg::xent_options smooth;
    smooth.label_smoothing = 0.2;
    constexpr auto none = fg::reduction::none;
    // nll_logp(log_softmax(s), y) captures its top for ignore_index: verified on expressions,
    // with PyTorch's default (-100, which no label here is), a class ignored, and targets.
    record(ck::verify_rule_on(fg::rules::nll_logp_of_log_softmax,
                              fg::nll_logp(fg::log_softmax(s), k)));
    record(ck::verify_rule_on(fg::rules::nll_logp_of_log_softmax,
                              fg::nll_logp(fg::log_softmax(s), k, 0)));
    record(ck::verify_rule_on(fg::rules::nll_logp_of_log_softmax,
                              fg::nll_logp(fg::log_softmax(s), t)));
    // nll_loss(log_softmax(s), y[, w]) -> softmax_xent<R>: every reduction, a class ignored,
    // class weights.
    const auto nw = fg::constant(w);
    record(ck::verify_rule_on(fg::rules::nll_loss_of_log_softmax,
                              fg::nll_loss(fg::log_softmax(s), k)));
    record(ck::verify_rule_on(fg::rules::nll_loss_of_log_softmax,
                              fg::nll_loss<fg::reduction::sum>(fg::log_softmax(s), k, 0)));
    record(ck::verify_rule_on(fg::rules::nll_loss_of_log_softmax,
                              fg::nll_loss<none>(fg::log_softmax(s), k, 3)));
    record(ck::verify_rule_on(fg::rules::weighted_nll_loss_of_log_softmax,
                              fg::nll_loss(fg::log_softmax(s), k, nw, 0)));
    record(ck::verify_rule_on(fg::rules::weighted_nll_loss_of_log_softmax,
                              fg::nll_loss<fg::reduction::sum>(fg::log_softmax(s), k, nw)));
    record(ck::verify_rule_on(fg::rules::weighted_nll_loss_of_log_softmax,
                              fg::nll_loss<none>(fg::log_softmax(s), k, nw)));
    record(ck::verify_rule_on(fg::rules::sum_of_xent, fg::sum(fg::cross_entropy<none>(s, k))));
    record(ck::verify_rule_on(fg::rules::sum_of_xent,
                              fg::sum(fg::cross_entropy<none>(s, k, fg::constant(w), ignore))));
    record(
        ck::verify_rule_on(fg::rules::sum_of_xent, fg::sum(fg::cross_entropy<none>(s, t, smooth))));
    record(ck::verify_rule_on(fg::rules::mean_of_xent, fg::mean(fg::cross_entropy<none>(s, k))));
    record(ck::verify_rule_on(fg::rules::mean_of_xent,
                              fg::mean(fg::cross_entropy<none>(s, k, ignore))));
    record(ck::verify_rule_on(fg::rules::mean_of_xent,
                              fg::mean(fg::cross_entropy<none>(s, t, smooth))));

    // The linear + cross-entropy fusions, on x (3×2), W (2×4), b: every param's gradient.
    xt::xtensor<double, 2> X = {{0.5, -1.0}, {1.5, 0.3}, {-0.4, 0.8}};
    xt::xtensor<double, 2> Wm = {{0.2, -0.5, 1.0, 0.3}, {-0.7, 0.4, 0.1, 0.9}};
    xt::xtensor<double, 1> b = {0.1, -0.2, 0.0, 0.3};
    auto x = fg::param<"x">(X);
    auto W = fg::param<"W">(Wm);
    auto bb = fg::param<"b">(b);
    auto cw = fg::constant(w);
    constexpr auto sum = fg::reduction::sum;
    fg::xent_options both = ignore;
    both.label_smoothing = 0.1;
    record(
        ck::verify_rule_on(fg::rules::xent_of_linear, fg::cross_entropy(fg::linear(x, W, bb), k)));
    record(ck::verify_rule_on(fg::rules::xent_of_linear,
                              fg::cross_entropy<none>(fg::linear(x, W, bb), k, both)));
    record(ck::verify_rule_on(fg::rules::weighted_xent_of_linear,
                              fg::cross_entropy<sum>(fg::linear(x, W, bb), k, cw, both)));
    record(ck::verify_rule_on(fg::rules::xent_of_matmul, fg::cross_entropy(fg::matmul(x, W), k)));
    record(ck::verify_rule_on(fg::rules::weighted_xent_of_matmul,
                              fg::cross_entropy(fg::matmul(x, W), k, cw, ignore)));
    fg::linear_xent_options extra;
    extra.z_loss = 0.1;
    extra.softcap = 2.0;
    extra.label_smoothing = 0.2;
    record(ck::verify_rule_on(fg::rules::sum_of_linear_xent,
                              fg::sum(fg::linear_cross_entropy<none>(x, W, bb, k, cw, extra))));
    record(ck::verify_rule_on(fg::rules::mean_of_linear_xent,
                              fg::mean(fg::linear_cross_entropy<none>(x, W, k, extra))));
    record(ck::verify_rule_on(fg::rules::mean_of_linear_xent,
                              fg::mean(fg::linear_cross_entropy<none>(x, W, bb, k, ignore_lx()))));

    // The rows of a table read in place: a param table (its scatter-add gradient verified too),
    // repeated indices; and under a cross-entropy, linear_xent on the embedding as written.
    xt::xtensor<std::int64_t, 1> pick = {2, 1, 2, 0, 2, 1};
    auto k6 = fg::labels<"i">(pick);
    auto e = fg::embedding(x, k6);
    xt::xtensor<std::int64_t, 1> y6 = {2, 0, 3, 1, 0, 2};
    auto k6y = fg::labels<"y6">(y6);
    record(ck::verify_rule_on(fg::rules::linear_of_embedding, fg::sum(fg::linear(e, W, bb))));
    record(ck::verify_rule_on(fg::rules::xent_of_linear,
                              fg::cross_entropy(fg::linear(e, W, bb), k6y, both)));
    record(ck::verify_rule_on(fg::rules::weighted_xent_of_linear,
                              fg::cross_entropy<none>(fg::linear(e, W, bb), k6y, cw, ignore)));
    // A table without gradient: embedding_linear_xent, the rows read in place, and its per-row
    // form folded by the sum and mean rules.
    auto ei = fg::embedding(fg::input<"xi">(X), k6, 1);
    record(ck::verify_rule_on(fg::rules::xent_of_linear,
                              fg::cross_entropy(fg::linear(ei, W, bb), k6y, both)));
    record(ck::verify_rule_on(fg::rules::weighted_xent_of_linear,
                              fg::cross_entropy<sum>(fg::linear(ei, W, bb), k6y, cw)));
    record(ck::verify_rule_on(fg::rules::sum_of_linear_xent,
                              fg::sum(fg::linear_cross_entropy<none>(ei, W, bb, k6y, cw, extra))));
    record(ck::verify_rule_on(fg::rules::mean_of_linear_xent,
                              fg::mean(fg::linear_cross_entropy<none>(ei, W, bb, k6y, extra))));

    // Every rule of the default set was verified above.
    std::set<std::string> builtin;
    boost::hana::for_each(fg::default_rules().rules,
                          [&](const auto& r) { builtin.insert(std::string(r.name)); });
    CHECK(builtin.size() == 17);
    CHECK(verified == builtin);
}

TEST_CASE("verify_rule reports three comparisons per param, per trial", "[check][verify_rule]") {
    ck::verify_options opts;
    opts.trials = 2;
    const auto r = ck::verify_rule(fg::rules::nll_of_softmax, opts, ck::matrix(3, 4, -2, 2),
                                   ck::class_labels(3, 4));
    REQUIRE(r.passed());
    CHECK(r.rows.size() == 2 * (1 + 3));  // value, then three gradient rows for "_1"
    CHECK(r.pattern.find("nll(softmax(_1 (3, 4)), _2 (3))") != std::string::npos);
    CHECK(r.replacement.find("softmax_xent(_1 (3, 4), _2 (3)") != std::string::npos);
    std::ostringstream os;
    os << r;
    CHECK_THAT(os.str(), Catch::Contains("u·J in _1: replacement vs finite differences"));
}

TEST_CASE("verify_rule catches a rule with the wrong value", "[check][verify_rule]") {
    const auto wrong = fg::make_rule<fg::pattern<fg::op::log, fg::pattern<fg::op::softmax, _1_t>>>(
        "log(softmax(s)) -> softmax(s)", [](const auto& x) { return fg::softmax(x); });
    const auto r = ck::verify_rule(wrong, ck::matrix(2, 3));
    CHECK_FALSE(r.passed());
    CHECK_FALSE(r.rows.front().result.passed());  // the values differ
    ck::verify_options opts;
    opts.throw_on_failure = true;
    CHECK_THROWS_AS(ck::verify_rule(wrong, opts, ck::matrix(2, 3)), ck::rule_error);
}

TEST_CASE("verify_rule catches a rule with right values and a wrong gradient",
          "[check][verify_rule]") {
    const auto wrong = fg::make_rule<fg::pattern<fg::op::neg, fg::pattern<fg::op::neg, _1_t>>>(
        "neg(neg(x)) -> bad_identity(x)", [](const auto& x) {
            return fg::node<bad_identity, std::remove_cvref_t<decltype(x)>>{{}, {x}};
        });
    const auto r = ck::verify_rule(wrong, ck::matrix(2, 3));
    INFO(r);
    REQUIRE(r.rows.size() == 3 * 4);
    for (std::size_t trial = 0; trial < 3; ++trial) {
        const auto* rows = &r.rows[4 * trial];
        CHECK(rows[0].result.passed());        // value: replacement vs pattern
        CHECK_FALSE(rows[1].result.passed());  // gradient: replacement vs pattern
        CHECK(rows[2].result.passed());        // gradient: pattern vs finite differences
        CHECK_FALSE(rows[3].result.passed());  // gradient: replacement vs finite differences
    }
}

TEST_CASE("verify_rule says so when the rule does not fire", "[check][verify_rule]") {
    // mean(softmax_xent) declines with class weights (PyTorch's weighted mean differs).
    xt::xtensor<double, 2> S = {{0.5, -1.0}, {1.5, 0.3}};
    xt::xtensor<std::int64_t, 1> y = {1, 0};
    xt::xtensor<double, 1> w = {0.5, 2.0};
    auto e = fg::mean(fg::cross_entropy<fg::reduction::none>(fg::param<"s">(S), fg::labels<"y">(y),
                                                             fg::constant(w)));
    CHECK_THROWS_WITH(ck::verify_rule_on(fg::rules::mean_of_xent, e),
                      Catch::Contains("does not fire"));
}
