#pragma once
// The law fixture of fg::leaky_relu (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::leaky_relu> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = away_from_zero(mat(3, 4, -1, 1, 108));
        run("slope 0.01", fg::leaky_relu(fg::param<"a">(a)), fg::shape::matrix(3, 4));
        run("slope -0.5", fg::leaky_relu(fg::param<"a">(a), -0.5), fg::shape::matrix(3, 4));
    }
};

}  // namespace fusegrad_test
