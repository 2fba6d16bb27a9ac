// expect: value\(\) is for a scalar graph
// Must not compile: value() of a matrix-valued graph.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 2> a = {{1.f}};
    auto g = fg::compile(fg::softmax(fg::param<"a">(a)));
    g.forward();
    (void)g.value();
}
