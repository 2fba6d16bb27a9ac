#pragma once
// The law fixture of fg::op::binary_cross_entropy (tests/check/test_op_laws.cpp runs the laws over
// it): the elementwise term (reduction none), the gradients of the prediction and of the target.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::binary_cross_entropy> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M p = mat(3, 19, 0.05, 0.95, 131), t = mat(3, 19, 0, 1, 132);
        V q = vec(19, 0.05, 0.95, 133), r = vec(19, 0, 1, 134);
        run("matrix, matrix",
            fg::binary_cross_entropy<fg::reduction::none>(fg::param<"p">(p), fg::param<"t">(t)),
            fg::shape::matrix(3, 19));
        run("vector, vector",
            fg::binary_cross_entropy<fg::reduction::none>(fg::param<"q">(q), fg::param<"r">(r)),
            fg::shape::vector(19));
    }
};

}  // namespace fusegrad_test
