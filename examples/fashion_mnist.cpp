// ctest-args: --model softmax --epochs 2 --limit 6000 --parts 2 --out fashion_mnist_ctest --min-accuracy 0.65
//
// Fashion-MNIST with fusegrad: softmax regression (the textbook baseline), a 784→256→10 ReLU
// MLP or a residual MLP with layer_norm, GELU and dropout, trained through a compiled, fused graph.
// Writes into --out: the weights (.npy), the learned weight templates (PNG), the loss and accuracy
// curves (SVG), the model's graph before and after fusion (.dot, .svg with Graphviz) and a gradient
// check on a small batch.
//
//   example_fashion_mnist --model softmax                # 10 epochs, batch 256, lr 0.1, SGD
//   example_fashion_mnist --model mlp                    # 15 epochs, batch 128, Adam lr 1e-3
//   example_fashion_mnist --model resmlp                 # the same, 784→256→256→10 residual
//
// Data-parallel (docs/distributed.md): under mpirun each process trains on its share of every
// global batch (--batch) and the gradients are summed across processes. With --deterministic
// the global batch is cut into blocks of --block rows summed in one fixed tree, so the weights
// written are bitwise the same for any number of processes and threads:
//
//   mpirun -np 2 example_fashion_mnist --model mlp --deterministic
//
// Threads: --threads T lets the kernels split each op over T threads. --parts P instead cuts each
// batch into P parts of rows whose forward and backward run side by side, one per thread
// (fg::nn::data_parallel): fewer, larger pieces of work per thread, which small batches need.
// For a given --parts the weights are bitwise the same for any --threads:
//
//   example_fashion_mnist --model mlp --threads 2 --parts 2
//
// Exits non-zero when the test accuracy is below --min-accuracy (by default the target
// for a full run: 0.83 softmax, 0.88 MLP, 0.895 residual MLP; 0.5 for a run on a --limit subset).

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <xtensor/xview.hpp>

#include <fusegrad/check/gradcheck.hpp>
#include <fusegrad/dist.hpp>
#include <fusegrad/fusegrad.hpp>
#include <fusegrad/io/image.hpp>
#include <fusegrad/io/plot.hpp>
#include <fusegrad/nn/adam.hpp>
#include <fusegrad/nn/checkpoint.hpp>
#include <fusegrad/nn/data_parallel.hpp>
#include <fusegrad/nn/dataset.hpp>
#include <fusegrad/nn/idx.hpp>
#include <fusegrad/nn/init.hpp>
#include <fusegrad/nn/metrics.hpp>
#include <fusegrad/nn/progress.hpp>
#include <fusegrad/nn/sgd.hpp>
#include <fusegrad/nn/threads.hpp>

namespace fg = fusegrad;
namespace fs = std::filesystem;

namespace {

struct settings {
    std::string model = "softmax";
    std::size_t epochs = 0;  // 0: the model's default
    std::size_t batch = 0;   // 0: the model's default
    double lr = 0;           // 0: the model's default
    std::string optimizer;   // empty: the model's default
    std::string schedule;    // empty: the model's default
    double momentum = -1;    // < 0: the model's default
    std::size_t threads = 1;
    std::size_t parts = 1;  // > 1: fg::nn::data_parallel over that many parts of each batch
    std::uint64_t seed = 1;
    std::string out = "fashion_mnist_out";
    std::string data = fg::nn::default_fashion_mnist_dir;
    std::size_t limit = 0;  // 0: the whole dataset
    double min_accuracy = -1;
    bool deterministic = false;  // blocks summed in a fixed tree (docs/distributed.md)
    std::size_t block = 32;      // rows per block in deterministic mode
    double bucket_mb = 25;       // fusion bucket of the fast mode's allreduce
};

// Softmax regression: logits = x·W + b, W ~ N(0, 0.01²), b = 0.
struct softmax_model {
    static constexpr const char* name = "softmax regression 784→10";
    xt::xtensor<float, 2> W = xt::xtensor<float, 2>::from_shape({784, 10});
    xt::xtensor<float, 1> b = xt::xtensor<float, 1>::from_shape({10});

