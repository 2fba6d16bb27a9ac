#pragma once
/// @file
/// The row body of fg::max_rows (see fusegrad/kernels/rows.hpp): the largest entry of each row,
/// NaN if the row has one; the gradient goes to the first maximal entry (the index torch.max(x,
/// 1) returns), or to the first NaN.

#include <cmath>
#include <cstddef>
#include <limits>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/rows.hpp"

namespace fusegrad::kernels::body {

struct max_rows {
    static constexpr std::string_view name = "max_rows";
    static constexpr row_result result = row_result::value;
    static constexpr keeps kept = keeps::operand(0) | keeps::output();
    /// A row of no entries has no maximum: op::rows refuses the shape (PyTorch does too).
    static constexpr std::string_view empty_rows_error = "no maximum";

    /// The first maximal entry of row p of length n (the first NaN if there is one).
    template <class T>
    static std::size_t arg_max(const T* p, std::size_t n) {
        std::size_t k = 0;
        for (std::size_t j = 0; j < n; ++j) {
            if (std::isnan(p[j])) return j;
            if (p[j] > p[k]) k = j;
        }
        return k;
    }

    template <class R>
    void forward(const R& r) const {
        using T = typename R::value_type;
        *r.y = r.n == 0 ? std::numeric_limits<T>::quiet_NaN() : r.max(r.x);
    }
    // dx_j = g at the first maximal j, 0 elsewhere (plus beta · dx)
    template <class R>
    void backward(const R& r) const {
        using T = typename R::value_type;
        using V = typename R::vec;
        r.write_dx([](V) { return V(T(0)); }, r.x);
        r.dx[arg_max(r.x, r.n)] += *r.g;
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_ROW_KERNEL(fusegrad::kernels::body::max_rows)
