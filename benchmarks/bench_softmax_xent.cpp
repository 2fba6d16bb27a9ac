// Fused softmax cross-entropy, forward + backward, on N×C float logits with class-index labels
// (mean reduction), against libtorch's F::cross_entropy + backward() and against a memcpy of
// the same N×C floats (the memory roofline: the fused kernel must at least read the logits and
// write their gradient). fusegrad runs on every available instruction set, as the fused kernel
// (softmax_xent_index_rows_fused, the main row) and as the forward + backward kernel pair.
//
// Run: OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive ./bench_softmax_xent
// After the usual table it prints, per shape, the best time of each and the ratios. The
// libtorch rows are timed after an untimed warm-up and with freed memory kept in the heap (see
// run_torch and heap.hpp); FUSEGRAD_BENCH_DEFAULT_MALLOC=1 shows what glibc's defaults cost it.

#include <benchmark/benchmark.h>

#include "heap.hpp"
#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
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

/// The fused kernel: forward and backward in one call (one exp per element).
void run_fused(benchmark::State& st, shape s, fk::arch a) {
    const fk::arch_scope scope(a);
    const auto logits = random_logits(s);
    const auto labels = random_labels(s);
    std::vector<float> ds(s.n * s.c, 0.0f);
    const fk::xent_targets<float> targets{};
    const float alpha = 1.0f / static_cast<float>(s.n);  // the mean over the batch
    for (auto _ : st) {
        float loss =
            alpha * fk::softmax_xent_index_rows_fused<float, std::int64_t>(
                        s.n, s.c, logits.data(), labels.data(), targets, alpha, nullptr, ds.data());
        benchmark::DoNotOptimize(loss);
        benchmark::DoNotOptimize(ds.data());
        benchmark::ClobberMemory();
    }
    set_bytes(st, s);
}

/// The forward kernel then the backward kernel (row statistics kept in between).
void run_pair(benchmark::State& st, shape s, fk::arch a) {
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
/// libtorch's F::cross_entropy (mean) + backward(), 1 thread. `keep_grad`: the gradient buffer
/// is kept and zeroed each iteration (optimizer.zero_grad(set_to_none=False)), backward then
/// accumulates into it; otherwise it is reset to none (set_to_none=True, PyTorch 2's default)
/// and every backward allocates a fresh one. The ratio table uses the faster of the two.
///
/// Why the untimed warm-up: the first calls in a process pay libtorch's one-time costs (lazy
/// symbol binding and relocation in ld.so, operator registration, first-touch page faults of
/// every buffer); perf showed them at > 50% of the samples. At a few hundred ms per iteration,
/// Google Benchmark's 0.2-0.3 s minimum ran one or two iterations, so that was what it timed:
/// 116 ms instead of ~11 ms at 4096×1000. See also main() for the allocator setting.
void run_torch(benchmark::State& st, shape s, bool keep_grad) {
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
    auto step = [&] {
        auto loss = torch::nn::functional::cross_entropy(logits, labels);
        loss.backward();
        benchmark::DoNotOptimize(logits.grad().data_ptr());
        if (keep_grad)
            logits.mutable_grad().zero_();
        else
            logits.mutable_grad() = torch::Tensor();  // zero_grad(set_to_none=True)
    };
    for (int i = 0; i < 3; ++i) step();  // warm-up, untimed
    for (auto _ : st) step();
    set_bytes(st, s);
}
#endif

using fusegrad::bench::ratio_reporter;

void add(const std::string& name, std::function<void(benchmark::State&)> f) {
    benchmark::RegisterBenchmark(name.c_str(), f)->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void register_all() {
    for (const auto& s : kShapes) {
        for (const fk::arch a : fk::available_archs()) {
            if (a == fk::arch::scalar && s.n * s.c > (std::size_t(1) << 23)) continue;
            const std::string arch(fk::arch_name(a));
            add(name_of(s, arch), [s, a](benchmark::State& st) { run_fused(st, s, a); });
            add(name_of(s, "pair_" + arch), [s, a](benchmark::State& st) { run_pair(st, s, a); });
        }
#ifdef FUSEGRAD_HAVE_TORCH
        add(name_of(s, "libtorch"), [s](benchmark::State& st) { run_torch(st, s, true); });
        add(name_of(s, "libtorch_grad_none"),
            [s](benchmark::State& st) { run_torch(st, s, false); });
#endif
        add(name_of(s, "memcpy"), [s](benchmark::State& st) { run_copy(st, s); });
    }
}

void print_ratios(const ratio_reporter& rep) {
    std::printf("\n%-12s %-8s %11s %11s %11s %11s %9s %9s %9s %9s\n", "N x C", "arch", "fused us",
                "pair us", "torch us", "memcpy us", "torch/fu", "torch/pr", "copy/fu", "copy/pr");
    for (const auto& s : kShapes) {
        const double kept = rep.best(name_of(s, "libtorch"));
        const double none = rep.best(name_of(s, "libtorch_grad_none"));
        const double torch = kept > 0 && none > 0 ? std::min(kept, none) : kept + none;
        const double copy = rep.best(name_of(s, "memcpy"));
        for (const fk::arch a : fk::available_archs()) {
            const std::string arch(fk::arch_name(a));
            const double t = rep.best(name_of(s, arch));
            const double p = rep.best(name_of(s, "pair_" + arch));
            if (t == 0.0) continue;
            std::printf("%-12s %-8s %11.1f %11.1f %11.1f %11.1f %9.2f %9.2f %9.2f %9.2f\n",
                        shape_name(s).c_str(), arch.c_str(), t, p, torch, copy,
                        torch > 0 ? torch / t : 0.0, torch > 0 && p > 0 ? torch / p : 0.0, copy / t,
                        p > 0 ? copy / p : 0.0);
        }
        if (kept > 0 && none > 0)
            std::printf(
                "%-12s libtorch: grad kept and zeroed %.1f us, grad reset to none %.1f us\n",
                shape_name(s).c_str(), kept, none);
    }
    std::printf(
        "(times: best run per iteration. fused: softmax_xent_index_rows_fused; pair: the forward "
        "then the backward kernel; torch: F::cross_entropy + backward, the faster grad variant; "
        "torch/x > 1 means x is faster; copy/x is the share of the memcpy roofline reached)\n");
}

}  // namespace

int main(int argc, char** argv) {
    fusegrad::bench::keep_freed_memory_in_heap();  // see heap.hpp
    register_all();
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    print_ratios(rep);
    benchmark::Shutdown();
    return 0;
}
