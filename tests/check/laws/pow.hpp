#pragma once
// The law fixture of fg::pow (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::pow> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -2, 2, 112), p = mat(3, 4, 0.5, 2, 113);
        run("p = 3", fg::pow(fg::param<"a">(a), 3.0), fg::shape::matrix(3, 4));
        run("p = 2", fg::pow(fg::param<"a">(a), 2.0), fg::shape::matrix(3, 4));
        run("p = 0", fg::pow(fg::param<"a">(a), 0.0), fg::shape::matrix(3, 4));
        run("p = 0.5, x in [0.5, 2)", fg::pow(fg::param<"p">(p), 0.5), fg::shape::matrix(3, 4));
        run("p = -1.5, x in [0.5, 2)", fg::pow(fg::param<"p">(p), -1.5), fg::shape::matrix(3, 4));
    }
};

}  // namespace fusegrad_test
