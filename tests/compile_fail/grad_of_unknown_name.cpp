// expect: grad<Name>\(\): the graph has no leaf with this name
// Must not compile: asking for the gradient of a leaf that is not in the graph.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 1> v = {1.f};
    auto g = fg::compile(fg::sum(fg::param<"v">(v)));
    (void)g.grad<"w">();
}
