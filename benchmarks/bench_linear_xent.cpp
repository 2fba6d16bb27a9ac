// Cross-entropy over a linear layer, one training step (forward + backward, float, mean
// reduction, class-index labels): x (N×D, a param: its gradient is wanted, as for a language
// model's hidden states), W (D×C), b (C). Three implementations side by side in one run:
//   fused    fg::compile(fg::cross_entropy(fg::linear(x, W, b), y)), which the rewriter turns into
//            linear_xent (the logits never held);
//   unfused  the same graph with fg::no_rewrite: linear, then softmax_xent over the N×C logits
//            (what fusegrad did before linear_xent);
//   torch    libtorch's F::cross_entropy(torch::addmm(b, x, W), y) + backward().
//
// Run: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ./bench_linear_xent        (one thread)
//      OMP_WAIT_POLICY=passive ./bench_linear_xent                          (all threads)
// Options (environment): FUSEGRAD_BENCH_SHAPES=small|medium|all (default medium: the two
// smaller shapes; "all" adds 4096×1024×32000 and 8192×1024×128256, minutes per step on one
// core). It first prints the machine (machine.hpp: CPU family and model, FMA peak, memory
// bandwidth); after the timings the FMA peak at the run's thread count, and per
// shape the medians over the repetitions (use --benchmark_repetitions=N; the table stays right
// with --benchmark_report_aggregates_only too), their ratios, GFLOP/s over the work the fused op
// does (four GEMMs' worth: logits, recomputed logits, dx, dW: 8·N·D·C flops) as a share of that
// FMA peak and of the same run's kernels::gemm rate at 1024³, and the peak memory of one step
// beyond the inputs, the params and their gradients, measured in a child process per
// implementation (VmHWM after resetting it, minus the resident size before the first step, minus
// the gradients' bytes). The child runs its step on one thread: a process forked from one whose
// OpenMP pool has started hangs in its first parallel region (libgomp does not survive fork),
// and the memory of a step hardly depends on the thread count.

#include <benchmark/benchmark.h>

#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/kernels/arch.hpp>
#include <fusegrad/kernels/kernels.hpp>
#include <fusegrad/nn/threads.hpp>

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef FUSEGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace fg = fusegrad;

