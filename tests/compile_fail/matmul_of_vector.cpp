// expect: fg::matmul multiplies two matrices
// Must not compile: matmul needs rank-2 operands.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 1> v = {1.f};
    xt::xtensor<float, 2> m = {{1.f}};
    auto e = fg::matmul(fg::input<"v">(v), fg::param<"m">(m));
    (void)e;
}
