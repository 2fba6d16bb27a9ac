// The double copies a gradient check perturbs (fusegrad/check/double_arrays.hpp): compiled
// once here for every element type and rank, not in every program that runs a check.

#include <cstddef>
#include <string>
#include <string_view>

#include "fusegrad/check/double_arrays.hpp"
#include "fusegrad/core/errors.hpp"

namespace fusegrad::check {

namespace {

template <std::size_t R>
std::deque<xt::xtensor<double, R>>& storage(std::deque<xt::xtensor<double, 0>>& s0,
                                            std::deque<xt::xtensor<double, 1>>& s1,
                                            std::deque<xt::xtensor<double, 2>>& s2) {
    if constexpr (R == 0)
        return s0;
    else if constexpr (R == 1)
        return s1;
    else
        return s2;
}

// A new double array in `st` holding the current values of the array behind `b`.
template <class T, std::size_t R>
xt::xtensor<double, R>& fresh_copy(std::deque<xt::xtensor<double, R>>& st, array_binding b) {
    b.refresh();
    st.emplace_back();
    auto& a = st.back();
    if constexpr (R == 1) a.resize({b.dims.cols});
    if constexpr (R == 2) a.resize({b.dims.rows, b.dims.cols});
    const T* src = static_cast<const T*>(b.data);
    for (std::size_t i = 0; i < b.dims.size(); ++i) a.data()[i] = static_cast<double>(src[i]);
    return a;
}

[[noreturn]] void throw_unknown(std::string_view name) {
    throw binding_error("double_copy: no leaf named \"" + std::string(name) + "\"");
}

}  // namespace

double_arrays::double_arrays() = default;
double_arrays::~double_arrays() = default;

void* double_arrays::find_array(std::string_view name, std::size_t rank) {
    for (auto& s : named_)
        if (s.name == name && s.rank == rank) return s.array;
    throw_unknown(name);
}

std::pair<double*, shape> double_arrays::view_of(std::string_view name) {
    for (auto& s : named_)
        if (s.name == name) {
            if (s.rank == 0)
                return {static_cast<xt::xtensor<double, 0>*>(s.array)->data(), shape::scalar()};
            if (s.rank == 1) {
                auto& a = *static_cast<xt::xtensor<double, 1>*>(s.array);
                return {a.data(), shape::vector(a.size())};
            }
            auto& a = *static_cast<xt::xtensor<double, 2>*>(s.array);
            return {a.data(), shape::matrix(a.shape()[0], a.shape()[1])};
        }
    throw_unknown(name);
}

namespace {
// Calls f(type_identity<T>, integral_constant<R>) for a leaf type known at run time.
template <class F>
decltype(auto) with_leaf_type(double_arrays::leaf_type t, F&& f) {
    const auto at_rank = [&]<class T>(std::type_identity<T> tt) -> decltype(auto) {
        if (t.rank == 0) return f(tt, std::integral_constant<std::size_t, 0>{});
        if (t.rank == 1) return f(tt, std::integral_constant<std::size_t, 1>{});
        return f(tt, std::integral_constant<std::size_t, 2>{});
    };
    if (t.elem == double_arrays::leaf_type::f32) return at_rank(std::type_identity<float>{});
    return at_rank(std::type_identity<double>{});
}
}  // namespace

fusegrad::detail::named_binding double_arrays::convert_named(
    leaf_type t, const fusegrad::detail::named_binding& b) {
    if (t.elem == leaf_type::other) return b;  // class indices: the caller's array, as it is
    for (const auto& s : named_) {
        if (s.name != b.name) continue;
        if (s.source != b.ref.source)
            throw binding_error("leaf \"" + std::string(b.name) +
                                "\" is used with two different arrays; one name is one "
                                "variable");
        return with_leaf_type(t, [&]<class T, std::size_t R>(
                                     std::type_identity<T>,
                                     std::integral_constant<std::size_t, R>) {
            return fusegrad::detail::named_binding{
                tensor_ref<double, R>::of(*static_cast<xt::xtensor<double, R>*>(s.array)), b.name};
        });
    }
    return with_leaf_type(t, [&]<class T, std::size_t R>(std::type_identity<T>,
                                                         std::integral_constant<std::size_t, R>) {
        auto& a = fresh_copy<T, R>(storage<R>(s0_, s1_, s2_), b.ref);
        named_.push_back({b.name, b.ref.source, &a, R});
        return fusegrad::detail::named_binding{tensor_ref<double, R>::of(a), b.name};
    });
}

array_binding double_arrays::convert_constant(leaf_type t, const array_binding& b) {
    if (t.elem == leaf_type::other) return b;
    return with_leaf_type(t, [&]<class T, std::size_t R>(std::type_identity<T>,
                                                         std::integral_constant<std::size_t, R>) {
        return array_binding(
            tensor_ref<double, R>::of(fresh_copy<T, R>(storage<R>(s0_, s1_, s2_), b)));
    });
}

}  // namespace fusegrad::check
