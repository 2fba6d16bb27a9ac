// expect: refers to the caller's array
// Must not compile: a leaf built from a temporary array would dangle.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    auto x = fg::input<"x">(xt::xtensor<float, 2>{{1.f}});
    (void)x;
}
