// Links fusegrad::core only (no zlib, no stb): a graph, its gradient, a kernel.
#include <cstdio>

#include <fusegrad/fusegrad.hpp>

namespace fg = fusegrad;

int main() {
    xt::xtensor<double, 1> v = {1.0, 2.0, 3.0};
    auto g = fg::compile(fg::sum(fg::square(fg::param<"v">(v))));
    g.run();
    const bool ok = g.value() == 14.0 && g.grad<"v">()(2) == 6.0;
    std::printf("fusegrad_core_consumer: sum(v^2) = %g, d/dv3 = %g: %s\n", g.value(),
                g.grad<"v">()(2), ok ? "ok" : "WRONG");
    return ok ? 0 : 1;
}
