#pragma once
// The law fixture of fg::sigmoid (tests/check/test_op_laws.cpp runs the laws over it).

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::sigmoid> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        M a = mat(3, 4, -4, 4, 101);
        V v = vec(5, -4, 4, 102);
        run("matrix", fg::sigmoid(fg::param<"a">(a)), fg::shape::matrix(3, 4));
        run("vector", fg::sigmoid(fg::param<"v">(v)), fg::shape::vector(5));
    }
};

}  // namespace fusegrad_test
