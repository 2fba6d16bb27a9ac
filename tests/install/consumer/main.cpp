// Consumer of an installed fusegrad: links fusegrad::fusegrad found through find_package.
#include <fusegrad/kernels/kernels.hpp>

#include <cstdio>

int main() {
    // Row-major 2x2 matrices.
    const float a[4] = {1.f, 2.f,  //
                        3.f, 4.f};
    const float b[4] = {5.f, 6.f,  //
                        7.f, 8.f};
    float c[4] = {-1.f, -1.f, -1.f, -1.f};  // beta == 0: never read
    const float expected[4] = {19.f, 22.f,  // 1*5+2*7, 1*6+2*8
                               43.f, 50.f};  // 3*5+4*7, 3*6+4*8

    fusegrad::kernels::gemm<float>(false, false, 2, 2, 2, 1.f, a, 2, b, 2, 0.f, c, 2);

    int failures = 0;
    for (int i = 0; i < 4; ++i) {
        if (c[i] != expected[i]) {
            std::fprintf(stderr, "c[%d] = %g, expected %g\n", i, static_cast<double>(c[i]),
                         static_cast<double>(expected[i]));
            ++failures;
        }
    }
    if (failures != 0) {
        return 1;
    }
    std::printf("fusegrad consumer: gemm OK\n");
    return 0;
}
