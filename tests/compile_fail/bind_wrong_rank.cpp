// expect: the array's rank differs from the leaf's
// Must not compile: binding a vector to a matrix leaf.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 2> a = {{1.f}};
    xt::xtensor<float, 1> v = {1.f};
    auto g = fg::compile(fg::sum(fg::input<"a">(a)));
    g.bind<"a">(v);
}
