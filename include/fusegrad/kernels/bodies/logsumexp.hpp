#pragma once
/// @file
/// The row body of fg::logsumexp (see fusegrad/kernels/rows.hpp): lse = m + log Σ_j e^{x_j − m}
/// with m the row's max, as torch.logsumexp.

#include <cmath>
#include <limits>
#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/rows.hpp"

namespace fusegrad::kernels::body {

struct logsumexp {
    static constexpr std::string_view name = "logsumexp";
    static constexpr row_result result = row_result::value;
    static constexpr keeps kept = keeps::operand(0) | keeps::output();

    // Subtracting the max: no overflow for large x, no log 0 for very negative x. A row of −inf
    // gives −inf, a row with +inf gives +inf, a NaN gives NaN, a row of no entries −inf (the log
    // of an empty sum), as PyTorch.
    template <class R>
    void forward(const R& r) const {
        using T = typename R::value_type;
        using V = typename R::vec;
        if (r.n == 0) {
            *r.y = -std::numeric_limits<T>::infinity();
            return;
        }
        const T mx = r.max(r.x);
        if (!std::isfinite(mx)) {  // NaN, or ±inf: the sum is dominated by (or undefined at) mx
            *r.y = mx;
            return;
        }
        const V vm(mx);
        *r.y = mx + std::log(r.sum([&](V v) { return r.exp_nonpositive(v - vm); }, r.x));
    }
    // dx_j = g e^{x_j − lse}: the row's softmax. x <= lse whenever lse is finite; an infinite lse
    // gives inf − inf = NaN (or −inf − −inf), as std::exp of the same difference.
    template <class R>
    void backward(const R& r) const {
        using V = typename R::vec;
        const V vl(*r.y), vg(*r.g);
        r.write_dx([&](V v) { return vg * r.exp_nonpositive(v - vl); }, r.x);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_ROW_KERNEL(fusegrad::kernels::body::logsumexp)
