#pragma once
// The law fixture of fg::layer_norm (tests/check/test_op_laws.cpp runs the laws over it): the
// gradients of x, gamma and beta, rows wide and narrow.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::layer_norm> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M x = mat(4, 9, -2, 2, 201);
        V g = vec(9, 0.5, 1.5, 202), b = vec(9, -1, 1, 203), v = vec(9, -3, 3, 204);
        run("4x9", fg::layer_norm(fg::param<"x">(x), fg::param<"g">(g), fg::param<"b">(b)),
            fg::shape::matrix(4, 9));
        run("one vector, eps 0.1",
            fg::layer_norm(fg::param<"v">(v), fg::param<"g">(g), fg::param<"b">(b), 0.1),
            fg::shape::vector(9));
    }
};

}  // namespace fusegrad_test
