// One softmax-regression training step (784 → 10, batch 64 and 256: forward, cross-entropy,
// backward, SGD) three ways, side by side:
//   engine    the public graph API: fg::compile(mean(nll(softmax(linear(x, W, b)), y))) (rewritten
//             into the fused softmax_xent), graph.run(), fg::nn::sgd::step;
//   kernels   the same arithmetic as the best hand-written call sequence of fusegrad kernels
//             (the fused softmax-xent forward+backward kernel included): what the engine should
//             reduce to, so its overhead is engine / kernels − 1;
//   libtorch  F::linear + F::cross_entropy + backward() + torch::optim::SGD::step, 1 thread.
//
// Run: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ./bench_train_step
// After the usual table it prints the ratios per batch size.

#include <benchmark/benchmark.h>

#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/params.hpp>
#include <fusegrad/nn/sgd.hpp>

#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/kernels/optim.hpp"

#ifdef FUSEGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace fg = fusegrad;
namespace fk = fusegrad::kernels;

namespace {

constexpr std::size_t kIn = 784, kClasses = 10;
constexpr std::size_t kBatches[] = {64, 256};
constexpr float kLr = 0.1f;

struct problem {
    xt::xtensor<float, 2> x;
    xt::xtensor<std::int32_t, 1> y;
    xt::xtensor<float, 2> w;
    xt::xtensor<float, 1> b;

    explicit problem(std::size_t batch)
        : x(xt::xtensor<float, 2>::from_shape({batch, kIn})),
          y(xt::xtensor<std::int32_t, 1>::from_shape({batch})),
          w(xt::xtensor<float, 2>::from_shape({kIn, kClasses})),
          b(xt::xtensor<float, 1>::from_shape({kClasses})) {
        std::mt19937 gen(3);
        std::uniform_real_distribution<float> pixel(0.0f, 1.0f), weight(-0.05f, 0.05f);
        std::uniform_int_distribution<std::int32_t> label(0, kClasses - 1);
        for (auto& v : x) v = pixel(gen);
        for (auto& v : y) v = label(gen);
        for (auto& v : w) v = weight(gen);
        b.fill(0.0f);
    }
};

/// The default rules make the graph one linear_xent; `Xent` stops at linear + softmax_xent
/// (the rules before linear_xent existed), for the side-by-side.
template <bool Xent = false>
void run_engine(benchmark::State& st, std::size_t batch) {
    problem p(batch);
    auto logits = fg::linear(fg::input<"x">(p.x), fg::param<"W">(p.w), fg::param<"b">(p.b));
    auto loss = fg::mean(fg::nll(fg::softmax(logits), fg::labels<"y">(p.y)));
    auto graph = [&] {
        if constexpr (Xent)
            return fg::compile(
                loss, fg::make_rule_set(fg::rules::nll_of_softmax, fg::rules::mean_of_xent));
        else
            return fg::compile(loss);
    }();
    fg::nn::sgd sgd(fg::nn::params<"W", "b">(p.w, p.b), {.lr = kLr});
    for (auto _ : st) {
        graph.run();
        sgd.step(graph);
        benchmark::DoNotOptimize(graph.value());
    }
}

void run_kernels(benchmark::State& st, std::size_t batch) {
    problem p(batch);
    const std::size_t m = batch, n = kClasses, k = kIn;
    std::vector<float> z(m * n), dz(m * n), dw(k * n), db(n);
    const fk::xent_targets<float> targets{};
    for (auto _ : st) {
        // forward: z = x W + b; loss = mean softmax-xent and, in the same pass over z, the
        // backward's dz = (softmax − onehot) / m (the fused kernel; labels are known valid)
        fk::broadcast_row<float>(m, n, p.b.data(), z.data());
        fk::gemm<float>(false, false, m, n, k, 1.0f, p.x.data(), k, p.w.data(), n, 1.0f, z.data(),
                        n);
        const float loss = fk::softmax_xent_index_rows_fused<float, std::int32_t>(
                               m, n, z.data(), p.y.data(), targets, 1.0f / m, nullptr, dz.data()) /
                           float(m);
        // backward: dW = xᵀ dz, db = Σ_rows dz
        fk::gemm<float>(true, false, k, n, m, 1.0f, p.x.data(), k, dz.data(), n, 0.0f, dw.data(),
                        n);
        fk::col_sums<float>(m, n, dz.data(), 0.0f, db.data());
        // SGD
        fk::sgd_update<float>(k * n, kLr, 0.0f, 0.0f, false, dw.data(), nullptr, p.w.data());
        fk::sgd_update<float>(n, kLr, 0.0f, 0.0f, false, db.data(), nullptr, p.b.data());
        benchmark::DoNotOptimize(loss);
        benchmark::ClobberMemory();
    }
}

#ifdef FUSEGRAD_HAVE_TORCH
void run_torch(benchmark::State& st, std::size_t batch) {
    torch::set_num_threads(1);
    problem p(batch);
    const auto m = static_cast<std::int64_t>(batch);
    auto x = torch::from_blob(p.x.data(), {m, static_cast<std::int64_t>(kIn)}).clone();
    auto y = torch::from_blob(p.y.data(), {m}, torch::kInt).to(torch::kLong);
    // F::linear takes W as out × in.
    auto w = torch::from_blob(p.w.data(),
                              {static_cast<std::int64_t>(kIn), static_cast<std::int64_t>(kClasses)})
                 .t()
                 .contiguous()
                 .requires_grad_(true);
    auto b = torch::zeros({static_cast<std::int64_t>(kClasses)}).requires_grad_(true);
    torch::optim::SGD opt({w, b}, torch::optim::SGDOptions(kLr));
    for (auto _ : st) {
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(torch::nn::functional::linear(x, w, b), y);
        loss.backward();
        opt.step();
        benchmark::DoNotOptimize(loss.data_ptr());
    }
}
#endif

using fusegrad::bench::ratio_reporter;

std::string name_of(std::size_t batch, const char* impl) {
    return "train_step/784x10/batch" + std::to_string(batch) + "/" + impl;
}

}  // namespace