    explicit softmax_model(std::uint64_t seed) {
        fg::nn::normal_fill(W, 0.0, 0.01, seed);
        b.fill(0.f);
    }
    template <class X>
    auto logits(X&& x) {
        return fg::linear(std::forward<X>(x), fg::param<"W">(W), fg::param<"b">(b));
    }
    bool same_as(const softmax_model& o) const { return W == o.W && b == o.b; }
    // The ten columns of W, each a 28×28 template.
    xt::xtensor<float, 2> templates() const { return xt::transpose(W); }
};

// An MLP: logits = relu(x·W1 + b1)·W2 + b2; Kaiming-normal W1 (ReLU follows), Xavier W2.
struct mlp_model {
    static constexpr const char* name = "MLP 784→256→10 (ReLU)";
    xt::xtensor<float, 2> W1 = xt::xtensor<float, 2>::from_shape({784, 256});
    xt::xtensor<float, 1> b1 = xt::xtensor<float, 1>::from_shape({256});
    xt::xtensor<float, 2> W2 = xt::xtensor<float, 2>::from_shape({256, 10});
    xt::xtensor<float, 1> b2 = xt::xtensor<float, 1>::from_shape({10});

    explicit mlp_model(std::uint64_t seed) {
        fg::nn::kaiming_normal(W1, seed);
        fg::nn::xavier_normal(W2, seed + 1);
        b1.fill(0.f);
        b2.fill(0.f);
    }
    template <class X>
    auto logits(X&& x) {
        auto h = fg::relu(fg::linear(std::forward<X>(x), fg::param<"W1">(W1), fg::param<"b1">(b1)));
        return fg::linear(h, fg::param<"W2">(W2), fg::param<"b2">(b2));
    }
    bool same_as(const mlp_model& o) const {
        return W1 == o.W1 && b1 == o.b1 && W2 == o.W2 && b2 == o.b2;
    }
    // The first 40 hidden units' input weights, each a 28×28 template.
    xt::xtensor<float, 2> templates() const {
        return xt::transpose(xt::view(W1, xt::all(), xt::range(0, 40)));
    }
};

// A residual MLP: a = gelu(layer_norm(x·W1 + b1)), h = a + gelu(layer_norm(dropout(a)·W2 + b2)),
// logits = h·W3 + b3 (784→256→256→10); Kaiming-normal W1, W2, Xavier W3, layer-norm gains 1.
// Dropout drops 20% of a's units in training (a new mask at every step) and nothing after
// graph.eval().
struct resmlp_model {
    static constexpr const char* name =
        "residual MLP 784→256→256→10 (layer_norm, GELU, dropout 0.2)";
    static constexpr std::size_t hidden = 256;
    xt::xtensor<float, 2> W1 = xt::xtensor<float, 2>::from_shape({784, hidden});
    xt::xtensor<float, 1> b1 = xt::zeros<float>({hidden});
    xt::xtensor<float, 1> g1 = xt::ones<float>({hidden});
    xt::xtensor<float, 1> c1 = xt::zeros<float>({hidden});
    xt::xtensor<float, 2> W2 = xt::xtensor<float, 2>::from_shape({hidden, hidden});
    xt::xtensor<float, 1> b2 = xt::zeros<float>({hidden});
    xt::xtensor<float, 1> g2 = xt::ones<float>({hidden});
    xt::xtensor<float, 1> c2 = xt::zeros<float>({hidden});
    xt::xtensor<float, 2> W3 = xt::xtensor<float, 2>::from_shape({hidden, 10});
    xt::xtensor<float, 1> b3 = xt::zeros<float>({10});
    std::uint64_t seed;

