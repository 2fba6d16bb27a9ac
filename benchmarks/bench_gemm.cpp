// GEMM: fusegrad::kernels::gemm on every available instruction set against OpenBLAS
// cblas_sgemm / cblas_dgemm at one thread, on the products of a softmax-regression layer
// (X·W, dZ·Wᵀ, Xᵀ·dZ with batch 256, 784 inputs, 10 classes; X·W also at batch 64), an MLP layer
// (256×784×256) and a square 1024³, in float and double. After the usual table it prints GFLOP/s
// and the ratio fusegrad / OpenBLAS per shape (best run of each); then the thread table: float
// on the active set, 1 thread against all (at least 2) on the products of an MLP step and on
// the shapes above (filter it with --benchmark_filter=threads); then the depth-block table: the
// blocked path's depth block (tuned per micro-architecture) at 256 and 512 on one thread
// (--benchmark_filter=depth); then the rows table: an epoch of a first layer's forward and dW
// on shuffled rows, gathered into a copy first against read in place by gemm_rows
// (--benchmark_filter=rows, with --benchmark_repetitions for the medians).
//
// Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ./bench_gemm [--benchmark_filter=...]
// (openblas_set_num_threads(1) is also called; OMP_NUM_THREADS keeps fusegrad on one thread).

#include <benchmark/benchmark.h>

#include "machine.hpp"
#include "ratio_reporter.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fusegrad/kernels/arch.hpp"
#include "fusegrad/kernels/kernels.hpp"
#include "fusegrad/nn/threads.hpp"

#ifdef FUSEGRAD_HAVE_BLAS
#include <cblas.h>
#endif

namespace fk = fusegrad::kernels;

namespace {

struct shape {
    const char* name;
    bool trans_a;
    bool trans_b;
    std::size_t m;
    std::size_t n;
    std::size_t k;
};

// op(A) is m×k, op(B) is k×n, as fusegrad's linear layer calls them.
const shape kShapes[] = {
    {"XW_256x784x10", false, false, 256, 10, 784},   // forward: X · W
    {"XW_64x784x10", false, false, 64, 10, 784},     // forward at batch 64 (packing W weighs more)
    {"dZWt_256x10x784", false, true, 256, 784, 10},  // dX = dZ · Wᵀ
    {"XtdZ_784x256x10", true, false, 784, 10, 256},  // dW = Xᵀ · dZ
    {"MLP_256x784x256", false, false, 256, 256, 784},  // hidden layer forward
    {"square_1024", false, false, 1024, 1024, 1024},   // square
};

// The thread table: float, the active instruction set, 1 thread against all of them, on the
// products of one step of the example's MLP (784-128-64-10, batch 128) and on kShapes. The
// second thread must never make a product slower.
const shape kMlpStepShapes[] = {
    {"X.W1_128x784x128", false, false, 128, 128, 784},
    {"H1.W2_128x128x64", false, false, 128, 64, 128},
    {"H2.W3_128x64x10", false, false, 128, 10, 64},
    {"Xt.dZ1_784x128x128", true, false, 784, 128, 128},
    {"H1t.dZ2_128x128x64", true, false, 128, 64, 128},
    {"dZ2.W2t_128x64x128", false, true, 128, 128, 64},
    {"H2t.dZ3_64x128x10", true, false, 64, 10, 128},
    {"dZ3.W3t_128x10x64", false, true, 128, 64, 10},
};

template <class T>
struct operands {
    std::vector<T> a, b, c;
    std::size_t lda, ldb, ldc;
    explicit operands(const shape& s) {
        std::mt19937 gen(7);
        std::uniform_real_distribution<double> dist(-1.0, 1.0);
        auto fill = [&](std::vector<T>& v, std::size_t count) {
            v.resize(count);
            for (auto& x : v) x = static_cast<T>(dist(gen));
        };
        fill(a, s.m * s.k);
        fill(b, s.k * s.n);
        fill(c, s.m * s.n);
        lda = s.trans_a ? s.m : s.k;
        ldb = s.trans_b ? s.k : s.n;
        ldc = s.n;
    }
};

double flops(const shape& s) {
    return 2.0 * double(s.m) * double(s.n) * double(s.k);
}

template <class T>
void run_fusegrad(benchmark::State& state, shape s, fk::arch a) {
    const fk::arch_scope scope(a);
    operands<T> o(s);
    for (auto _ : state) {
        fk::gemm<T>(s.trans_a, s.trans_b, s.m, s.n, s.k, T(1), o.a.data(), o.lda, o.b.data(), o.ldb,
                    T(0), o.c.data(), o.ldc);
        benchmark::DoNotOptimize(o.c.data());
        benchmark::ClobberMemory();
    }
    state.counters["FLOPS"] =
        benchmark::Counter(flops(s), benchmark::Counter::kIsIterationInvariantRate);
}

/// kernels::gemm on the active set with the kernels allowed `threads` threads.
void run_threads(benchmark::State& state, shape s, std::size_t threads) {
    const std::size_t saved = fusegrad::nn::num_threads();
    fusegrad::nn::set_num_threads(threads);
    run_fusegrad<float>(state, s, fk::active_arch());
    fusegrad::nn::set_num_threads(saved);
}

#ifdef FUSEGRAD_HAVE_BLAS
void blas_gemm(const shape& s, operands<float>& o) {
    cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
                s.trans_b ? CblasTrans : CblasNoTrans, int(s.m), int(s.n), int(s.k), 1.0f,
                o.a.data(), int(o.lda), o.b.data(), int(o.ldb), 0.0f, o.c.data(), int(o.ldc));
}
void blas_gemm(const shape& s, operands<double>& o) {
    cblas_dgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
                s.trans_b ? CblasTrans : CblasNoTrans, int(s.m), int(s.n), int(s.k), 1.0,
                o.a.data(), int(o.lda), o.b.data(), int(o.ldb), 0.0, o.c.data(), int(o.ldc));
}

