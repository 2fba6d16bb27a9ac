// The elementwise unary ops against memcpy on 1M floats (4 MB in, 4 MB out: L2 misses, memory
// or L3 bound), one thread, forward (one read, one write, as memcpy) and backward (two or three
// reads and a write: compared with memcpy's bytes moved, so a ratio can exceed 1 only in
// cache). Every registered unary op is found through the registry; prints, after the table,
// each op's forward time as a fraction of memcpy's bandwidth (issue target: at least 0.70).
// The elementwise binary ops (mul, div, ... : two reads and a write, equal shapes) are run the
// same way through their front door, their bandwidth counting the three arrays.
//
// Run: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ./bench_unary

#include <benchmark/benchmark.h>

#include "aligned.hpp"
#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fusegrad/kernels/arch.hpp>
#include <fusegrad/kernels/binary.hpp>
#include <fusegrad/ops/registry.hpp>

namespace fg = fusegrad;
namespace fk = fusegrad::kernels;

namespace {

constexpr std::size_t kN = std::size_t(1) << 20;

struct buffers {  // on 64-byte boundaries, as the graph's arena (see aligned.hpp)
    fg::bench::aligned_floats x{kN}, y{kN}, g{kN}, dx{kN};
    buffers() {
        for (std::size_t i = 0; i < kN; ++i) {
            x[i] = float(int(i % 2001) - 1000) / 250.0f;  // [-4, 4]: no op's slow corner only
            y[i] = 0.5f;
            g[i] = 1.0f;
        }
    }
};
buffers& data() {
    static buffers b;
    return b;
}

void memcpy_1m(benchmark::State& s) {
    auto& b = data();
    for (auto _ : s) {
        std::memcpy(b.y.data(), b.x.data(), kN * sizeof(float));
        benchmark::DoNotOptimize(b.y.data());
        benchmark::ClobberMemory();
    }
    s.SetBytesProcessed(std::int64_t(s.iterations()) * std::int64_t(2 * kN * sizeof(float)));
}

template <class Body>
void forward_1m(benchmark::State& s, Body k) {
    auto& b = data();
    for (auto _ : s) {
        fk::unary_forward<Body, float>(k, kN, b.x.data(), b.y.data());
        benchmark::DoNotOptimize(b.y.data());
        benchmark::ClobberMemory();
    }
    s.SetBytesProcessed(std::int64_t(s.iterations()) * std::int64_t(2 * kN * sizeof(float)));
}

template <class Body>
void backward_1m(benchmark::State& s, Body k) {
    auto& b = data();
    for (auto _ : s) {
        fk::unary_backward<Body, float>(k, kN, b.x.data(), b.y.data(), b.g.data(), 0.0f,
                                        b.dx.data());
        benchmark::DoNotOptimize(b.dx.data());
        benchmark::ClobberMemory();
    }
}

template <class Body>
void binary_forward_1m(benchmark::State& s) {
    auto& b = data();
    const Body k{};
    for (auto _ : s) {
        fk::binary_forward<Body, float>(k, 1, kN, b.x.data(), fk::layout::full, b.g.data(),
                                        fk::layout::full, b.y.data());
        benchmark::DoNotOptimize(b.y.data());
        benchmark::ClobberMemory();
    }
    s.SetBytesProcessed(std::int64_t(s.iterations()) * std::int64_t(3 * kN * sizeof(float)));
}

std::vector<std::string> names, binary_names;

template <class... Ops>
void register_all(fg::detail::type_list<Ops...>) {
    const auto one = [&]<class Op>() {
        if constexpr (requires { typename Op::body; }) {
            const std::string n(Op::name);
            names.push_back(n);
            benchmark::RegisterBenchmark(("unary/" + n + "/forward").c_str(),
                                         forward_1m<typename Op::body>, typename Op::body{});
            benchmark::RegisterBenchmark(("unary/" + n + "/backward").c_str(),
                                         backward_1m<typename Op::body>, typename Op::body{});
        }
        if constexpr (requires { typename Op::binary_body; }) {
            const std::string n(Op::name);
            binary_names.push_back(n);
            benchmark::RegisterBenchmark(("binary/" + n + "/forward").c_str(),
                                         binary_forward_1m<typename Op::binary_body>);
        }
    };
    (one.template operator()<Ops>(), ...);
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::RegisterBenchmark("unary/memcpy", memcpy_1m);
    register_all(fg::op::all_ops{});
    // pow's default exponent is 1, which returns x: its general path (xsimd's pow, the
    // settling of ±0, -inf and subnormal bases) needs a general p.
    using pow_body = fk::body::pow;
    names.push_back("pow(x,2.5)");
    benchmark::RegisterBenchmark("unary/pow(x,2.5)/forward", forward_1m<pow_body>, pow_body{2.5});
    benchmark::RegisterBenchmark("unary/pow(x,2.5)/backward", backward_1m<pow_body>, pow_body{2.5});
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    fg::bench::ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    std::printf("\nCPU %s; kernels on %s; 1M floats\n", fg::bench::cpu_label().c_str(),
                std::string(fk::arch_name(fk::active_arch())).c_str());
    const double mem = reporter.best("unary/memcpy");
    std::printf("%-12s %20s %22s\n", "op", "forward / memcpy bw", "backward time / memcpy");
    for (const auto& n : names) {
        const double f = reporter.best("unary/" + n + "/forward");
        const double bk = reporter.best("unary/" + n + "/backward");
        if (f > 0 && mem > 0) std::printf("%-12s %20.2f %22.2f\n", n.c_str(), mem / f, bk / mem);
    }
    std::printf("\n%-22s %20s\n", "binary op", "forward / memcpy bw");
    for (const auto& n : binary_names) {
        const double f = reporter.best("binary/" + n + "/forward");  // 3 arrays moved, memcpy 2
        if (f > 0 && mem > 0) std::printf("%-22s %20.2f\n", n.c_str(), 1.5 * mem / f);
    }
    return 0;
}
