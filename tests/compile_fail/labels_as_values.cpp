// expect: class-index labels can only be the second operand of fg::nll
// Must not compile: class indices are not values to compute with.
#include <fusegrad/fusegrad.hpp>
namespace fg = fusegrad;
int main() {
    xt::xtensor<int, 1> y = {0};
    auto e = fg::softmax(fg::labels<"y">(y));
    (void)e;
}
