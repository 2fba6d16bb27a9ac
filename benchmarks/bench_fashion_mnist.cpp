// One training epoch on Fashion-MNIST, fusegrad beside libtorch (when found), one thread each
// (fusegrad also on two: threads:2 with the kernels split over them, parts:2 with each batch's
// halves run side by side by fg::nn::data_parallel; real time), with the same data, the same
// batch order, the same initial weights and the same optimizer.
//
//   softmax regression: batch 256, SGD lr 0.1, W ~ N(0, 0.01²)            (Dive into Deep Learning)
//   MLP 784→256→10:     batch 128, Adam lr 1e-3, Kaiming W1, Xavier W2
//
// Each iteration trains one epoch from the same initial weights (the reset is not timed), so
// the counter test_acc, the test accuracy after that epoch, is comparable across the two.
//
//   ./bench_fashion_mnist --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// It runs with OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1 (it re-executes itself with them
// when they are unset).

#include <benchmark/benchmark.h>

#include "machine.hpp"

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <xtensor/xtensor.hpp>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/adam.hpp>
#include <fusegrad/nn/data_parallel.hpp>
#include <fusegrad/nn/dataset.hpp>
#include <fusegrad/nn/idx.hpp>
#include <fusegrad/nn/init.hpp>
#include <fusegrad/nn/metrics.hpp>
#include <fusegrad/nn/sgd.hpp>
#include <fusegrad/nn/threads.hpp>

#ifdef FUSEGRAD_HAVE_TORCH
#include <torch/torch.h>
#endif

namespace fg = fusegrad;

namespace {

constexpr std::uint64_t seed = 1;  // as examples/fashion_mnist.cpp

const fg::nn::fashion_mnist& data() {
    static const fg::nn::fashion_mnist d = [] {
        try {
            return fg::nn::load_fashion_mnist();
        } catch (const fg::nn::data_error& e) {
            std::fprintf(stderr, "bench_fashion_mnist: %s\n", e.what());
            std::exit(2);
        }
    }();
    return d;
}

// The initial weights, shared by both libraries.
struct softmax_init {
    xt::xtensor<float, 2> W = xt::xtensor<float, 2>::from_shape({784, 10});
    xt::xtensor<float, 1> b = xt::zeros<float>({10});
    softmax_init() { fg::nn::normal_fill(W, 0.0, 0.01, seed); }
};
struct mlp_init {
    xt::xtensor<float, 2> W1 = xt::xtensor<float, 2>::from_shape({784, 256});
    xt::xtensor<float, 1> b1 = xt::zeros<float>({256});
    xt::xtensor<float, 2> W2 = xt::xtensor<float, 2>::from_shape({256, 10});
    xt::xtensor<float, 1> b2 = xt::zeros<float>({10});
    mlp_init() {
        fg::nn::kaiming_normal(W1, seed);
        fg::nn::xavier_normal(W2, seed + 1);
    }
};

// The batch order of the epoch: the same shuffle for both libraries.
std::vector<std::int64_t> epoch_order() {
    const auto& d = data();
    fg::nn::dataset<float> ds(d.train.images, d.train.labels, 256, true, seed);
    ds.start_epoch(0);
    return {ds.order().begin(), ds.order().end()};
}

// ---- fusegrad -----------------------------------------------------------------------------------

// One epoch of steps: graph.run() (parts 1), or each batch cut into `parts` parts run side by
// side (fg::nn::data_parallel), the optimizer's update inside the same threads. RowsInPlace:
// the dataset hands out each batch as indices (next_indices), one part.
template <bool RowsInPlace = false, class Graph, class Opt>
void train_epoch(fg::nn::dataset<float>& ds, Graph& graph, Opt& opt, std::size_t parts) {
    ds.start_epoch(0);
    const auto steps = [&](auto next) {
        while (next()) {
            graph.run();
            opt.step(graph);
        }
    };
    if constexpr (RowsInPlace) {
        steps([&] { return ds.next_indices(); });
    } else if (parts <= 1) {
        steps([&] { return ds.next(); });
    } else {
        // Each part's thread gathers its own rows (dataset::fill_rows as the loader).
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = parts});
        while (ds.advance()) {
            dp.run([&](std::size_t first, std::size_t count) { ds.fill_rows(first, count); }, opt);
        }
    }
}

