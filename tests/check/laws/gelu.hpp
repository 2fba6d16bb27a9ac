#pragma once
// The law fixture of fg::gelu (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::gelu> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -3, 3, 107);
        run("erf", fg::gelu(fg::param<"a">(a)), fg::shape::matrix(3, 4));
        run("tanh approximation", fg::gelu(fg::param<"a">(a), "tanh"), fg::shape::matrix(3, 4));
    }
};

}  // namespace fusegrad_test
