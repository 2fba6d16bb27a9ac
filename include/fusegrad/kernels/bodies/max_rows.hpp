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

    template <class R>
    void forward(const R& r) const {
        using T = typename R::value_type;
        *r.y = r.n == 0 ? std::numeric_limits<T>::quiet_NaN() : r.max(r.x);
    }
    // dx_j = g at the first maximal j (the first NaN if there is one), 0 elsewhere (plus
    // beta · dx). The scan is written here, not in a helper outside backward<R>: a function that
    // does not depend on R would be compiled with every instruction set's flags under one name,
    // and the linker would keep any one of them.
    template <class R>
    void backward(const R& r) const {
        using T = typename R::value_type;
        using V = typename R::vec;
        r.write_dx([](V) { return V(T(0)); }, r.x);
        std::size_t k = 0;
        for (std::size_t j = 0; j < r.n; ++j) {
            if (std::isnan(r.x[j])) {
                k = j;
                break;
            }
            if (r.x[j] > r.x[k]) k = j;
        }
        r.dx[k] += *r.g;
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_ROW_KERNEL(fusegrad::kernels::body::max_rows)