// RowsInPlace: the batch's rows read where they lie. The loss is written on
// embedding(X, i), the training images and the batch's indices, and rewritten to
// embedding_linear_xent (the fused cross-entropy's GEMMs read the shuffled rows straight from
// the images); the dataset copies only the indices and labels (dataset::next_indices). One
// thread, one part. The same steps otherwise.
template <bool RowsInPlace>
void fusegrad_softmax_epoch(benchmark::State& state) {
    fg::nn::set_num_threads(RowsInPlace ? 1 : static_cast<std::size_t>(state.range(0)));
    const auto parts = RowsInPlace ? 1 : static_cast<std::size_t>(state.range(1));
    const auto& d = data();
    const softmax_init init;
    auto W = init.W;
    auto b = init.b;
    fg::nn::dataset<float> ds(d.train.images, d.train.labels, 256, true, seed);
    ds.start_epoch(0);
    if constexpr (RowsInPlace)
        ds.next_indices();
    else
        ds.next();
    auto loss = [&](auto x) {
        return fg::mean(fg::nll(fg::softmax(fg::linear(x, fg::param<"W">(W), fg::param<"b">(b))),
                                fg::labels<"y">(ds.y())));
    };
    auto graph = [&] {
        if constexpr (RowsInPlace)
            return fg::compile(
                loss(fg::embedding(fg::input<"X">(d.train.images), fg::labels<"i">(ds.indices()))));
        else
            return fg::compile(loss(fg::input<"x">(ds.x())));
    }();
    static_assert(fg::contains_op<typename decltype(graph)::expression_type,
                                  fg::op::embedding_linear_xent<fg::reduction::mean>> ==
                  RowsInPlace);
    auto eval = fg::compile(
        fg::linear(fg::input<"x">(d.test.images), fg::param<"W">(W), fg::param<"b">(b)));
    for (auto _ : state) {
        state.PauseTiming();
        W = init.W;
        b = init.b;
        fg::nn::sgd opt(fg::nn::params<"W", "b">(W, b), {.lr = 0.1});
        state.ResumeTiming();
        train_epoch<RowsInPlace>(ds, graph, opt, parts);
    }
    eval.forward();
    const auto v = eval.value_view();
    state.counters["test_acc"] =
        fg::nn::accuracy(v.dims.rows, v.dims.cols, v.data, d.test.labels.data());
}

// RowsInPlace: the batch's rows read where they lie. The first layer is
// linear(embedding(X, i), W1, b1), rewritten to embedding_linear (its GEMMs read the shuffled
// rows straight from the training images), and the dataset copies only the indices and labels
// (dataset::next_indices); one thread, one part. The same steps otherwise.
template <bool RowsInPlace>
void fusegrad_mlp_epoch(benchmark::State& state) {
    fg::nn::set_num_threads(RowsInPlace ? 1 : static_cast<std::size_t>(state.range(0)));
    const auto parts = RowsInPlace ? 1 : static_cast<std::size_t>(state.range(1));
    const auto& d = data();
    const mlp_init init;
    auto W1 = init.W1, W2 = init.W2;
    auto b1 = init.b1, b2 = init.b2;
    fg::nn::dataset<float> ds(d.train.images, d.train.labels, 128, true, seed);
    ds.start_epoch(0);
    if constexpr (RowsInPlace)
        ds.next_indices();
    else
        ds.next();
    auto logits = [&](auto x) {
        return fg::linear(fg::relu(fg::linear(x, fg::param<"W1">(W1), fg::param<"b1">(b1))),
                          fg::param<"W2">(W2), fg::param<"b2">(b2));
    };
    auto loss = [&] {
        if constexpr (RowsInPlace)
            return fg::mean(
                fg::nll(fg::softmax(logits(fg::embedding(fg::input<"X">(d.train.images),
                                                         fg::labels<"i">(ds.indices())))),
                        fg::labels<"y">(ds.y())));
        else
            return fg::mean(
                fg::nll(fg::softmax(logits(fg::input<"x">(ds.x()))), fg::labels<"y">(ds.y())));
    }();
    static_assert(fg::contains_op<decltype(fg::rewrite(loss)), fg::op::embedding_linear> ==
                  RowsInPlace);
    auto graph = fg::compile(loss);
    auto eval = fg::compile(logits(fg::input<"x">(d.test.images)));
    for (auto _ : state) {
        state.PauseTiming();
        W1 = init.W1, W2 = init.W2, b1 = init.b1, b2 = init.b2;
        fg::nn::adam opt(fg::nn::params<"W1", "b1", "W2", "b2">(W1, b1, W2, b2), {.lr = 1e-3});
        state.ResumeTiming();
        train_epoch<RowsInPlace>(ds, graph, opt, parts);
    }
    eval.forward();
    const auto v = eval.value_view();
    state.counters["test_acc"] =
        fg::nn::accuracy(v.dims.rows, v.dims.cols, v.data, d.test.labels.data());
}

// ---- libtorch -----------------------------------------------------------------------------------

#ifdef FUSEGRAD_HAVE_TORCH
template <class A>
torch::Tensor tensor_of(const A& a) {
    std::vector<std::int64_t> sizes(a.shape().begin(), a.shape().end());
    return torch::from_blob(const_cast<float*>(a.data()), sizes, torch::kFloat32).clone();
}

