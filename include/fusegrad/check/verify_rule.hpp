#pragma once
/// @file
/// `fg::check::verify_rule(rule, specs...)`: proof on random inputs that a rewrite rule keeps
/// values and gradients, three ways: the replacement agrees with the pattern (value and
/// vector-Jacobian product), and both agree with central differences of the pattern's value.
/// `verify_rule_on(rule, expr)` does the same on an expression the caller built, for rules
/// whose pattern is too general to instantiate from shapes alone.

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "fusegrad/check/comparison.hpp"
#include "fusegrad/check/gradcheck.hpp"
#include "fusegrad/check/input_spec.hpp"
#include "fusegrad/check/random.hpp"
#include "fusegrad/check/text_table.hpp"
#include "fusegrad/check/to_double.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/grad/compile.hpp"
#include "fusegrad/io/print.hpp"
#include "fusegrad/rewrite/pattern.hpp"
#include "fusegrad/rewrite/rule.hpp"

namespace fusegrad::check {

/// How `verify_rule` judges a rule.
struct verify_options {
    /// Central differences, as in gradcheck: step, and |a − n| ≤ atol + rtol·|n|.
    double eps = 1e-6;
    double atol = 1e-6;
    double rtol = 1e-5;
    /// Replacement against pattern, both computed in double: only rounding may separate them.
    double agree_atol = 1e-10;
    double agree_rtol = 1e-8;
    /// How many random draws of the inputs.
    std::size_t trials = 3;
    /// Seeds the inputs and the upstream vectors.
    std::uint64_t seed = 0x5eed;
    /// Throw `rule_error` (holding the report) when the rule fails.
    bool throw_on_failure = false;
};

/// One comparison of a rule check: which trial, what was compared, and the result.
struct rule_check_row {
    std::size_t trial = 0;
    std::string what;
    comparison result{};
};

/// The result of verifying a rule.
struct rule_report {
    std::string pattern;                   ///< the instantiated pattern (`fg::to_string`)
    std::string replacement;               ///< what the rule made of it
    std::vector<std::string> rules_fired;  ///< the rule(s) that fired
    std::vector<rule_check_row> rows;      ///< every comparison, per trial

    /// True when every comparison passed.
    bool passed() const noexcept {
        for (const auto& r : rows)
            if (!r.result.passed()) return false;
        return !rows.empty();
    }
};

/// The report as an aligned table, one row per comparison.
std::ostream& operator<<(std::ostream& os, const rule_report& r);

/// Thrown by verify_rule with `throw_on_failure`; what() is the report's table.
class rule_error : public std::runtime_error {
  public:
    explicit rule_error(rule_report r) : std::runtime_error(text(r)), report_(std::move(r)) {}
    /// The failing report.
    const rule_report& report() const noexcept { return report_; }

