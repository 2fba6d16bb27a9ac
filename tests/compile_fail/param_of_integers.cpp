// expect: fg::param holds floating-point values
// Must not compile: a param of integers has no gradient.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<int, 2> w = {{1}};
    auto p = fg::param<"W">(w);
    (void)p;
}
