// layer_norm forward + backward (float, x, gamma and beta all needing gradients) against
// libtorch's torch::layer_norm + backward(), side by side in one run, and against memcpy: a step
// must at least read x and write y (forward), read g and x and write dx (backward), 5·N·D
// floats, so "copy/x" is the share of the memcpy roofline a step reaches.
//
// fusegrad runs the op as the graph does (op::layer_norm's forward, then its vjp, with the
// workspace the graph would give it), on the active instruction set and on the scalar reference.
//
// Run: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ./bench_layer_norm
// The target: at 4096×1024 on one thread, torch / fusegrad ≥ 2.

#include <benchmark/benchmark.h>

#include "aligned.hpp"
#include "heap.hpp"
#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fusegrad/kernels/arch.hpp>
#include <fusegrad/ops/layer_norm.hpp>

#ifdef FUSEGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace fg = fusegrad;
namespace fk = fusegrad::kernels;

namespace {

struct dims {
    std::size_t n, d;
};
// The shape; a transformer's hidden size at a small batch; the resmlp example's layer.
constexpr dims kShapes[] = {{4096, 1024}, {512, 768}, {128, 256}};

std::string shape_name(const dims& s) {
    return std::to_string(s.n) + "x" + std::to_string(s.d);
}
std::string name_of(const dims& s, const std::string& impl) {
    return "layer_norm/" + shape_name(s) + "/" + impl;
}

std::vector<float> random_floats(std::size_t count, float lo, float hi, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(count);
    for (auto& x : v) x = dist(gen);
    return v;
}

using aligned = fusegrad::bench::aligned_floats;

struct problem {
    dims s;
    aligned x, gamma, beta, g;
    explicit problem(dims sh)
        : s(sh),
          x(random_floats(sh.n * sh.d, -2, 3, 1)),
          gamma(random_floats(sh.d, 0.5f, 1.5f, 2)),
          beta(random_floats(sh.d, -1, 1, 3)),
          g(random_floats(sh.n * sh.d, -1, 1, 4)) {}
};

void set_bytes(benchmark::State& st, const dims& s) {
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(5 * s.n * s.d * 4));
}

