#pragma once
// The law fixture of fg::tanh (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::tanh> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -3, 3, 103);
        run("matrix", fg::tanh(fg::param<"a">(a)), fg::shape::matrix(3, 4));
    }
};

}  // namespace fusegrad_test
