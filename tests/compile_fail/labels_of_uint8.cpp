// expect: std::int32_t or std::int64_t
// Must not compile: uint8 labels (as an IDX file holds them). The kernels are built for int32
// and int64 indices only; before, this compiled and then failed at link time.
#include <cstdint>
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<float, 2> s = {{1.f, 2.f}};
    xt::xtensor<std::uint8_t, 1> y = {1};
    auto loss = fg::mean(fg::nll(fg::softmax(fg::input<"s">(s)), fg::labels<"y">(y)));
    (void)loss;
}
