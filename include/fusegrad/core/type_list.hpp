#pragma once
/// @file
/// A list of types, and the concatenation of lists (the op registry is one, header by header).

namespace fusegrad::detail {

template <class... Ts>
struct type_list {};

template <class... A, class... B>
type_list<A..., B...> operator+(type_list<A...>, type_list<B...>);  // declared only: decltype
/// One list of every type of the lists, in order (a fold: no recursion depth).
template <class... Lists>
using concat_t = decltype((Lists{} + ... + type_list<>{}));

}  // namespace fusegrad::detail