template <class T>
void run_blas(benchmark::State& state, shape s) {
    operands<T> o(s);
    for (auto _ : state) {
        blas_gemm(s, o);
        benchmark::DoNotOptimize(o.c.data());
        benchmark::ClobberMemory();
    }
    state.counters["FLOPS"] =
        benchmark::Counter(flops(s), benchmark::Counter::kIsIterationInvariantRate);
}
#endif

using fusegrad::bench::ratio_reporter;

template <class T>
const char* type_name() {
    return sizeof(T) == 4 ? "float" : "double";
}

std::string name_of(const shape& s, const char* type, const std::string& impl) {
    return std::string("gemm/") + s.name + "/" + type + "/" + impl;
}

template <class T>
void register_all() {
    for (const auto& s : kShapes) {
        for (const fk::arch a : fk::available_archs()) {
            if (a == fk::arch::scalar && s.m * s.n * s.k > (std::size_t(1) << 24)) continue;
            benchmark::RegisterBenchmark(
                name_of(s, type_name<T>(), std::string(fk::arch_name(a))).c_str(),
                [s, a](benchmark::State& st) { run_fusegrad<T>(st, s, a); })
                ->Unit(benchmark::kNanosecond)
                ->UseRealTime();
        }
#ifdef FUSEGRAD_HAVE_BLAS
        benchmark::RegisterBenchmark(name_of(s, type_name<T>(), "openblas").c_str(),
                                     [s](benchmark::State& st) { run_blas<T>(st, s); })
            ->Unit(benchmark::kNanosecond)
            ->UseRealTime();
#endif
    }
}

std::string thread_name(const shape& s, std::size_t threads) {
    return std::string("gemm/") + s.name + "/float/threads:" + std::to_string(threads);
}

std::size_t most_threads() {
    return std::max<std::size_t>(2, std::thread::hardware_concurrency());
}

std::vector<shape> thread_shapes() {
    std::vector<shape> all(std::begin(kMlpStepShapes), std::end(kMlpStepShapes));
    all.insert(all.end(), std::begin(kShapes), std::end(kShapes));
    return all;
}

void register_threads() {
    for (const auto& s : thread_shapes()) {
        for (const std::size_t t : {std::size_t(1), most_threads()}) {
            benchmark::RegisterBenchmark(thread_name(s, t).c_str(),
                                         [s, t](benchmark::State& st) { run_threads(st, s, t); })
                ->Unit(benchmark::kNanosecond)
                ->UseRealTime();
        }
    }
}

