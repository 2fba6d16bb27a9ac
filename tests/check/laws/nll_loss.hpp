#pragma once
// The law fixture of nll_loss<R> (fg::nll_loss, PyTorch's nll_loss): tests/check/test_op_laws.cpp
// runs the gradient laws over it, with and without class weights, with a row ignored.

#include "../op_law_fixtures_base.hpp"

namespace fusegrad_test {

template <fg::reduction R>
struct law_fixture<fg::op::nll_loss<R>> {
    static constexpr bool defined = true;
    template <class Run>
    static void instances(Run&& run) {
        const auto out = R == fg::reduction::none ? fg::shape::vector(5) : fg::shape::scalar();
        M lp = mat(5, 4, -3, 0, 221);
        V w = vec(4, 0.5, 2, 222);
        xt::xtensor<std::int32_t, 1> k = {1, 3, 0, 3, 2};
        xt::xtensor<std::int64_t, 1> ignored = {1, -100, 0, 3, 2};
        auto L = fg::param<"logp">(lp);
        run("class indices", fg::nll_loss<R>(L, fg::labels<"k">(k)), out);
        run("class weights", fg::nll_loss<R>(L, fg::labels<"k">(k), fg::constant(w)), out);
        run("a row ignored (-100), class weights",
            fg::nll_loss<R>(L, fg::labels<"k">(ignored), fg::constant(w)), out);
        run("class 3 ignored", fg::nll_loss<R>(L, fg::labels<"k">(k), 3), out);
    }
};

}  // namespace fusegrad_test
