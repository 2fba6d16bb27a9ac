#pragma once
// The law fixture of fg::dropout (tests/check/test_op_laws.cpp runs the laws over it). The laws
// drive forward() and backward(), which keep the graph's step, so every evaluation sees one mask.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::dropout> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(4, 5, -1, 1, 120);
        V v = vec(7, -1, 1, 121);
        run("p 0.3, matrix", fg::dropout(fg::param<"a">(a), 0.3, 7), fg::shape::matrix(4, 5));
        run("p 0.5, vector", fg::dropout(fg::param<"v">(v), 0.5, 8), fg::shape::vector(7));
    }
};

}  // namespace fusegrad_test