    explicit resmlp_model(std::uint64_t s) : seed(s) {
        fg::nn::kaiming_normal(W1, s);
        fg::nn::kaiming_normal(W2, s + 1);
        fg::nn::xavier_normal(W3, s + 2);
    }
    template <class X>
    auto logits(X&& x) {
        auto a = fg::gelu(
            fg::layer_norm(fg::linear(std::forward<X>(x), fg::param<"W1">(W1), fg::param<"b1">(b1)),
                           fg::param<"g1">(g1), fg::param<"c1">(c1)));
        auto h = a + fg::gelu(fg::layer_norm(fg::linear(fg::dropout(a, 0.2, seed),
                                                        fg::param<"W2">(W2), fg::param<"b2">(b2)),
                                             fg::param<"g2">(g2), fg::param<"c2">(c2)));
        return fg::linear(h, fg::param<"W3">(W3), fg::param<"b3">(b3));
    }
    bool same_as(const resmlp_model& o) const {
        return W1 == o.W1 && b1 == o.b1 && g1 == o.g1 && c1 == o.c1 && W2 == o.W2 && b2 == o.b2 &&
               g2 == o.g2 && c2 == o.c2 && W3 == o.W3 && b3 == o.b3;
    }
    xt::xtensor<float, 2> templates() const {
        return xt::transpose(xt::view(W1, xt::all(), xt::range(0, 40)));
    }
};

// Mean cross-entropy and accuracy of logits against labels, and a confusion matrix.
struct evaluation {
    double loss = 0, accuracy = 0;
    fg::nn::confusion_matrix confusion{10};
};
evaluation evaluate(const fg::cview<float>& logits, const xt::xtensor<std::int32_t, 1>& y) {
    evaluation e;
    const std::size_t m = logits.dims.rows, n = logits.dims.cols;
    if (y.size() != m)
        throw fg::shape_error("evaluate: " + std::to_string(m) + " rows of logits but " +
                              std::to_string(y.size()) + " labels");
    for (std::size_t i = 0; i < m; ++i)  // before anything reads with them
        if (y(i) < 0 || static_cast<std::size_t>(y(i)) >= n)
            throw fg::label_error("evaluate: label y[" + std::to_string(i) +
                                  "] = " + std::to_string(y(i)) + " is outside [0, " +
                                  std::to_string(n) + ")");
    double loss = 0;
    for (std::size_t i = 0; i < m; ++i) {
        const float* row = logits.data + i * n;
        const double mx = *std::max_element(row, row + n);
        double s = 0;
        for (std::size_t j = 0; j < n; ++j) s += std::exp(row[j] - mx);
        loss += mx + std::log(s) - row[static_cast<std::size_t>(y(i))];
    }
    e.loss = m ? loss / static_cast<double>(m) : 0.0;
    e.confusion.add_scores(m, logits.data, y.data());
    e.accuracy = e.confusion.accuracy();
    return e;
}

// The evaluation of the whole test set from each rank's evaluation of its rows (m of them):
// losses and confusion counts summed over the ranks.
evaluation reduce_evaluation(const evaluation& mine, std::size_t m, fg::dist::communicator& comm) {
    if (comm.size() == 1) return mine;
    const std::size_t n = mine.confusion.classes();
    std::vector<std::int64_t> counts(n * n + 1);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            counts[i * n + j] = static_cast<std::int64_t>(mine.confusion.count(i, j));
    counts[n * n] = static_cast<std::int64_t>(m);
    comm.allreduce_sum(counts.data(), counts.size());
    evaluation all;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            for (std::int64_t c = 0; c < counts[i * n + j]; ++c)
                all.confusion.add(static_cast<std::int64_t>(i), static_cast<std::int64_t>(j));
    const double total = static_cast<double>(counts[n * n]);
    const double loss = comm.sum(mine.loss * static_cast<double>(m));
    all.loss = total > 0 ? loss / total : 0.0;
    all.accuracy = all.confusion.accuracy();
    return all;
}

// Rows [n·r/P, n·(r+1)/P) of n: rank r's contiguous share of n things among P ranks.
std::pair<std::size_t, std::size_t> share(std::size_t n, int rank, int ranks) {
    const auto r = static_cast<std::size_t>(rank), p = static_cast<std::size_t>(ranks);
    return {n * r / p, n * (r + 1) / p};
}

// Validators that read the flag's text before CLI11 converts it: an unsigned option would take
// "-1" as 18446744073709551615, and a double option takes "nan" and "inf".
//
// An integer in [lo, hi], digits only.
CLI::Validator integer_in(std::uint64_t lo, std::uint64_t hi) {
    const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return CLI::Validator(
        [lo, hi, range](std::string& text) -> std::string {
            const bool digits = !text.empty() && text.size() <= 20 &&
                                text.find_first_not_of("0123456789") == std::string::npos;
            errno = 0;
            const unsigned long long v = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
            if (!digits || errno != 0 || v < lo || v > hi)
                return "'" + text + "' is not an integer in " + range;
            return {};
        },
        "INT in " + range, "integer_in");
}

// A finite number with lo < x (or lo <= x when lo_closed) and x <= hi (or x < hi).
CLI::Validator number_in(double lo, bool lo_closed, double hi, bool hi_closed) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%c%g, %g%c", lo_closed ? '[' : '(', lo, hi,
                  hi_closed ? ']' : ')');
    const std::string range = buf;
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = text.empty() ? std::nan("") : std::strtod(text.c_str(), &end);
            const bool parsed = !text.empty() && end && *end == '\0';
            const bool in = std::isfinite(v) && (lo_closed ? v >= lo : v > lo) &&
                            (hi_closed ? v <= hi : v < hi);
            if (!parsed || !in) return "'" + text + "' is not a finite number in " + range;
            return {};
        },
        "NUMBER in " + range, "number_in");
}

