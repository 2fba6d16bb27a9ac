// expect: expression
// Must not compile: an xtensor passed where a fusegrad expression belongs.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 2> a = {{1.f}};
    auto e = fg::softmax(a);
    (void)e;
}
