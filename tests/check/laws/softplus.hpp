#pragma once
// The law fixture of fg::softplus (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::softplus> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -4, 4, 105);
        run("matrix, beta 1, threshold 20", fg::softplus(fg::param<"a">(a)),
            fg::shape::matrix(3, 4));
        run("matrix, beta 2, threshold 5", fg::softplus(fg::param<"a">(a), 2.0, 5.0),
            fg::shape::matrix(3, 4));
        V big = vec(4, 25, 30, 106);  // beyond the threshold: the identity
        run("beyond the threshold", fg::softplus(fg::param<"big">(big)), fg::shape::vector(4));
    }
};

}  // namespace fusegrad_test