template <class A>
A first_rows(const A& a, std::size_t n) {
    if (n == 0 || n >= a.shape()[0]) return a;
    return xt::view(a, xt::range(0, n));
}

template <class Model>
int train(const settings& s, fg::nn::fashion_mnist& data, fg::dist::communicator& comm) {
    const bool is_mlp = s.model != "softmax";  // the MLPs share their training defaults
    const std::size_t batch = s.batch ? s.batch : (is_mlp ? 128 : 256);
    const std::string optimizer = !s.optimizer.empty() ? s.optimizer : (is_mlp ? "adam" : "sgd");
    const double lr = s.lr > 0 ? s.lr : optimizer == "adam" ? 1e-3 : 0.1;
    const double momentum = s.momentum >= 0 ? s.momentum : 0.0;
    const std::string schedule =
        !s.schedule.empty() ? s.schedule : (s.model == "resmlp" ? "cosine" : "constant");
    const double min_accuracy = s.min_accuracy >= 0   ? s.min_accuracy
                                : s.limit > 0         ? 0.5
                                : s.model == "resmlp" ? 0.895
                                : is_mlp              ? 0.88
                                                      : 0.83;

    const fs::path out = s.out;
    if (comm.is_root()) fs::create_directories(out);  // only rank 0 writes
    // Data-parallel when several processes run, or when asked for the deterministic tree (a
    // single process then runs the same blocks and sums as any number of them would).
    const bool distributed = comm.size() > 1 || s.deterministic;
    const auto ranks = static_cast<std::size_t>(comm.size());
    const std::size_t first_batch = std::min(batch, data.train.size());  // rows of batch 1
    if (distributed && s.parts > 1)
        throw std::invalid_argument(
            "--parts splits a batch among the threads of one process; it does not combine with "
            "mpirun or --deterministic");
    if (distributed && !s.deterministic && first_batch < ranks)
        throw std::invalid_argument("--batch " + std::to_string(first_batch) +
                                    " gives fewer rows than the " + std::to_string(ranks) +
                                    " processes");
    const std::size_t blocks_per_batch = (first_batch + s.block - 1) / s.block;
    if (s.deterministic && blocks_per_batch < ranks)
        throw std::invalid_argument("--batch " + std::to_string(first_batch) +
                                    " in blocks of --block " + std::to_string(s.block) + " gives " +
                                    std::to_string(blocks_per_batch) + " blocks, fewer than the " +
                                    std::to_string(ranks) + " processes");
    Model model(s.seed);
    std::printf("model      %s\n", Model::name);
    std::printf("data       %zu training, %zu test images of %zux%zu\n", data.train.size(),
                data.test.size(), data.train.rows, data.train.cols);
    std::printf("training   %zu epochs, batch %zu, %s lr %g%s%s, seed %llu\n", s.epochs, batch,
                optimizer.c_str(), lr,
                optimizer == "sgd" && momentum > 0
                    ? (" momentum " + std::to_string(momentum).substr(0, 4)).c_str()
                    : "",
                schedule == "cosine" ? " (cosine schedule)" : "",
                static_cast<unsigned long long>(s.seed));
    const std::size_t threads = fg::nn::set_num_threads(s.threads);
    if (threads == s.threads)
        std::printf("threads    %zu\n", threads);
    else
        std::printf("threads    %zu (asked for %zu; this build has no OpenMP)\n", threads,
                    s.threads);
    if (s.parts > 1)
        std::printf("parts      %zu per batch, side by side (fg::nn::data_parallel)\n", s.parts);
    if (distributed)
        std::printf("processes  %d, %s\n", comm.size(),
                    s.deterministic ? ("deterministic: blocks of " + std::to_string(s.block) +
                                       " rows summed in a fixed tree")
                                          .c_str()
                                    : "fast: bucketed allreduce");

    // The training graph is built once, on the dataset's batch arrays: every data.next()
    // refills them and the graph re-reads them on its next run.
    fg::nn::dataset<float> train_data(data.train.images, data.train.labels, batch, true, s.seed);
    train_data.start_epoch(0);
    train_data.next();
    auto x = fg::input<"x">(train_data.x());
    auto y = fg::labels<"y">(train_data.y());
    auto loss = fg::mean(fg::nll(fg::softmax(model.logits(x)), y));
    auto graph = fg::compile(loss);  // rewrites nll(softmax(.)) into the fused softmax_xent
    // Anomaly mode: a NaN or inf anywhere (a too-large --lr, a NaN in the data) stops the run
    // at the op that produced it, before the weights or the checkpoint are overwritten.
    graph.check_finite(true);
    std::printf("fusion     %zu rule(s) fired\n", graph.rules_fired().size());
    for (const auto& r : graph.rules_fired()) std::printf("             %s\n", r.c_str());

    // The model's graph as written and as compiled.
    const std::string before = (out / "graph_before_fusion.dot").string();
    const std::string after = (out / "graph_after_fusion.dot").string();
    bool svg = true;
    if (comm.is_root()) {
        fg::write_dot(before, loss, "as written");
        fg::write_dot(after, fg::rewrite(loss), "after fusion");
        svg = fg::render_svg(before, (out / "graph_before_fusion.svg").string()) &&
              fg::render_svg(after, (out / "graph_after_fusion.svg").string());
    }

    // The test set's logits, for accuracy after each epoch; with several processes each
    // evaluates its share of the test set and the counts are summed.
    const xt::xtensor<float, 2>* test_images = &data.test.images;
    const xt::xtensor<std::int32_t, 1>* test_labels = &data.test.labels;
    xt::xtensor<float, 2> my_test_images;
    xt::xtensor<std::int32_t, 1> my_test_labels;
    if (comm.size() > 1) {
        const auto [lo, hi] = share(data.test.size(), comm.rank(), comm.size());
        if (hi == lo)
            throw std::invalid_argument("the test set's " + std::to_string(data.test.size()) +
                                        " images are fewer than the " + std::to_string(ranks) +
                                        " processes");
        my_test_images = xt::view(data.test.images, xt::range(lo, hi));
        my_test_labels = xt::view(data.test.labels, xt::range(lo, hi));
        test_images = &my_test_images;
        test_labels = &my_test_labels;
    }
    auto test_x = fg::input<"x">(*test_images);
    auto eval = fg::compile(model.logits(test_x));
    eval.eval();  // evaluation mode: dropout (resmlp) keeps every unit

    // The optimizers update every param of the graph: the model names its params once, in
    // its expression.
    fg::nn::sgd sgd(fg::nn::params_of(graph), {.lr = lr, .momentum = momentum});
    fg::nn::adam adam(fg::nn::params_of(graph), {.lr = lr});
    // Data-parallel: the gradients of each rank's rows become the global batch's.
    fg::dist::gradient_sync sync(
        comm, graph, {.bucket_bytes = static_cast<std::size_t>(s.bucket_mb * 1048576.0)});
    // --parts: each batch's parts run side by side, their gradients summed into the graph's.
    std::optional<fg::nn::data_parallel_runner<decltype(graph), "x", "y">> split;
    if (s.parts > 1) split.emplace(graph, fg::nn::data_parallel_options{.parts = s.parts});
    std::size_t steps = 0;

    std::vector<double> train_loss, test_loss, test_acc, epoch_seconds;
    fg::nn::progress bar(std::cout, s.epochs, train_data.num_batches(),
                         // mpirun hands rank 0 a pseudo-terminal even when its output goes
                         // to a file: one line per epoch under MPI.
                         fg::nn::stdout_is_terminal() && !comm.uses_mpi());
    evaluation last;
    std::printf("\n");
    for (std::size_t epoch = 0; epoch < s.epochs; ++epoch) {
        bar.start_epoch(epoch + 1);
        if (schedule == "cosine") {  // lr · (1 + cos(π · epoch / epochs)) / 2, per epoch
            const double pi = 3.14159265358979323846;
            const double f = 0.5 * (1 + std::cos(pi * double(epoch) / double(s.epochs)));
            sgd.options().lr = adam.options().lr = lr * f;
        }
        const auto t0 = std::chrono::steady_clock::now();
        train_data.start_epoch(epoch);
        std::size_t b = 0;
        // Every rank draws the same order; `rows` is the global batch.
        while (const std::size_t rows = train_data.next_rows()) {
            double batch_loss = 0;
            bool stepped = false;  // the optimizer's step already taken
            if (!distributed) {
                if (split) {  // each part's thread gathers its own rows, trains on them, then
                              // updates the share of the params it summed
                    train_data.advance();
                    const auto load = [&](std::size_t first, std::size_t count) {
                        train_data.fill_rows(first, count);
                    };
                    if (optimizer == "adam")
                        split->run(load, adam);
                    else
                        split->run(load, sgd);
                    stepped = true;
                    batch_loss = static_cast<double>(split->value());
                } else {
                    train_data.next();
                    graph.run();
                    batch_loss = static_cast<double>(graph.value());
                }
            } else if (!s.deterministic) {  // this rank's share, one run, one allreduce
                const auto [lo, hi] = share(rows, comm.rank(), comm.size());
                train_data.next(lo, hi - lo);
                // Dropout (resmlp) draws the masks of the global batch's rows: this step's, at
                // this rank's rows, whatever the process count.
                graph.set_step(steps);
                graph.set_batch_offset(lo);
                if (hi > lo) graph.run();  // a rank without rows adds 0 × its last gradient
                sync.allreduce(static_cast<double>(hi - lo) / static_cast<double>(rows));
                batch_loss = sync.loss();
            } else {  // this rank's blocks, one run each, summed in the tree
                const std::size_t nb = (rows + s.block - 1) / s.block;
                const auto [k0, k1] = share(nb, comm.rank(), comm.size());
                sync.begin(k0, k1, nb);
                train_data.next(k0 * s.block, s.block);
                for (std::size_t k = k0; k < k1; ++k) {
                    if (k > k0) train_data.copy_rows(k * s.block, s.block);
                    graph.set_step(steps);  // the global batch's masks at block k's rows
                    graph.set_batch_offset(k * s.block);
                    graph.run();
                    sync.add_block(static_cast<double>(train_data.y().size()) /
                                   static_cast<double>(rows));
                }
                sync.finish();
                batch_loss = sync.loss();
            }
            if (!stepped) {
                if (optimizer == "adam")
                    adam.step(graph);
                else
                    sgd.step(graph);
            }
            ++steps;
            bar.update(++b, rows, batch_loss);
        }
        epoch_seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        if (epoch == 0) {
            const auto m = graph.memory_report();  // buffers reused by lifetime (docs/design.md)
            std::printf(
                "\nmemory     %zu bytes of buffers (%zu with one per value), %zu kept for "
                "the backward, peak live %zu%s\n",
                m.arena_bytes, m.unshared_bytes, m.kept_bytes, m.peak_live_bytes,
                split ? " (each part's graph)" : "");
        }
        eval.forward();
        last =
            reduce_evaluation(evaluate(eval.value_view(), *test_labels), test_labels->size(), comm);
        train_loss.push_back(bar.mean_loss());
        test_loss.push_back(last.loss);
        test_acc.push_back(last.accuracy);
        char summary[96];
        std::snprintf(summary, sizeof summary, "test loss %.4f  test accuracy %.4f", last.loss,
                      last.accuracy);
        bar.end_epoch(summary);
    }

    double mean_epoch = 0;
    for (double t : epoch_seconds) mean_epoch += t;
    mean_epoch /= static_cast<double>(std::max<std::size_t>(epoch_seconds.size(), 1));
    std::vector<std::string> names(std::begin(fg::nn::fashion_mnist_classes),
                                   std::end(fg::nn::fashion_mnist_classes));
    if (distributed && comm.size() > 1) {
        const auto& t = comm.traffic();
        std::printf(
            "\nexchange   %.0f bytes per step per process (%llu collectives in %zu "
            "steps; %s)\n",
            static_cast<double>(t.sent_bytes) /
                static_cast<double>(std::max<std::size_t>(steps, 1)),
            static_cast<unsigned long long>(t.calls), steps,
            s.deterministic ? "subtree sums to each slice's rank, then the slices"
                            : "allreduce of the gradients");
    }
    if (!comm.is_root()) return last.accuracy >= min_accuracy ? 0 : 1;  // rank 0 writes

    std::printf("\nconfusion matrix on the test set (rows: true class, columns: predicted)\n%s",
                last.confusion.str(names).c_str());

    // Outputs: weights, templates, curves.
    // Every param under its leaf name; reloaded into another instance's graph as a check.
    fg::nn::checkpoint ckpt;
    ckpt.add_params(eval).save(out);
    Model reloaded(s.seed + 1000);
    auto reloaded_eval = fg::compile(reloaded.logits(fg::input<"x">(data.test.images)));
    fg::nn::checkpoint check;
    check.add_params(reloaded_eval).load(out);
    const bool round_trip = reloaded.same_as(model);

    const auto templates = model.templates();
    const bool png =
        fg::io::write_image_grid_png((out / "weight_templates.png").string(), templates.data(),
                                     templates.shape()[0], 28, 28, is_mlp ? 10 : 5, 4);
    const bool curves = fg::io::write_svg(
        (out / "curves.svg").string(),
        {{"loss",
          "epoch",
          "mean cross-entropy",
          {{"train", train_loss, "#1f77b4"}, {"test", test_loss, "#d62728"}}},
         {"test accuracy", "epoch", "accuracy", {{"test", test_acc, "#2ca02c"}}}});

    // Gradient check of the model on a small batch (8 test images): the fused graph's gradients
    // against central differences of the graph as written, in double, along random directions.
    std::string gradcheck_line;
    bool gradcheck_ok = true;
    {
        xt::xtensor<float, 2> x8 = xt::view(data.test.images, xt::range(0, 8));
        xt::xtensor<std::int32_t, 1> y8 = xt::view(data.test.labels, xt::range(0, 8));
        auto small_loss =
            fg::mean(fg::nll(fg::softmax(model.logits(fg::input<"x">(x8))), fg::labels<"y">(y8)));
        fg::check::gradcheck_options opts;
        opts.fast = true;
        const auto report = fg::check::gradcheck(small_loss, opts);
        std::ofstream f(out / "gradcheck.txt");
        f << report;
        gradcheck_ok = report.passed();
        char line[160];
        std::snprintf(line, sizeof line, "%s: %zu params, %zu random projections each, %.2f s (%s)",
                      gradcheck_ok ? "passed" : "FAILED", report.leaves.size(), opts.projections,
                      report.seconds, (out / "gradcheck.txt").string().c_str());
        gradcheck_line = line;
    }

    std::printf("\ntest accuracy   %.4f (after %zu epoch%s; pass mark %g)\n", last.accuracy,
                s.epochs, s.epochs == 1 ? "" : "s", min_accuracy);
    std::printf("epoch time      %.3f s mean (", mean_epoch);
    for (std::size_t e = 0; e < epoch_seconds.size(); ++e)
        std::printf("%s%.3f", e ? " " : "", epoch_seconds[e]);
    std::printf(")\n");
    std::printf("gradient check  %s\n", gradcheck_line.c_str());
    std::printf("\nwritten to %s/\n", out.string().c_str());
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(out))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
        std::printf("  %-28s %8zu bytes\n", f.filename().string().c_str(),
                    static_cast<std::size_t>(fs::file_size(f)));
    if (!svg) std::printf("  (no .svg graphs: Graphviz's dot was not found)\n");

    bool ok = true;
    if (!round_trip) ok = false, std::printf("FAILED: the checkpoint did not reload bitwise\n");
    if (!png || !curves) ok = false, std::printf("FAILED: could not write the pictures\n");
    if (!gradcheck_ok) ok = false, std::printf("FAILED: gradient check\n");
    if (!(last.accuracy >= min_accuracy))
        ok = false,
        std::printf("FAILED: test accuracy %.4f is below %.2f\n", last.accuracy, min_accuracy);
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) try {
    // One process, or one rank of `mpirun -np P`: MPI is initialised only under a launcher.
    fg::dist::communicator comm(argc, argv);
    // Only rank 0 prints and writes; the others report errors on stderr.
    if (!comm.is_root() && !std::freopen("/dev/null", "w", stdout))
        comm.abort("cannot silence stdout on this rank");
    // Exits every rank with `code` (one failing rank must not leave the others waiting in a
    // collective); a single process prints and returns.
    auto fail = [&](const std::string& message, int code) {
        if (comm.size() > 1) comm.abort("error: " + message, code);
        std::fprintf(stderr, "error: %s\n", message.c_str());
        return code;
    };
    settings s;
    CLI::App app{"Train softmax regression or an MLP on Fashion-MNIST with fusegrad"};
    app.add_option("--model", s.model, "softmax, mlp or resmlp")
        ->check(CLI::IsMember({"softmax", "mlp", "resmlp"}))
        ->capture_default_str();
    const std::uint64_t cores = std::max(1u, std::thread::hardware_concurrency());
    app.add_option("--epochs", s.epochs,
                   "passes over the training set (default: 10 softmax, 15 mlp)")
        ->check(integer_in(1, 100000));
    app.add_option("--batch", s.batch, "batch size (default: 256 softmax, 128 mlp)")
        ->check(integer_in(1, 1 << 20));
    app.add_option("--lr", s.lr, "learning rate (default: 0.1 with sgd, 1e-3 with adam)")
        ->check(number_in(0, false, 100, true));
    app.add_option("--optimizer", s.optimizer,
                   "sgd or adam (default: sgd for softmax, adam for mlp)")
        ->check(CLI::IsMember({"sgd", "adam"}));
    app.add_option("--schedule", s.schedule,
                   "learning rate per epoch: constant, or cosine (lr · (1 + cos(π e/E)) / 2) "
                   "(default: cosine for resmlp, constant otherwise)")
        ->check(CLI::IsMember({"constant", "cosine"}));
    app.add_option("--momentum", s.momentum, "SGD momentum (default: 0)")
        ->check(number_in(0, true, 1, false));
    app.add_option("--threads", s.threads, "threads the kernels may use (at most this machine's)")
        ->check(integer_in(1, cores))
        ->capture_default_str();
    app.add_option("--parts", s.parts,
                   "cut each batch into this many parts of rows, run side by side on --threads "
                   "threads (fg::nn::data_parallel); the weights depend on --parts, not --threads")
        ->check(integer_in(1, 1024))
        ->capture_default_str();
    app.add_option("--seed", s.seed, "seed of the initial weights and the shuffles")
        ->check(integer_in(0, std::numeric_limits<std::uint64_t>::max()))
        ->capture_default_str();
    app.add_option("--out", s.out, "directory for the weights, pictures and checks")
        ->capture_default_str();
    app.add_option("--data", s.data, "directory holding the four Fashion-MNIST IDX files")
        ->capture_default_str();
    app.add_option("--limit", s.limit, "use only the first N training and test images (0: all)")
        ->check(integer_in(0, std::numeric_limits<std::uint32_t>::max()));
    app.add_option("--min-accuracy", s.min_accuracy,
                   "fail below this test accuracy (default: 0.83 softmax, 0.88 mlp, 0.895 "
                   "resmlp; 0.5 with --limit)")
        ->check(number_in(0, true, 1, true));
    app.add_flag("--deterministic", s.deterministic,
                 "data-parallel gradients summed in one fixed tree over blocks of --block rows: "
                 "the weights are bitwise the same for any number of processes (mpirun -np P) "
                 "and threads");
    app.add_option("--block", s.block, "rows per block with --deterministic")
        ->check(integer_in(1, 1 << 20))
        ->capture_default_str();
    app.add_option("--bucket-mb", s.bucket_mb,
                   "MB per allreduce bucket when several processes train without "
                   "--deterministic")
        ->check(number_in(0, false, 4096, true))
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (s.epochs == 0) s.epochs = s.model == "softmax" ? 10 : 15;

    fg::nn::fashion_mnist data;
    try {
        const auto t0 = std::chrono::steady_clock::now();
        data = fg::nn::load_fashion_mnist(s.data);
        if (s.limit > 0) {
            data.train.images = first_rows(data.train.images, s.limit);
            data.train.labels = first_rows(data.train.labels, s.limit);
            data.test.images = first_rows(data.test.images, s.limit);
            data.test.labels = first_rows(data.test.labels, s.limit);
        }
        std::printf("loaded     %s in %.2f s\n", s.data.c_str(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    } catch (const fg::nn::data_error& e) {
        return fail(e.what(), 2);
    }
    if (s.batch > data.train.size())
        return fail("--batch " + std::to_string(s.batch) + " is larger than the " +
                        std::to_string(data.train.size()) + " training images",
                    2);
    try {
        if (s.model == "resmlp") return train<resmlp_model>(s, data, comm);
        return s.model == "mlp" ? train<mlp_model>(s, data, comm)
                                : train<softmax_model>(s, data, comm);
    } catch (const std::exception& e) {
        return fail(e.what(), 1);
    }
} catch (const std::exception& e) {  // the communicator itself (MPI could not start)
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
