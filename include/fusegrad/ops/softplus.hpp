#pragma once
/// @file
/// fg::softplus(x, beta = 1, threshold = 20) = log(1 + e^{βx}) / β, and x where βx > threshold, as
/// PyTorch's; body in kernels/bodies/softplus.hpp.

#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "fusegrad/core/type_list.hpp"
#include "fusegrad/expr/make_node.hpp"
#include "fusegrad/kernels/bodies/softplus.hpp"
#include "fusegrad/ops/unary.hpp"

namespace fusegrad {
namespace op {
struct softplus : unary<kernels::body::softplus> {
    std::string describe() const {
        return detail::param_text("beta", beta) + ", " + detail::param_text("threshold", threshold);
    }
};
}  // namespace op

/// log(1 + e^{βx}) / β elementwise, x itself where βx > threshold (PyTorch's defaults).
/// A negative β is computed as PyTorch does, by the same formula (softplus(x, −1) = −log(1 +
/// e^{−x})). Throws std::invalid_argument for β = 0 (every value would be ±∞ or NaN), a β
/// that is not finite, or a NaN threshold.
template <expression X>
auto softplus(X&& x, double beta = 1.0, double threshold = 20.0) {
    if (beta == 0.0 || !std::isfinite(beta) || threshold != threshold)
        throw std::invalid_argument(
            "fg::softplus: beta must be finite and not 0, and threshold a number, got beta=" +
            std::to_string(beta) + ", threshold=" + std::to_string(threshold));
    op::softplus o;
    o.beta = beta;
    o.threshold = threshold;
    return detail::value_node_t<decltype(o), X>{o, {static_cast<X&&>(x)}};
}
}  // namespace fusegrad

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using softplus = fusegrad::detail::type_list<fusegrad::op::softplus>;
}  // namespace fusegrad::op::header_ops