int main(int argc, char** argv) {
    for (std::size_t batch : kBatches) {
        benchmark::RegisterBenchmark(name_of(batch, "engine").c_str(),
                                     [batch](benchmark::State& st) { run_engine(st, batch); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(name_of(batch, "engine_softmax_xent").c_str(),
                                     [batch](benchmark::State& st) { run_engine<true>(st, batch); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
        benchmark::RegisterBenchmark(name_of(batch, "kernels").c_str(),
                                     [batch](benchmark::State& st) { run_kernels(st, batch); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
#ifdef FUSEGRAD_HAVE_TORCH
        benchmark::RegisterBenchmark(name_of(batch, "libtorch").c_str(),
                                     [batch](benchmark::State& st) { run_torch(st, batch); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
#endif
    }
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    std::printf("\n%-8s %10s %10s %10s %10s %16s %16s %14s\n", "batch", "engine us", "sx us",
                "kernels us", "torch us", "torch/engine", "engine/kernels", "sx/engine");
    for (std::size_t batch : kBatches) {
        const double e = rep.best(name_of(batch, "engine")),
                     x = rep.best(name_of(batch, "engine_softmax_xent")),
                     k = rep.best(name_of(batch, "kernels")),
                     t = rep.best(name_of(batch, "libtorch"));
        std::printf("%-8zu %10.1f %10.1f %10.1f %10.1f %16.2f %16.3f %14.3f\n", batch, e, x, k, t,
                    e > 0 && t > 0 ? t / e : 0.0, k > 0 ? e / k : 0.0, e > 0 ? x / e : 0.0);
    }
    std::printf("(engine: one linear_xent; sx: the same graph as linear + softmax_xent)\n");
    std::printf(
        "(arch %s; torch/engine > 1: the engine is faster; engine/kernels − 1 is the "
        "engine's overhead)\n",
        std::string(fk::arch_name(fk::active_arch())).c_str());
    benchmark::Shutdown();
    return 0;
}
