// expect: all real-valued leaves of one graph must have the same element type
// Must not compile: float and double leaves in one graph.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 1> a = {1.f};
    xt::xtensor<double, 1> b = {1.0};
    auto g = fg::compile(fg::param<"a">(a) + fg::param<"b">(b));
    (void)g;
}
