#pragma once
/// @file
/// The body of fg::mse's elementwise term (see fusegrad/kernels/binary.hpp): (p − t)².

#include <string_view>

#include "fusegrad/core/keeps.hpp"
#include "fusegrad/kernels/binary.hpp"

namespace fusegrad::kernels::body {

struct squared_error {
    static constexpr std::string_view name = "squared_error";
    static constexpr keeps kept = keeps::operand(0) | keeps::operand(1);

    template <class V>
    V forward(V p, V t) const {
        const V d = p - t;
        return d * d;
    }
    // dp = 2 g (p − t);  dt = −2 g (p − t)
    template <class V>
    V grad_a(V p, V t, V, V g) const {
        return (g + g) * (p - t);
    }
    template <class V>
    V grad_b(V p, V t, V, V g) const {
        return (g + g) * (t - p);
    }
};

}  // namespace fusegrad::kernels::body

FUSEGRAD_BINARY_KERNEL(fusegrad::kernels::body::squared_error)