namespace {

struct shape {
    std::size_t n, d, c;
};

std::string shape_name(const shape& s) {
    return std::to_string(s.n) + "x" + std::to_string(s.d) + "x" + std::to_string(s.c);
}

std::vector<shape> shapes() {
    const char* e = std::getenv("FUSEGRAD_BENCH_SHAPES");
    const std::string which = e ? e : "medium";
    std::vector<shape> v = {{256, 784, 10}};
    if (which == "small") return v;
    v.push_back({2048, 256, 32000});
    if (which == "all") {
        v.push_back({4096, 1024, 32000});
        v.push_back({8192, 1024, 128256});
    }
    return v;
}

/// The problem's data, float, seeded.
struct data {
    xt::xtensor<float, 2> x, w;
    xt::xtensor<float, 1> b;
    xt::xtensor<std::int64_t, 1> y;
    explicit data(const shape& s)
        : x(xt::xtensor<float, 2>::from_shape({s.n, s.d})),
          w(xt::xtensor<float, 2>::from_shape({s.d, s.c})),
          b(xt::xtensor<float, 1>::from_shape({s.c})),
          y(xt::xtensor<std::int64_t, 1>::from_shape({s.n})) {
        std::mt19937 gen(42);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (auto& v : x) v = nd(gen);
        const float scale = 1.0f / std::sqrt(float(s.d));
        for (auto& v : w) v = nd(gen) * scale;
        for (auto& v : b) v = nd(gen) * 0.1f;
        std::uniform_int_distribution<std::int64_t> ld(0, std::int64_t(s.c) - 1);
        for (auto& v : y) v = ld(gen);
    }
};

template <bool Fused>
auto make_graph(data& d) {
    auto e =
        fg::cross_entropy(fg::linear(fg::param<"x">(d.x), fg::param<"W">(d.w), fg::param<"b">(d.b)),
                          fg::labels<"y">(d.y));
    if constexpr (Fused)
        return fg::compile(e);
    else
        return fg::compile(e, fg::no_rewrite);
}

/// The kernels' thread count at start-up: libtorch's first use resets OpenMP's count (to 1
/// here), which would leave every later fusegrad row on one thread.
std::size_t g_threads = 1;

template <bool Fused>
void run_fusegrad(benchmark::State& st, shape s) {
    fg::nn::set_num_threads(g_threads);
    data d(s);
    auto g = make_graph<Fused>(d);
    g.run();  // warm-up: plans, allocates the arena
    for (auto _ : st) {
        g.run();
        benchmark::DoNotOptimize(g.value());
    }
    st.counters["GFLOP/s"] = benchmark::Counter(8.0 * double(s.n * s.d * s.c),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

#ifdef FUSEGRAD_HAVE_TORCH
struct torch_problem {
    torch::Tensor x, w, b, y;
    explicit torch_problem(data& d, const shape& s) {
        const auto opt = torch::TensorOptions().dtype(torch::kFloat32);
        x = torch::from_blob(d.x.data(), {long(s.n), long(s.d)}, opt).clone().requires_grad_();
        w = torch::from_blob(d.w.data(), {long(s.d), long(s.c)}, opt).clone().requires_grad_();
        b = torch::from_blob(d.b.data(), {long(s.c)}, opt).clone().requires_grad_();
        y = torch::from_blob(d.y.data(), {long(s.n)}, torch::kInt64).clone();
    }
    float step() {
        x.mutable_grad() = torch::Tensor();
        w.mutable_grad() = torch::Tensor();
        b.mutable_grad() = torch::Tensor();
        auto loss = torch::nn::functional::cross_entropy(torch::addmm(b, x, w), y);
        loss.backward();
        return loss.item<float>();
    }
};

void run_torch(benchmark::State& st, shape s) {
    data d(s);
    torch_problem t(d, s);
    t.step();
    for (auto _ : st) benchmark::DoNotOptimize(t.step());
    st.counters["GFLOP/s"] = benchmark::Counter(8.0 * double(s.n * s.d * s.c),
                                                benchmark::Counter::kIsIterationInvariantRate);
}
#endif

void run_gemm_reference(benchmark::State& st) {
    const std::size_t n = 1024;
    std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
    for (auto _ : st) {
        fg::kernels::gemm<float>(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                                 c.data(), n);
        benchmark::DoNotOptimize(c.data());
    }
    st.counters["GFLOP/s"] =
        benchmark::Counter(2.0 * double(n * n * n), benchmark::Counter::kIsIterationInvariantRate);
}

// ---- peak memory, in a child process per implementation -------------------------------------

long status_kib(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t k = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, k, key) == 0) return std::atol(line.c_str() + k + 1);
    return -1;
}

/// Runs step() once after the setup (inputs made, graph compiled), in a child; returns the peak
/// resident growth of that first step in bytes (VmHWM reset before it, minus VmRSS before it):
/// fusegrad's arena and gradients and torch's temporaries and gradients alike. -1 when the
/// child failed.
template <class Setup>
double peak_growth(Setup&& setup) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        // One thread in the child (see the header): libgomp's pool did not survive the fork.
        fg::nn::set_num_threads(1);
#ifdef _OPENMP
        omp_set_num_threads(1);
#endif
#ifdef FUSEGRAD_HAVE_TORCH
        torch::set_num_threads(1);
#endif
        double grown = -1;
        try {
            auto step = setup();
            std::ofstream("/proc/self/clear_refs") << "5";  // reset VmHWM to VmRSS
            const long before = status_kib("VmRSS:");
            step();
            grown = double(status_kib("VmHWM:") - before) * 1024.0;
        } catch (...) {
        }
        if (write(fd[1], &grown, sizeof grown) != sizeof grown) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    double grown = -1;
    if (read(fd[0], &grown, sizeof grown) != sizeof grown) grown = -1;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return grown;
}

}  // namespace

