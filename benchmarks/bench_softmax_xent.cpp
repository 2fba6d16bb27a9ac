// Fused softmax cross-entropy, forward + backward, on N×C float logits with class-index labels
// (mean reduction), against libtorch's F::cross_entropy + backward() and against a memcpy of
// the same N×C floats (the memory roofline: the fused kernel must at least read the logits and
// write their gradient). fusegrad runs on every available instruction set.
//
// Run: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ./bench_softmax_xent
// After the usual table it prints, per shape, the best time of each and the ratios.

#include <benchmark/benchmark.h>

#include "ratio_reporter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"

#ifdef FUSEGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace fk = fusegrad::kernels;

namespace {

struct shape {
    std::size_t n;  // rows (samples)
    std::size_t c;  // classes
};

constexpr shape kShapes[] = {{256, 10}, {4096, 10}, {4096, 1000}, {1024, 32000}};

std::string shape_name(const shape& s) {
    return std::to_string(s.n) + "x" + std::to_string(s.c);
}

std::string name_of(const shape& s, const std::string& impl) {
    return "softmax_xent/" + shape_name(s) + "/" + impl;
}

std::vector<float> random_logits(const shape& s) {
    std::mt19937 gen(42);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<float> v(s.n * s.c);
    for (auto& x : v) x = dist(gen);
    return v;
}

std::vector<std::int64_t> random_labels(const shape& s) {
    std::mt19937 gen(7);
    std::uniform_int_distribution<std::int64_t> dist(0, static_cast<std::int64_t>(s.c) - 1);
    std::vector<std::int64_t> v(s.n);
    for (auto& y : v) y = dist(gen);
    return v;
}

void set_bytes(benchmark::State& st, const shape& s) {
    // Bytes of the roofline copy: the logits read once, the gradient written once.
    st.SetBytesProcessed(
        static_cast<std::int64_t>(st.iterations() * 2 * s.n * s.c * sizeof(float)));
}

void run_fusegrad(benchmark::State& st, shape s, fk::arch a) {
    const fk::arch_scope scope(a);
    const auto logits = random_logits(s);
    const auto labels = random_labels(s);
    std::vector<float> ds(s.n * s.c, 0.0f), stats(2 * s.n);
    const fk::xent_targets<float> targets{};
    const float alpha = 1.0f / static_cast<float>(s.n);  // the mean over the batch
    for (auto _ : st) {
        float loss = fk::softmax_xent_index_rows<float, std::int64_t>(
            s.n, s.c, logits.data(), labels.data(), targets, alpha, nullptr, nullptr, stats.data());
        fk::softmax_xent_index_rows_backward<float, std::int64_t>(
            s.n, s.c, logits.data(), labels.data(), targets, alpha, nullptr, stats.data(), 0.0f,
            ds.data());
        benchmark::DoNotOptimize(loss);
        benchmark::DoNotOptimize(ds.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, s);
}

void run_copy(benchmark::State& st, shape s) {
    const auto logits = random_logits(s);
    std::vector<float> out(s.n * s.c, 0.0f);
    for (auto _ : st) {
        std::memcpy(out.data(), logits.data(), logits.size() * sizeof(float));
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, s);
}

#ifdef FUSEGRAD_HAVE_TORCH
void run_torch(benchmark::State& st, shape s) {
    torch::set_num_threads(1);
    const auto logits_data = random_logits(s);
    auto labels_data = random_labels(s);
    auto logits = torch::from_blob(const_cast<float*>(logits_data.data()),
                                   {static_cast<std::int64_t>(s.n), static_cast<std::int64_t>(s.c)})
                      .clone()
                      .requires_grad_(true);
    auto labels =
        torch::from_blob(labels_data.data(), {static_cast<std::int64_t>(s.n)}, torch::kLong)
            .clone();
    for (auto _ : st) {
        auto loss = torch::nn::functional::cross_entropy(logits, labels);
        loss.backward();
        benchmark::DoNotOptimize(logits.grad().data_ptr());
        logits.mutable_grad() = torch::Tensor();  // zero_grad(set_to_none=True)
    }
    set_bytes(st, s);
}
#endif

using fusegrad::bench::ratio_reporter;

void register_all() {
    for (const auto& s : kShapes) {
        for (const fk::arch a : fk::available_archs()) {
            if (a == fk::arch::scalar && s.n * s.c > (std::size_t(1) << 23)) continue;
            benchmark::RegisterBenchmark(name_of(s, std::string(fk::arch_name(a))).c_str(),
                                         [s, a](benchmark::State& st) { run_fusegrad(st, s, a); })
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
        }
#ifdef FUSEGRAD_HAVE_TORCH
        benchmark::RegisterBenchmark(name_of(s, "libtorch").c_str(),
                                     [s](benchmark::State& st) { run_torch(st, s); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
#endif
        benchmark::RegisterBenchmark(name_of(s, "memcpy").c_str(),
                                     [s](benchmark::State& st) { run_copy(st, s); })
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
    }
}

void print_ratios(const ratio_reporter& rep) {
    std::printf("\n%-12s %-8s %12s %12s %12s %14s %14s\n", "N x C", "arch", "fusegrad us",
                "libtorch us", "memcpy us", "torch/fusegrad", "memcpy/fusegrad");
    for (const auto& s : kShapes) {
        const double torch = rep.best(name_of(s, "libtorch"));
        const double copy = rep.best(name_of(s, "memcpy"));
        for (const fk::arch a : fk::available_archs()) {
            const double t = rep.best(name_of(s, std::string(fk::arch_name(a))));
            if (t == 0.0) continue;
            std::printf("%-12s %-8s %12.1f %12.1f %12.1f %14.2f %14.2f\n", shape_name(s).c_str(),
                        std::string(fk::arch_name(a)).c_str(), t, torch, copy,
                        torch > 0 ? torch / t : 0.0, copy / t);
        }
    }
    std::printf(
        "(times: best run per iteration; torch/fusegrad > 1 means fusegrad is faster; "
        "memcpy/fusegrad is the share of the copy roofline reached)\n");
}

}  // namespace

int main(int argc, char** argv) {
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    print_ratios(rep);
    benchmark::Shutdown();
    return 0;
}
