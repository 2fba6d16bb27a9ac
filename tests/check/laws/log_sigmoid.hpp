#pragma once
// The law fixture of fg::log_sigmoid (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::log_sigmoid> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 19, -6, 6, 141);
        V far = vec(5, -60, 60, 142);
        run("matrix", fg::log_sigmoid(fg::param<"a">(a)), fg::shape::matrix(3, 19));
        run("far from 0", fg::log_sigmoid(fg::param<"f">(far)), fg::shape::vector(5));
    }
};

}  // namespace fusegrad_test
