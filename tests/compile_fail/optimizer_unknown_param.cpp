// expect: is not a param leaf of this graph
// Must not compile: params<...> names "w" but the graph's param is "W". Before, the first error
// was about a type called no_storage.
#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/sgd.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 2> x = {{1.f, 2.f}}, W = {{1.f}, {2.f}};
    auto g = fg::compile(fg::sum(fg::matmul(fg::input<"x">(x), fg::param<"W">(W))));
    fg::nn::sgd opt(fg::nn::params<"w">(W), {});
    g.run();
    opt.step(g);
}
