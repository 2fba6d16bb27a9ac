#pragma once
// The law fixture of op::loss_weight (the weight of the binary cross-entropies; fg::mul's maths
// with a one-sided shape rule): tests/check/test_op_laws.cpp runs the laws over it, with a
// weight per element, per column, per row and a scalar, and through pos_weight.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <>
struct law_fixture<fg::op::loss_weight> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        constexpr auto none = fg::reduction::none;
        M p = mat(3, 5, 0.05, 0.95, 231), t = mat(3, 5, 0, 1, 232), we = mat(3, 5, 0.1, 2, 233);
        V row = vec(5, 0.1, 2, 234);
        M col = mat(3, 1, 0.1, 2, 235), one = mat(1, 1, 0.1, 2, 236);
        auto P = fg::param<"p">(p);
        auto T = fg::param<"t">(t);
        const auto out = fg::shape::matrix(3, 5);
        run("per element", fg::binary_cross_entropy<none>(P, T, fg::constant(we)), out);
        run("per column", fg::binary_cross_entropy<none>(P, T, fg::constant(row)), out);
        run("per row", fg::binary_cross_entropy<none>(P, T, fg::constant(col)), out);
        run("a scalar", fg::binary_cross_entropy<none>(P, T, fg::constant(one)), out);
        run("logits, pos_weight and weight",
            fg::binary_cross_entropy_with_logits<none>(P, T, fg::constant(row), fg::constant(we)),
            out);
    }
};

}  // namespace fusegrad_test
