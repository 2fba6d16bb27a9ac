// expect: only fg::param leaves get gradients
// Must not compile: an input has no gradient.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 1> v = {1.f};
    auto g = fg::compile(fg::sum(fg::input<"v">(v)));
    (void)g.grad<"v">();
}