int main(int argc, char** argv) {
    g_threads = fg::nn::num_threads();
#ifdef FUSEGRAD_HAVE_TORCH
    torch::set_num_threads(int(g_threads));
#endif
    const auto list = shapes();
    benchmark::RegisterBenchmark("gemm/1024^3", run_gemm_reference)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (const auto& s : list) {
        const bool huge = s.n * s.c > 300'000'000;
        auto add = [&](const std::string& impl, auto fn) {
            auto* b = benchmark::RegisterBenchmark(
                ("linear_xent/" + shape_name(s) + "/" + impl).c_str(), fn, s);
            // Real time: with threads the main thread's CPU time is not the step's time (and
            // the GFLOP/s counter would be divided by it).
            b->Unit(benchmark::kMillisecond)->UseRealTime();
            if (huge) b->Iterations(1);
        };
        add("fused", run_fusegrad<true>);
        add("unfused", run_fusegrad<false>);
#ifdef FUSEGRAD_HAVE_TORCH
        add("torch", run_torch);
#endif
    }
    benchmark::Initialize(&argc, argv);
    const fg::bench::machine_limits limits = fg::bench::print_machine(int(g_threads));
    fg::bench::ratio_reporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);

    const int threads = int(g_threads);
    const double fma = limits.fma_all;  // probed once, before the timings
    std::printf("\nFMA peak at this run's %d thread(s): %.1f GFLOP/s\n", threads, fma);
    const double gemm_ms = reporter.median("gemm/1024^3");
    const double peak = gemm_ms > 0 ? 2.0 * 1024.0 * 1024.0 * 1024.0 / (gemm_ms * 1e6) : 0;
    std::printf("kernels::gemm 1024^3: %.1f GFLOP/s (%.0f%% of the FMA peak)\n", peak,
                fma > 0 ? 100.0 * peak / fma : 0);
    std::printf("Times: medians over the repetitions, ms per step.\n\n");
    std::printf("%-20s %10s %10s %10s %9s %9s %8s %8s %12s %12s %12s %8s\n", "N x D x C",
                "fused ms", "unfused ms", "torch ms", "unf/fused", "torch/fus", "%fma", "%gemm",
                "fused MB", "unfused MB", "torch MB", "fus/tor");
    for (const auto& s : list) {
        const std::string base = "linear_xent/" + shape_name(s) + "/";
        const double f = reporter.median(base + "fused"), u = reporter.median(base + "unfused"),
                     t = reporter.median(base + "torch");
        const double gflops = f > 0 ? 8.0 * double(s.n * s.d * s.c) / (f * 1e6) : 0;
        const double grads = 4.0 * double(s.n * s.d + s.d * s.c + s.c);
        const auto mem_fg = [&](auto fused) {
            return peak_growth([&] {
                auto* d = new data(s);
                using G = decltype(make_graph<decltype(fused)::value>(*d));
                auto* g = new G(make_graph<decltype(fused)::value>(*d));
                return [g] { g->run(); };
            });
        };
        // Every implementation's growth includes the gradients (fusegrad's param gradients are
        // allocated by the first run, torch's by backward()): count them out.
        const auto beyond = [&](double v) { return v < 0 ? v : std::max(0.0, v - grads); };
        const double mf = beyond(mem_fg(std::true_type{})), mu = beyond(mem_fg(std::false_type{}));
        double mt = -1;
#ifdef FUSEGRAD_HAVE_TORCH
        mt = peak_growth([&] {
            auto* d = new data(s);
            auto* tp = new torch_problem(*d, s);
            return [tp] { tp->step(); };
        });
        mt = beyond(mt);
#endif
        const auto mb = [](double v) { return v < 0 ? -1.0 : v / 1048576.0; };
        std::printf(
            "%-20s %10.2f %10.2f %10.2f %9.2f %9.2f %7.0f%% %7.0f%% %12.1f %12.1f %12.1f %8.4f\n",
            shape_name(s).c_str(), f, u, t, f > 0 ? u / f : 0, f > 0 ? t / f : 0,
            fma > 0 ? 100.0 * gflops / fma : 0, peak > 0 ? 100.0 * gflops / peak : 0, mb(mf),
            mb(mu), mb(mt), mt > 0 ? mf / mt : 0);
    }
    std::printf(
        "\nMB: peak resident growth of one step beyond inputs, params and gradients (-1: "
        "not measured or failed).\n");
    return 0;
}