void print_threads(const ratio_reporter& rep) {
    const std::size_t most = most_threads();
    std::printf("\nshape                   1 thread us  %zu threads us  speed-up (float, %s)\n",
                most, std::string(fk::arch_name(fk::active_arch())).c_str());
    for (const auto& s : thread_shapes()) {
        const double one = rep.best(thread_name(s, 1)), all = rep.best(thread_name(s, most));
        if (one == 0.0 || all == 0.0) continue;
        std::printf("%-22s %12.2f %13.2f %9.2f\n", s.name, one / 1e3, all / 1e3, one / all);
    }
}

// The depth-block table: the blocked path's KC (kernels::gemm_depth_block, chosen per
// micro-architecture) at 256 and 512, float, the active set, 1 thread, on the shapes whose k
// spans several blocks (filter it with --benchmark_filter=depth).
const shape kDepthShapes[] = {
    {"MLP_256x784x256", false, false, 256, 256, 784},
    {"square_1024", false, false, 1024, 1024, 1024},
    {"tall_2048x256x2048", false, false, 2048, 256, 2048},
};
constexpr std::size_t kDepthBlocks[] = {256, 512};

std::string depth_name(const shape& s, std::size_t kc) {
    return std::string("gemm/") + s.name + "/float/depth:" + std::to_string(kc);
}

void register_depths() {
    for (const auto& s : kDepthShapes) {
        for (const std::size_t kc : kDepthBlocks) {
            benchmark::RegisterBenchmark(depth_name(s, kc).c_str(),
                                         [s, kc](benchmark::State& st) {
                                             const std::size_t saved = fusegrad::nn::num_threads();
                                             fusegrad::nn::set_num_threads(1);
                                             const fk::gemm_depth_block_scope scope(kc);
                                             run_fusegrad<float>(st, s, fk::active_arch());
                                             fusegrad::nn::set_num_threads(saved);
                                         })
                ->Unit(benchmark::kNanosecond)
                ->UseRealTime();
        }
    }
}

void print_depths(const ratio_reporter& rep) {
    std::printf(
        "\nshape                  depth 256 us  depth 512 us  256 / 512  (float, %s, 1 "
        "thread; this CPU's default: %zu)\n",
        std::string(fk::arch_name(fk::active_arch())).c_str(), fk::gemm_depth_block());
    for (const auto& s : kDepthShapes) {
        const double a = rep.best(depth_name(s, 256)), b = rep.best(depth_name(s, 512));
        if (a == 0.0 || b == 0.0) continue;
        std::printf("%-22s %12.1f %13.1f %10.3f\n", s.name, a / 1e3, b / 1e3, a / b);
    }
}

template <class T>
void print_ratios(const ratio_reporter& rep) {
    for (const auto& s : kShapes) {
        const double blas = rep.best(name_of(s, type_name<T>(), "openblas"));
        for (const fk::arch a : fk::available_archs()) {
            const double t = rep.best(name_of(s, type_name<T>(), std::string(fk::arch_name(a))));
            if (t == 0.0) continue;
            std::printf("%-18s %-6s %-8s %8.1f GFLOP/s", s.name, type_name<T>(),
                        std::string(fk::arch_name(a)).c_str(), flops(s) / t);
            if (blas > 0.0) {
                std::printf("   OpenBLAS %8.1f GFLOP/s   ratio %.2f", flops(s) / blas, blas / t);
            }
            std::printf("\n");
        }
    }
}

// ---- rows read in place (kernels::gemm_rows) against a gathered copy
// ------------------------------

// A first layer's forward and dW on a batch of rows picked from a 60000 × 784 float table
// (Fashion-MNIST's training images' size), one shuffled epoch's batches per iteration, so that
// rows come from memory as in training: "copy" gathers the batch then runs gemm (what
// dataset::next() + linear do), "rows" runs gemm_rows on the rows in place (embedding_linear).
struct rows_shape {
    const char* name;
    std::size_t batch, out;
};
constexpr rows_shape kRowsShapes[] = {
    {"softmax_256x784x10", 256, 10}, {"softmax_64x784x10", 64, 10}, {"mlp_128x784x256", 128, 256}};
