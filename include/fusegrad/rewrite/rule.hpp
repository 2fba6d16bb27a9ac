#pragma once
/// @file
/// Rules and rule sets. A rule is a pattern plus a builder for the replacement; the builder
/// receives the captures (_1, _2, ... in order) and returns the new expression, or
/// `fg::decline` to let the match pass. Rule sets are tuples of rules, tried in order; the
/// first rule that matches and does not decline wins. Sets compose with `+`.

#include <string_view>
#include <type_traits>

#include <boost/hana/concat.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/tuple.hpp>

#include "fusegrad/rewrite/pattern.hpp"

namespace fusegrad {

namespace hana = boost::hana;

/// What a builder returns to decline a match (decided at compile time, from the types).
struct decline_t {};
inline constexpr decline_t decline{};

/// A rewrite rule: `Pattern` (a type) and a builder. `name` is what `rules_fired` reports.
template <class Pattern, class Builder>
struct rule {
    using pattern_type = Pattern;
    std::string_view name;
    Builder build;
};

/// `fg::make_rule<pattern<op::log, pattern<op::softmax, _1_t>>>("log(softmax(s)) ->
/// log_softmax(s)",
///                                                             [](auto s) { return
///                                                             fg::log_softmax(s); })`
template <class Pattern, class Builder>
constexpr auto make_rule(std::string_view name, Builder build) {
    return rule<Pattern, Builder>{name, build};
}

/// An ordered set of rules.
template <class... Rules>
struct rule_set {
    hana::tuple<Rules...> rules;
};

template <class... Rules>
constexpr auto make_rule_set(Rules... r) {
    return rule_set<Rules...>{hana::make_tuple(r...)};
}

namespace detail {
template <class T>
inline constexpr bool is_rule_v = false;
template <class P, class B>
inline constexpr bool is_rule_v<rule<P, B>> = true;
template <class T>
inline constexpr bool is_rule_set_v = false;
template <class... R>
inline constexpr bool is_rule_set_v<rule_set<R...>> = true;

template <class T>
constexpr auto as_rule_set(const T& t) {
    if constexpr (is_rule_set_v<T>)
        return t;
    else
        return make_rule_set(t);
}
}  // namespace detail

/// Concatenate rules and rule sets; the left operand's rules are tried first.
template <class A, class B>
requires((detail::is_rule_v<A> ||
          detail::is_rule_set_v<A>)&&(detail::is_rule_v<B> ||
                                      detail::is_rule_set_v<B>)) constexpr auto
operator+(const A& a, const B& b) {
    auto ra = detail::as_rule_set(a);
    auto rb = detail::as_rule_set(b);
    auto all = hana::concat(ra.rules, rb.rules);
    return hana::unpack(all, [](auto... r) { return make_rule_set(r...); });
}

}  // namespace fusegrad
