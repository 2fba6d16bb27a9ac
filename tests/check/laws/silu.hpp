#pragma once
// The law fixture of fg::silu (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::silu> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -4, 4, 104);
        run("matrix", fg::silu(fg::param<"a">(a)), fg::shape::matrix(3, 4));
    }
};

}  // namespace fusegrad_test
