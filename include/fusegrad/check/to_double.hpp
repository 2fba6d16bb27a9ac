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

/// The double copies of an expression's leaves, by name: what `double_copy<E>` owns. Nothing here
/// depends on the expression, only on a leaf's element type and rank, so a model with many
/// leaves instantiates these functions a few times, not once per leaf under a name that spells
/// the whole model (the gradient checker's cost was quadratic in the model's size that way).
class double_arrays {
  public:
    double_arrays() = default;
    double_arrays(const double_arrays&) = delete;
    double_arrays& operator=(const double_arrays&) = delete;

    /// The double array of rank R behind the leaf named `name`. Throws binding_error for an
    /// unknown name.
    template <std::size_t R>
    xt::xtensor<double, R>& array(std::string_view name) {
        for (auto& s : named_)
            if (s.name == name && s.rank == R) return storage<R>().at(s.index);
        throw binding_error("double_copy: no leaf named \"" + std::string(name) + "\"");
    }

    /// The double copy of named leaf `name`: its data and shape (a vector is 1×n, a scalar
    /// 1×1). Throws binding_error for an unknown name.
    std::pair<double*, shape> view_of(std::string_view name) {
        for (auto& s : named_)
            if (s.name == name) {
                if (s.rank == 0) return {storage<0>().at(s.index).data(), shape::scalar()};
                if (s.rank == 1) {
                    auto& a = storage<1>().at(s.index);
                    return {a.data(), shape::vector(a.size())};
                }
                auto& a = storage<2>().at(s.index);
                return {a.data(), shape::matrix(a.shape()[0], a.shape()[1])};
            }
        throw binding_error("double_copy: no leaf named \"" + std::string(name) + "\"");
    }

  protected:
    template <std::size_t R>
    std::deque<xt::xtensor<double, R>>& storage() {
        if constexpr (R == 0)
            return s0_;
        else if constexpr (R == 1)
            return s1_;
        else
            return s2_;
    }

    template <class T, std::size_t R>
    xt::xtensor<double, R>& fresh_copy(tensor_ref<T, R> ref) {
        ref.refresh();
        auto& st = storage<R>();
        st.emplace_back();
        auto& a = st.back();
        if constexpr (R == 1) a.resize({ref.dims.cols});
        if constexpr (R == 2) a.resize({ref.dims.rows, ref.dims.cols});
        const T* src = ref.typed_data();
        for (std::size_t i = 0; i < ref.dims.size(); ++i) a.data()[i] = static_cast<double>(src[i]);
        return a;
    }

    // A named leaf's binding in the double expression: the caller's array for class indices,
    // else the double copy of the array under that name (made on first use).
    template <class T, std::size_t R>
    fusegrad::detail::named_binding convert_binding(std::string_view name,
                                                    const fusegrad::detail::named_binding& b) {
        if constexpr (!std::floating_point<T>) {
            return b;
        } else {
            tensor_ref<T, R> ref{};
            static_cast<array_binding&>(ref) = b.ref;
            return {tensor_ref<double, R>::of(named_copy(name, ref)), name};
        }
    }

    // The double copy of the leaf named `name` bound to `ref`; one copy per name.
    template <class T, std::size_t R>
    xt::xtensor<double, R>& named_copy(std::string_view name, const tensor_ref<T, R>& ref) {
        for (auto& s : named_) {
            if (s.name != name) continue;
            if (s.source != ref.source)
                throw binding_error("leaf \"" + std::string(name) +
                                    "\" is used with two different arrays; one name is one "
                                    "variable");
            return *static_cast<xt::xtensor<double, R>*>(s.array);
        }
        auto& a = fresh_copy(ref);
        named_.push_back({name, ref.source, &a, R, storage<R>().size() - 1});
        return a;
    }

  private:
    struct named_slot {
        std::string_view name;
        const void* source;  // the caller's container
        void* array;         // our double copy
        std::size_t rank;    // its rank, and its index in that rank's deque
        std::size_t index;
    };
    std::deque<xt::xtensor<double, 0>> s0_;  // deques: elements never move
    std::deque<xt::xtensor<double, 1>> s1_;
    std::deque<xt::xtensor<double, 2>> s2_;
    std::vector<named_slot> named_;
};

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
                std::size_t i = 0;
                const int done[] = {
                    (d.leaves.slots[i] = convert_binding<typename L::value_type, L::rank>(
                         L::name.view(), e.leaves.slots[i]),
                     ++i, 0)...};
                (void)done;
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
            return to_double_t<X>{tensor_ref<double, X::rank>::of(fresh_copy(e.ref))};
        } else {
            return to_double_t<X>{
                tensor_ref<double, X::rank>::of(named_copy(X::name.view(), e.ref))};
        }
    }
};

}  // namespace fusegrad::check
