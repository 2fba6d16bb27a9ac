#pragma once
// The law fixture of fg::op::squared_error (tests/check/test_op_laws.cpp runs the laws over it):
// the elementwise term (reduction none), the gradients of the prediction and of the target.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::squared_error> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M p = mat(3, 19, -1, 4, 131), t = mat(3, 19, 0, 1, 132);
        V q = vec(19, -1, 4, 133), r = vec(19, 0, 1, 134);
        run("matrix, matrix", fg::mse<fg::reduction::none>(fg::param<"p">(p), fg::param<"t">(t)),
            fg::shape::matrix(3, 19));
        run("vector, vector", fg::mse<fg::reduction::none>(fg::param<"q">(q), fg::param<"r">(r)),
            fg::shape::vector(19));
        run("target a row", fg::mse<fg::reduction::none>(fg::param<"p">(p), fg::param<"r">(r)),
            fg::shape::matrix(3, 19));
    }
};

}  // namespace fusegrad_test
