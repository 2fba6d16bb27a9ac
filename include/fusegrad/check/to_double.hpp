#pragma once
/// @file
/// Re-instantiating an expression at double: `to_double_t<E>` maps the type (every real-valued
/// leaf becomes a double leaf; class-index labels keep their integer type), and
/// `double_copy<E>` builds that expression over double copies of the leaves' current values,
/// which it owns. The checker perturbs these copies, never the caller's arrays.

#include <concepts>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "fusegrad/check/double_arrays.hpp"
#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/leaf.hpp"
#include "fusegrad/core/node.hpp"
#include "fusegrad/core/tensor_ref.hpp"
#include "fusegrad/core/traits.hpp"
#include "fusegrad/grad/plan.hpp"

namespace fusegrad::check {

namespace detail {
template <class E>
struct to_double;
template <fixed_string Name, class Kind, class T, std::size_t R>
struct to_double<leaf<Name, Kind, T, R>> {
    using type = std::conditional_t<std::floating_point<T>, leaf<Name, Kind, double, R>,
                                    leaf<Name, Kind, T, R>>;
};
template <class T, std::size_t R>
struct to_double<constant_leaf<T, R>> {
    using type = constant_leaf<double, R>;
};
template <class Op, class... C>
struct to_double<node<Op, C...>> {
    using type = node<Op, typename to_double<C>::type...>;
};

// The param leaves of an expression, each name once, in order of first appearance.
template <class List, class E>
struct collect_params {
    using type = List;
};
template <class... Ls, fixed_string Name, class T, std::size_t R>
struct collect_params<fusegrad::detail::type_list<Ls...>, leaf<Name, param_kind, T, R>> {
    using L = leaf<Name, param_kind, T, R>;
    using type = std::conditional_t<fusegrad::detail::holds_leaf<L, Ls...>::value,
                                    fusegrad::detail::type_list<Ls...>,
                                    fusegrad::detail::type_list<Ls..., L>>;
};
template <class List, class... C>
struct collect_params_all {
    using type = List;
};
template <class List, class C0, class... C>
struct collect_params_all<List, C0, C...> {
    using type = typename collect_params_all<typename collect_params<List, C0>::type, C...>::type;
};
template <class List, class Op, class... C>
struct collect_params<List, node<Op, C...>> {
    using type = typename collect_params_all<List, C...>::type;
};

template <class List>
struct for_each_type_impl;
template <class... Ls>
struct for_each_type_impl<fusegrad::detail::type_list<Ls...>> {
    template <class F>
    static void run(F&& f) {
        // An array's initializers, not a comma fold: clang stops a fold at 256 operands, and a
        // 128-layer model has 258 params. Evaluated in order.
        [[maybe_unused]] const int done[] = {(f(std::type_identity<Ls>{}), 0)..., 0};
    }
};
}  // namespace detail

/// The type of expression E re-instantiated at double (labels keep their integer type).
template <class E>
using to_double_t = typename detail::to_double<std::remove_cvref_t<E>>::type;

/// The distinct param leaves of expression E (a `type_list`), in order of first appearance.
template <class E>
using param_leaves_t =
    typename detail::collect_params<fusegrad::detail::type_list<>, std::remove_cvref_t<E>>::type;

/// Calls `f(std::type_identity<L>{})` for every type L of a `type_list`, in order.
template <class List, class F>
void for_each_type(F&& f) {
    detail::for_each_type_impl<List>::run(std::forward<F>(f));
}

/// Expression E rebuilt at double over copies of its leaves' current values. The copies are
/// owned here, so the object neither moves nor copies (the expression refers into it).
template <class E>
class double_copy : public double_arrays {
  public:
    /// The expression at double, bound to this object's arrays.
    using expr_type = to_double_t<E>;

    /// Copies every real-valued leaf of `e` (as its container holds it now). Throws
    /// `binding_error` if one name is bound to two different arrays.
    explicit double_copy(const E& e) : expr_(convert(e)) {}

    /// The expression at double.
    const expr_type& expr() const noexcept { return expr_; }

    /// The double array behind named leaf type L (a leaf of `expr_type`).
    template <class L>
    xt::xtensor<double, L::rank>& array_of() {
        return array<L::rank>(L::name.view());
    }

  private:
    expr_type expr_;  // after the storage it refers to (in the base)

    template <class X>
    auto convert(const X& e) {
        if constexpr (!is_leaf_v<X> && fusegrad::detail::is_pure_expr<X>::value) {
            // A pure node holds its leaves flat; so does its double twin, in the same order.
            // One pass over the leaves, no walk of the tree: a walk would instantiate a
            // function per node, each named after the whole model.
            if (!e.leaves.conflict.empty())
                throw binding_error("leaf \"" + std::string(e.leaves.conflict) +
                                    "\" is used with two different arrays; one name is one "
                                    "variable");
            to_double_t<X> d{};
            [&]<class... L>(fusegrad::detail::leaf_list<L...>) {
                static constexpr leaf_type types[] = {leaf_type_of<L>()..., leaf_type{}};
                for (std::size_t i = 0; i < sizeof...(L); ++i)
                    d.leaves.slots[i] = convert_named(types[i], e.leaves.slots[i]);
            }(typename X::leaf_types{});
            return d;
        } else if constexpr (!is_leaf_v<X>) {
            // A pure node holds each name once; a second array under a name was recorded
            // when the node was built. (A trait, not a requires-expression: see is_pure_leaf.)
            if constexpr (fusegrad::detail::is_pure_expr<X>::value)
                if (!e.leaves.conflict.empty())
                    throw binding_error("leaf \"" + std::string(e.leaves.conflict) +
                                        "\" is used with two different arrays; one name is one "
                                        "variable");
            return fusegrad::apply_operands(
                [&](const auto&... c) {
                    return to_double_t<X>{e.op, {convert(c)...}};
                },
                e);
        } else if constexpr (!std::floating_point<typename X::value_type>) {
            return e;  // class indices: read from the caller's array as they are
        } else if constexpr (!fusegrad::detail::expr_traits<X>::is_named::value) {
            to_double_t<X> d{};
            static_cast<array_binding&>(d.ref) = convert_constant(leaf_type_of<X>(), e.ref);
            return d;
        } else {
            to_double_t<X> d{};
            static_cast<array_binding&>(d.ref) =
                convert_named(leaf_type_of<X>(), {e.ref, X::name.view()}).ref;
            return d;
        }
    }
};

}  // namespace fusegrad::check
