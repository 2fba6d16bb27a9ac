// expect: needs y as class indices
// Must not compile: nll with a float vector as targets.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 2> p = {{1.f}};
    xt::xtensor<float, 1> y = {1.f};
    auto e = fg::nll(fg::param<"p">(p), fg::input<"y">(y));
    (void)e;
}