/// stream_threshold: kernels::stream_store_threshold() for the run (the machine's own choice,
/// or SIZE_MAX for plain stores only).
void run_fusegrad(benchmark::State& st, dims s, fk::arch a, std::size_t stream_threshold) {
    const fk::arch_scope scope(a);
    const fk::stream_store_threshold_scope stream_scope(stream_threshold);
    const problem p(s);
    const fg::shape xs = fg::shape::matrix(s.n, s.d), vs = fg::shape::vector(s.d);
    const fg::op::layer_norm op{};
    aligned y(s.n * s.d), dx(s.n * s.d), dgamma(s.d), dbeta(s.d);
    aligned ws(op.workspace_size(xs, xs, vs, vs));
    const fg::cview<float> x{p.x.data(), xs}, gamma{p.gamma.data(), vs}, beta{p.beta.data(), vs},
        g{p.g.data(), xs};
    const fg::workspace<float> w{ws.data(), ws.size()};
    for (auto _ : st) {
        op.forward<float>({y.data(), xs}, x, gamma, beta, w);
        op.vjp<float>({dx.data(), xs, false}, {dgamma.data(), vs, false}, {dbeta.data(), vs, false},
                      g, {y.data(), xs}, x, gamma, beta, w);
        benchmark::DoNotOptimize(dx.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, s);
}

void run_copy(benchmark::State& st, dims s) {
    const problem p(s);
    aligned out(s.n * s.d);
    for (auto _ : st) {
        std::memcpy(out.data(), p.x.data(), out.size() * sizeof(float));
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    st.SetBytesProcessed(std::int64_t(st.iterations()) * std::int64_t(2 * s.n * s.d * 4));
}

#ifdef FUSEGRAD_HAVE_TORCH
/// torch::layer_norm(x, {D}, gamma, beta, 1e-5) and y.backward(g), one thread, gradients reset
/// to none each step; after an untimed warm-up (libtorch's one-time costs, see
/// bench_softmax_xent.cpp).
void run_torch(benchmark::State& st, dims s) {
    torch::set_num_threads(1);
    const problem p(s);
    const auto n = static_cast<std::int64_t>(s.n), d = static_cast<std::int64_t>(s.d);
    auto blob = [](const aligned& v, std::vector<std::int64_t> sizes) {
        return torch::from_blob(const_cast<float*>(v.data()), sizes).clone();
    };
    auto x = blob(p.x, {n, d}).requires_grad_(true);
    auto gamma = blob(p.gamma, {d}).requires_grad_(true);
    auto beta = blob(p.beta, {d}).requires_grad_(true);
    const auto g = blob(p.g, {n, d});
    auto step = [&] {
        auto y = torch::layer_norm(x, {d}, gamma, beta, 1e-5);
        y.backward(g);
        benchmark::DoNotOptimize(x.grad().data_ptr());
        x.mutable_grad() = torch::Tensor();
        gamma.mutable_grad() = torch::Tensor();
        beta.mutable_grad() = torch::Tensor();
    };
    for (int i = 0; i < 3; ++i) step();
    for (auto _ : st) step();
    set_bytes(st, s);
}
#endif

void add(const std::string& name, std::function<void(benchmark::State&)> f) {
    benchmark::RegisterBenchmark(name.c_str(), f)->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void register_all() {
    for (const auto& s : kShapes) {
        add(name_of(s, "fusegrad"), [s](benchmark::State& st) {
            run_fusegrad(st, s, fk::active_arch(), fk::stream_store_threshold());
        });
        add(name_of(s, "fusegrad_plain_stores"),
            [s](benchmark::State& st) { run_fusegrad(st, s, fk::active_arch(), SIZE_MAX); });
        add(name_of(s, "scalar"), [s](benchmark::State& st) {
            run_fusegrad(st, s, fk::arch::scalar, fk::stream_store_threshold());
        });
#ifdef FUSEGRAD_HAVE_TORCH
        add(name_of(s, "libtorch"), [s](benchmark::State& st) { run_torch(st, s); });
#endif
        add(name_of(s, "memcpy"), [s](benchmark::State& st) { run_copy(st, s); });
    }
}

void print_ratios(const fusegrad::bench::ratio_reporter& rep) {
    const std::size_t threshold = fk::stream_store_threshold();
    std::printf("\nCPU %s; kernels on %s; streaming stores from %s\n",
                fusegrad::bench::cpu_label().c_str(),
                std::string(fk::arch_name(fk::active_arch())).c_str(),
                threshold == SIZE_MAX ? "never" : (std::to_string(threshold) + " bytes").c_str());
    std::printf("%-10s %12s %12s %12s %12s %12s %10s %10s %10s %10s\n", "N x D", "fusegrad us",
                "plain st us", "scalar us", "torch us", "memcpy us", "torch/fg", "plain/fg",
                "scalar/fg", "copy/fg");
    for (const auto& s : kShapes) {
        const double f = rep.best(name_of(s, "fusegrad")), sc = rep.best(name_of(s, "scalar"));
        const double p = rep.best(name_of(s, "fusegrad_plain_stores"));
        const double t = rep.best(name_of(s, "libtorch")), c = rep.best(name_of(s, "memcpy"));
        // memcpy moves 2·N·D floats, a step 5·N·D: the roofline time of a step is 2.5 memcpys.
        std::printf("%-10s %12.1f %12.1f %12.1f %12.1f %12.1f %10.2f %10.2f %10.2f %10.2f\n",
                    shape_name(s).c_str(), f, p, sc, t, c, f > 0 ? t / f : 0.0, f > 0 ? p / f : 0.0,
                    f > 0 ? sc / f : 0.0, f > 0 ? 2.5 * c / f : 0.0);
    }
    std::printf(
        "(best time per step: forward + backward; torch/fg > 1: fusegrad faster; plain/fg: "
        "fusegrad with plain stores only, against the machine's choice; copy/fg: the share of the "
        "memcpy roofline, 5·N·D floats moved against memcpy's 2·N·D)\n");
}

}  // namespace

int main(int argc, char** argv) {
    // libtorch allocates fresh N×D buffers every step (fusegrad nothing): see heap.hpp.
    fusegrad::bench::keep_freed_memory_in_heap();
    register_all();
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    fusegrad::bench::ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    print_ratios(rep);
    benchmark::Shutdown();
    return 0;
}
