// expect: one leaf name is used for two different leaves
// Must not compile: one name given to an input and a param.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 1> a = {1.f};
    auto g = fg::compile(fg::input<"a">(a) + fg::param<"a">(a));
    (void)g;
}