constexpr std::size_t kRowsTable = 60000, kRowsDepth = 784;

std::string rows_name(const rows_shape& s, const char* how) {
    return std::string("rows/") + s.name + "/" + how;
}

void run_rows(benchmark::State& state, rows_shape s, bool in_place) {
    static const std::vector<float> table = [] {
        std::vector<float> t(kRowsTable * kRowsDepth);
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> u(0.f, 1.f);
        for (auto& v : t) v = u(rng);
        return t;
    }();
    static const std::vector<std::size_t> order = [] {
        std::vector<std::size_t> o(kRowsTable);
        for (std::size_t i = 0; i < o.size(); ++i) o[i] = i;
        std::shuffle(o.begin(), o.end(), std::mt19937(6));
        return o;
    }();
    const std::size_t n = s.batch, d = kRowsDepth, c = s.out;
    std::vector<float> w(d * c, 0.01f), g(n * c, 0.02f), out(n * c), dw(d * c), copy(n * d);
    std::vector<const float*> rows(n);
    const std::size_t saved = fusegrad::nn::num_threads();
    fusegrad::nn::set_num_threads(1);
    for (auto _ : state) {
        for (std::size_t b0 = 0; b0 + n <= kRowsTable; b0 += n) {
            const std::size_t* idx = order.data() + b0;
            if (in_place) {
                for (std::size_t r = 0; r < n; ++r) rows[r] = table.data() + idx[r] * d;
                fk::gemm_rows<float>(false, false, n, c, d, 1.f, rows.data(), w.data(), c, 0.f,
                                     out.data(), c);
                fk::gemm_rows<float>(true, false, d, c, n, 1.f, rows.data(), g.data(), c, 0.f,
                                     dw.data(), c);
            } else {
                for (std::size_t r = 0; r < n; ++r)
                    std::copy_n(table.data() + idx[r] * d, d, copy.data() + r * d);
                fk::gemm<float>(false, false, n, c, d, 1.f, copy.data(), d, w.data(), c, 0.f,
                                out.data(), c);
                fk::gemm<float>(true, false, d, c, n, 1.f, copy.data(), d, g.data(), c, 0.f,
                                dw.data(), c);
            }
        }
        benchmark::DoNotOptimize(dw.data());
    }
    fusegrad::nn::set_num_threads(saved);
}

void register_rows() {
    for (const auto& s : kRowsShapes) {
        for (const bool in_place : {false, true}) {
            benchmark::RegisterBenchmark(
                rows_name(s, in_place ? "rows" : "copy").c_str(),
                [s, in_place](benchmark::State& st) { run_rows(st, s, in_place); })
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        }
    }
}

void print_rows(const ratio_reporter& rep) {
    std::printf(
        "\nshape (an epoch of forward + dW)  copy + gemm ms  gemm_rows ms  rows / copy  (float, "
        "%s, 1 thread, medians)\n",
        std::string(fk::arch_name(fk::active_arch())).c_str());
    for (const auto& s : kRowsShapes) {
        const double a = rep.median(rows_name(s, "copy")), b = rep.median(rows_name(s, "rows"));
        if (a == 0.0 || b == 0.0) continue;
        std::printf("%-33s %14.2f %13.2f %12.3f\n", s.name, a, b, b / a);
    }
}

}  // namespace

int main(int argc, char** argv) {
#if defined(FUSEGRAD_HAVE_BLAS) && defined(OPENBLAS_VERSION)
    openblas_set_num_threads(1);
#endif
    register_all<float>();
    register_all<double>();
    register_threads();
    register_depths();
    register_rows();
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    ratio_reporter rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    std::printf(
        "\nshape              type   arch      fusegrad                  (ratio = "
        "fusegrad speed / OpenBLAS speed, 1 thread)\n");
    print_ratios<float>(rep);
    print_ratios<double>(rep);
    print_threads(rep);
    print_depths(rep);
    print_rows(rep);
    benchmark::Shutdown();
    return 0;
}
