// Two threads on one training step: the kernels split over threads (each GEMM and elementwise
// op forks and joins) against fg::nn::data_parallel (each half of the batch runs its whole
// forward and backward on its own thread; one fork/join per step), side by side with the same
// step on one thread and with libtorch on one thread.
//
// The step: the MLP 784→128→64→10 (ReLU) at batch 128 under the fused cross-entropy, then
// Adam; and the softmax regression 784→10 at batch 256, then SGD. Variants:
//   1t          graph.run() on one thread;
//   kernels_2t  graph.run() with fg::nn::set_num_threads(2);
//   dp2_1t      fg::nn::data_parallel, 2 parts, on one thread (its cost without threads);
//   dp2_2t      fg::nn::data_parallel, 2 parts, on two threads, run() then the optimizer's
//               step (the step's kernels split over the two threads);
//   dp2_2t_opt  the same with run(optimizer): the update inside the parts' threads, each
//               thread on the share of the params it has just summed;
//   libtorch    the same MLP step, one thread (the softmax step against libtorch:
//   bench_train_step).
//
// Run: ./bench_data_parallel --benchmark_repetitions=5 (the OpenMP wait policy is the user's:
// with OMP_WAIT_POLICY=passive a region's wake-up costs more, see docs/performance.md).

#include <benchmark/benchmark.h>

#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/adam.hpp>
#include <fusegrad/nn/data_parallel.hpp>
#include <fusegrad/nn/sgd.hpp>
#include <fusegrad/nn/threads.hpp>

#ifdef FUSEGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace fg = fusegrad;

namespace {

enum class variant { one_thread, kernels_2t, dp2_1t, dp2_2t, dp2_2t_opt };

template <std::size_t R, std::size_t C>
xt::xtensor<float, 2> uniform(std::mt19937& gen, float lo, float hi) {
    std::uniform_real_distribution<float> d(lo, hi);
    xt::xtensor<float, 2> a = xt::xtensor<float, 2>::from_shape({R, C});
    for (auto& v : a) v = d(gen);
    return a;
}

struct mlp {
    static constexpr std::size_t batch = 128;
    xt::xtensor<float, 2> x, W1, W2, W3;
    xt::xtensor<float, 1> b1 = xt::zeros<float>({128}), b2 = xt::zeros<float>({64}),
                          b3 = xt::zeros<float>({10});
    xt::xtensor<std::int32_t, 1> y = xt::xtensor<std::int32_t, 1>::from_shape({batch});
    mlp() {
        std::mt19937 gen(5);
        x = uniform<batch, 784>(gen, 0.f, 1.f);
        W1 = uniform<784, 128>(gen, -0.05f, 0.05f);
        W2 = uniform<128, 64>(gen, -0.1f, 0.1f);
        W3 = uniform<64, 10>(gen, -0.1f, 0.1f);
        for (std::size_t i = 0; i < batch; ++i) y(i) = static_cast<std::int32_t>((i * 7) % 10);
    }
    auto loss() {
        auto h1 = fg::relu(fg::linear(fg::input<"x">(x), fg::param<"W1">(W1), fg::param<"b1">(b1)));
        auto h2 = fg::relu(fg::linear(h1, fg::param<"W2">(W2), fg::param<"b2">(b2)));
        return fg::cross_entropy(fg::linear(h2, fg::param<"W3">(W3), fg::param<"b3">(b3)),
                                 fg::labels<"y">(y));
    }
};

struct softmax_regression {
    static constexpr std::size_t batch = 256;
    xt::xtensor<float, 2> x, W;
    xt::xtensor<float, 1> b = xt::zeros<float>({10});
    xt::xtensor<std::int32_t, 1> y = xt::xtensor<std::int32_t, 1>::from_shape({batch});
    softmax_regression() {
        std::mt19937 gen(3);
        x = uniform<batch, 784>(gen, 0.f, 1.f);
        W = uniform<784, 10>(gen, -0.05f, 0.05f);
        for (std::size_t i = 0; i < batch; ++i) y(i) = static_cast<std::int32_t>((i * 3) % 10);
    }
    auto loss() {
        return fg::cross_entropy(
            fg::linear(fg::input<"x">(x), fg::param<"W">(W), fg::param<"b">(b)),
            fg::labels<"y">(y));
    }
};

template <class Model, template <class> class Opt>
void run_step(benchmark::State& st, variant v) {
    Model m;
    auto graph = fg::compile(m.loss());
    Opt<fg::nn::graph_params<decltype(graph)>> opt(fg::nn::params_of(graph), {.lr = 1e-3});
    fg::nn::set_num_threads(v == variant::one_thread || v == variant::dp2_1t ? 1 : 2);
    if (v == variant::one_thread || v == variant::kernels_2t) {
        for (auto _ : st) {
            graph.run();
            opt.step(graph);
        }
    } else if (v == variant::dp2_2t_opt) {
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 2});
        for (auto _ : st) dp.run(opt);
    } else {
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 2});
        for (auto _ : st) {
            dp.run();
            opt.step(graph);
        }
    }
    fg::nn::set_num_threads(1);
}