  private:
    rule_report report_;
    static std::string text(const rule_report& r);
};

namespace detail {

/// The leaf name of placeholder I: "_1", "_2", ...
template <std::size_t I>
constexpr auto placeholder_name() {
    static_assert(I >= 1 && I <= 9, "verify_rule supports placeholders _1 to _9");
    const char s[3] = {'_', static_cast<char>('0' + I), 0};
    return fixed_string<3>(s);
}

/// The expression a pattern stands for, with placeholder I bound to leaf I - 1 of Leaves.
template <class P, class Leaves>
struct instance;
template <std::size_t I, class... L>
struct instance<placeholder<I>, std::tuple<L...>> {
    using type = std::tuple_element_t<I - 1, std::tuple<L...>>;
    static type build(const std::tuple<L...>& l) { return std::get<I - 1>(l); }
};
template <class Op, class... Sub, class Leaves>
struct instance<pattern<Op, Sub...>, Leaves> {
    using type = node<Op, typename instance<Sub, Leaves>::type...>;
    static type build(const Leaves& l) { return type{Op{}, {instance<Sub, Leaves>::build(l)...}}; }
};

template <class Spec, std::size_t K>
using spec_leaf_t = typename Spec::template leaf_type<placeholder_name<K + 1>()>;

/// The comparisons of one trial, on graphs already compiled (src/check/verify_rule.cpp: compiled
/// once, not per rule and expression): the values of the replacement against the pattern's
/// (written), then for one random upstream vector u, each param's u·J of both against each
/// other and against central differences of the written graph's uᵀ·value, perturbing `copy`.
void verify_compare(const graph_handle& written, const graph_handle& fused, double_arrays& copy,
                    const std::vector<std::string>& params, const verify_options& opts,
                    std::size_t trial, rule_report& report);

/// Values and vector-Jacobian products of the pattern (as written) and the replacement, and
/// both against central differences, on the current values of `expr`'s leaves.
template <class Rule, class E>
void verify_once(const Rule& rule, const E& expr, const verify_options& opts, std::size_t trial,
                 rule_report& report) {
    double_copy<E> copy(expr);
    auto written = fusegrad::compile(copy.expr(), no_rewrite);
    auto fused = fusegrad::compile(copy.expr(), rule);
    if (fused.rules_fired().empty())
        throw std::invalid_argument("verify_rule: the rule does not fire on " +
                                    fusegrad::to_string(expr) +
                                    " (its pattern does not match, or its builder declines)");
    if (report.pattern.empty()) {
        report.pattern = fusegrad::to_string(copy.expr());
        report.replacement = fusegrad::to_string(fused.expression());
        report.rules_fired = fused.rules_fired();
    }
    const std::vector<std::string> params(decltype(written)::param_names.begin(),
                                          decltype(written)::param_names.end());
    verify_compare(graph_handle::of(written), graph_handle::of(fused), copy, params, opts, trial,
                   report);
}

template <class T>
inline constexpr bool is_input_spec_v = false;
template <std::size_t R>
inline constexpr bool is_input_spec_v<real_spec<R>> = true;
template <>
inline constexpr bool is_input_spec_v<class_labels_spec> = true;
template <>
inline constexpr bool is_input_spec_v<targets_spec> = true;

}  // namespace detail

/// What a placeholder of a rule's pattern stands for: `fg::check::matrix(4, 5)`, `vector`,
/// `scalar`, `class_labels(rows, classes)`, `targets(rows, cols)`.
template <class S>
concept input_spec = detail::is_input_spec_v<std::remove_cvref_t<S>>;

/// Verifies `rule` on an expression the caller built (its leaves' current values; the
/// caller's arrays are not modified). Throws std::invalid_argument if the rule does not fire.
template <class Rule, expression E>
rule_report verify_rule_on(const Rule& rule, const E& expr, const verify_options& opts = {}) {
    rule_report report;
    detail::verify_once(rule, expr, opts, 0, report);
    if (opts.throw_on_failure && !report.passed()) throw rule_error(report);
    return report;
}

/// Verifies `rule` on its own pattern, instantiated with one input per placeholder (`specs`,
/// in placeholder order) and drawn at random `opts.trials` times.
template <class Rule, input_spec... Specs>
rule_report verify_rule(const Rule& rule, const verify_options& opts, const Specs&... specs) {
    static_assert(fusegrad::detail::is_rule_v<Rule>,
                  "fg::check::verify_rule verifies one rule (made by fg::make_rule), not a set");
    using P = typename Rule::pattern_type;
    static_assert(fusegrad::detail::max_placeholder<P> == sizeof...(Specs),
                  "fg::check::verify_rule needs one input spec per placeholder of the rule's "
                  "pattern, in placeholder order");
    return [&]<std::size_t... K>(std::index_sequence<K...>) {
        std::tuple<typename Specs::array_type...> arrays{specs.make()...};
        using leaves_t = std::tuple<detail::spec_leaf_t<Specs, K>...>;
        leaves_t leaves{detail::spec_leaf_t<Specs, K>{
            tensor_ref<typename detail::spec_leaf_t<Specs, K>::value_type,
                       detail::spec_leaf_t<Specs, K>::rank>::of(std::get<K>(arrays))}...};
        const auto expr = detail::instance<P, leaves_t>::build(leaves);
        rule_report report;
        for (std::size_t t = 0; t < opts.trials; ++t) {
            random_stream rng(splitmix64(opts.seed + t));
            (specs.fill(std::get<K>(arrays), rng), ...);
            detail::verify_once(rule, expr, opts, t, report);
        }
        if (opts.throw_on_failure && !report.passed()) throw rule_error(report);
        return report;
    }
    (std::index_sequence_for<Specs...>{});
}

/// As above with the default options.
template <class Rule, input_spec... Specs>
rule_report verify_rule(const Rule& rule, const Specs&... specs) {
    return verify_rule(rule, verify_options{}, specs...);
}

}  // namespace fusegrad::check