struct torch_data {
    torch::Tensor x, y, test_x, test_y, order;
    torch_data() {
        const auto& d = data();
        x = tensor_of(d.train.images);
        y = torch::from_blob(const_cast<std::int32_t*>(d.train.labels.data()),
                             {static_cast<std::int64_t>(d.train.size())}, torch::kInt32)
                .to(torch::kInt64);
        test_x = tensor_of(d.test.images);
        test_y = torch::from_blob(const_cast<std::int32_t*>(d.test.labels.data()),
                                  {static_cast<std::int64_t>(d.test.size())}, torch::kInt32)
                     .to(torch::kInt64);
        auto o = epoch_order();
        order = torch::from_blob(o.data(), {static_cast<std::int64_t>(o.size())}, torch::kInt64)
                    .clone();
    }
};
const torch_data& tdata() {
    static const torch_data t;
    return t;
}

template <class Forward>
void torch_epoch(const std::vector<torch::Tensor>& params, torch::optim::Optimizer& opt,
                 std::int64_t batch, Forward&& forward) {
    const auto& t = tdata();
    const std::int64_t n = t.x.size(0);
    for (std::int64_t start = 0; start < n; start += batch) {
        auto idx = t.order.slice(0, start, std::min(start + batch, n));
        auto xb = t.x.index_select(0, idx);
        auto yb = t.y.index_select(0, idx);
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(forward(xb), yb);
        loss.backward();
        opt.step();
    }
    (void)params;
}

double torch_accuracy(const torch::Tensor& logits) {
    torch::NoGradGuard g;
    return logits.argmax(1).eq(tdata().test_y).to(torch::kFloat64).mean().item<double>();
}

void libtorch_softmax_epoch(benchmark::State& state) {
    torch::set_num_threads(1);
    const softmax_init init;
    tdata();
    auto W = tensor_of(init.W).requires_grad_(true);
    auto b = tensor_of(init.b).requires_grad_(true);
    auto forward = [&](const torch::Tensor& x) { return torch::addmm(b, x, W); };
    for (auto _ : state) {
        state.PauseTiming();
        {
            torch::NoGradGuard g;
            W.copy_(tensor_of(init.W));
            b.copy_(tensor_of(init.b));
        }
        torch::optim::SGD opt({W, b}, torch::optim::SGDOptions(0.1));
        state.ResumeTiming();
        torch_epoch({W, b}, opt, 256, forward);
    }
    state.counters["test_acc"] = torch_accuracy(forward(tdata().test_x));
}

void libtorch_mlp_epoch(benchmark::State& state) {
    torch::set_num_threads(1);
    const mlp_init init;
    tdata();
    auto W1 = tensor_of(init.W1).requires_grad_(true);
    auto b1 = tensor_of(init.b1).requires_grad_(true);
    auto W2 = tensor_of(init.W2).requires_grad_(true);
    auto b2 = tensor_of(init.b2).requires_grad_(true);
    auto forward = [&](const torch::Tensor& x) {
        return torch::addmm(b2, torch::relu(torch::addmm(b1, x, W1)), W2);
    };
    for (auto _ : state) {
        state.PauseTiming();
        {
            torch::NoGradGuard g;
            W1.copy_(tensor_of(init.W1));
            b1.copy_(tensor_of(init.b1));
            W2.copy_(tensor_of(init.W2));
            b2.copy_(tensor_of(init.b2));
        }
        torch::optim::Adam opt({W1, b1, W2, b2}, torch::optim::AdamOptions(1e-3));
        state.ResumeTiming();
        torch_epoch({W1, b1, W2, b2}, opt, 128, forward);
    }
    state.counters["test_acc"] = torch_accuracy(forward(tdata().test_x));
}
#endif

}  // namespace

BENCHMARK(fusegrad_softmax_epoch<false>)
    ->Name("softmax_epoch/fusegrad")
    ->ArgNames({"threads", "parts"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({2, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(fusegrad_softmax_epoch<true>)
    ->Name("softmax_epoch/fusegrad_rows_in_place/threads:1")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
#ifdef FUSEGRAD_HAVE_TORCH
BENCHMARK(libtorch_softmax_epoch)->Name("softmax_epoch/libtorch")->Unit(benchmark::kMillisecond);
#endif
BENCHMARK(fusegrad_mlp_epoch<false>)
    ->Name("mlp_epoch/fusegrad")
    ->ArgNames({"threads", "parts"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({2, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(fusegrad_mlp_epoch<true>)
    ->Name("mlp_epoch/fusegrad_rows_in_place/threads:1")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
#ifdef FUSEGRAD_HAVE_TORCH
BENCHMARK(libtorch_mlp_epoch)->Name("mlp_epoch/libtorch")->Unit(benchmark::kMillisecond);
#endif

int main(int argc, char** argv) {
    // One thread for everyone. libtorch's GEMM (OpenBLAS here) sizes its thread pool from the
    // environment when the library loads, before main: re-run ourselves with it set.
    if (!std::getenv("OPENBLAS_NUM_THREADS") || !std::getenv("OMP_NUM_THREADS")) {
        ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
        ::setenv("OMP_NUM_THREADS", "1", 1);
        ::execv("/proc/self/exe", argv);
        std::perror("bench_fashion_mnist: execv");  // only reached if execv failed
    }
    benchmark::Initialize(&argc, argv);
    fusegrad::bench::print_machine();
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