#ifdef FUSEGRAD_HAVE_TORCH
void run_torch_mlp(benchmark::State& st) {
    torch::set_num_threads(1);
    torch::manual_seed(5);
    auto x = torch::rand({128, 784});
    auto y = torch::arange(128, torch::kInt64).mul(7).remainder(10);
    auto W1 = (torch::rand({128, 784}) * 0.1 - 0.05).requires_grad_();
    auto W2 = (torch::rand({64, 128}) * 0.2 - 0.1).requires_grad_();
    auto W3 = (torch::rand({10, 64}) * 0.2 - 0.1).requires_grad_();
    auto b1 = torch::zeros({128}, torch::requires_grad());
    auto b2 = torch::zeros({64}, torch::requires_grad());
    auto b3 = torch::zeros({10}, torch::requires_grad());
    torch::optim::Adam opt({W1, b1, W2, b2, W3, b3}, torch::optim::AdamOptions(1e-3));
    namespace F = torch::nn::functional;
    for (auto _ : st) {
        opt.zero_grad();
        auto h = torch::relu(F::linear(torch::relu(F::linear(x, W1, b1)), W2, b2));
        auto loss = F::cross_entropy(F::linear(h, W3, b3), y);
        loss.backward();
        opt.step();
        benchmark::DoNotOptimize(loss.data_ptr());
    }
}
#endif

constexpr const char* kVariants[] = {"1t", "kernels_2t", "dp2_1t", "dp2_2t", "dp2_2t_opt"};
constexpr int kNumVariants = 5;

using fusegrad::bench::ratio_reporter;

}  // namespace

int main(int argc, char** argv) {
    for (int k = 0; k < kNumVariants; ++k) {
        const auto v = static_cast<variant>(k);
        benchmark::RegisterBenchmark(
            (std::string("mlp_784x128x64x10_b128/") + kVariants[k]).c_str(),
            [v](benchmark::State& st) { run_step<mlp, fg::nn::adam>(st, v); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
    }
    for (int k = 0; k < kNumVariants; ++k) {
        const auto v = static_cast<variant>(k);
        benchmark::RegisterBenchmark(
            (std::string("softmax_784x10_b256/") + kVariants[k]).c_str(),
            [v](benchmark::State& st) { run_step<softmax_regression, fg::nn::sgd>(st, v); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
    }
#ifdef FUSEGRAD_HAVE_TORCH
    benchmark::RegisterBenchmark("mlp_784x128x64x10_b128/libtorch", run_torch_mlp)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
#endif
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    std::printf("\n%-22s %8s %10s %8s %8s %10s %8s   speed-up over 1t: %s\n", "step", "1t us",
                "kernels_2t", "dp2_1t", "dp2_2t", "dp2_2t_opt", "libtorch",
                "kernels_2t dp2_1t dp2_2t dp2_2t_opt");
    for (const char* step : {"mlp_784x128x64x10_b128", "softmax_784x10_b256"}) {
        double t[kNumVariants];
        for (int k = 0; k < kNumVariants; ++k)
            t[k] = rep.median(std::string(step) + "/" + kVariants[k]);
        const double torch = rep.median(std::string(step) + "/libtorch");  // 0 when not run
        std::printf("%-22s %8.1f %10.1f %8.1f %8.1f %10.1f %8.1f   %.2f %.2f %.2f %.2f\n", step,
                    t[0], t[1], t[2], t[3], t[4], torch, t[0] / t[1], t[0] / t[2], t[0] / t[3],
                    t[0] / t[4]);
    }
    std::printf("(median real time; ratios > 1: faster than one thread)\n");
    benchmark::Shutdown();
    return 0;
}
