// Run by mpirun (tests/CMakeLists.txt, "dist:" tests): the fast mode (bucketed allreduce)
// against one process. Every rank trains a 2-layer MLP on the same synthetic data for 30 SGD
// steps, each on its share of every global batch of 96 rows, with buckets of 1000 bytes (so
// a gradient spans several buckets). Rank 0 also trains the same model alone on the whole
// batches. Checks:
//   - every rank ends with bitwise the same weights (they all apply the same summed gradient);
//   - those weights are within 2e-5 · (1 + |w|) of the single process's: the sums run in
//     another order (the kernels over fewer rows, MPI over ranks), so they round differently;
//   - the summed loss of each step is within 1e-5 relative of the single process's.
// Exits 0 when all hold, 1 otherwise (printing the worst element).
//
// With `--fail-rank R`, rank R throws at step 5, while the others wait in that step's
// allreduce: the exception leaves the communicator's scope, which must end every rank
// (ctest "dist:failing_rank_mid_training").

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include <fusegrad/dist.hpp>
#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/init.hpp>
#include <fusegrad/nn/sgd.hpp>

namespace fg = fusegrad;

namespace {

constexpr std::size_t kRows = 960, kFeatures = 20, kHidden = 16, kClasses = 5, kBatch = 96;
constexpr int kSteps = 30;

struct model {
    xt::xtensor<float, 2> W1 = xt::xtensor<float, 2>::from_shape({kFeatures, kHidden});
    xt::xtensor<float, 1> b1 = xt::zeros<float>({kHidden});
    xt::xtensor<float, 2> W2 = xt::xtensor<float, 2>::from_shape({kHidden, kClasses});
    xt::xtensor<float, 1> b2 = xt::zeros<float>({kClasses});
    model() {
        fg::nn::kaiming_normal(W1, 11);
        fg::nn::xavier_normal(W2, 12);
    }
    template <class X, class Y>
    auto loss(X& x, Y& y) {
        auto h = fg::relu(fg::linear(fg::input<"x">(x), fg::param<"W1">(W1), fg::param<"b1">(b1)));
        return fg::cross_entropy(fg::linear(h, fg::param<"W2">(W2), fg::param<"b2">(b2)),
                                 fg::labels<"y">(y));
    }
    std::vector<float> flat() const {
        std::vector<float> v;
        for (const auto* a : {&W1, &W2}) v.insert(v.end(), a->begin(), a->end());
        for (const auto* a : {&b1, &b2}) v.insert(v.end(), a->begin(), a->end());
        return v;
    }
};

// Trains `m` for kSteps on rows [lo, hi) of each global batch (all rows when comm is null);
// returns each step's loss as the sync reports it (the graph's value alone).
std::vector<double> train(model& m, const xt::xtensor<float, 2>& X,
                          const xt::xtensor<std::int32_t, 1>& Y, fg::dist::communicator* comm,
                          int fail_rank = -1) {
    const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
    const std::size_t lo =
        kBatch * static_cast<std::size_t>(rank) / static_cast<std::size_t>(ranks);
    const std::size_t hi =
        kBatch * static_cast<std::size_t>(rank + 1) / static_cast<std::size_t>(ranks);
    xt::xtensor<float, 2> x = xt::view(X, xt::range(lo, hi));
    xt::xtensor<std::int32_t, 1> y = xt::view(Y, xt::range(lo, hi));
    auto graph = fg::compile(m.loss(x, y));
    fg::nn::sgd opt(fg::nn::params_of(graph), {.lr = 0.5, .momentum = 0.9});
    std::vector<double> losses;
    std::vector<std::unique_ptr<fg::dist::gradient_sync<decltype(graph)>>> sync;
    if (comm)
        sync.push_back(std::make_unique<fg::dist::gradient_sync<decltype(graph)>>(
            *comm, graph, fg::dist::sync_options{.bucket_bytes = 1000}));
    for (int step = 0; step < kSteps; ++step) {
        const std::size_t first = (static_cast<std::size_t>(step) * kBatch) % kRows;
        x = xt::view(X, xt::range(first + lo, first + hi));
        y = xt::view(Y, xt::range(first + lo, first + hi));
        graph.run();
        if (comm && comm->rank() == fail_rank && step == 5)
            throw std::runtime_error("injected failure on rank " + std::to_string(fail_rank));
        if (comm) {
            sync[0]->allreduce(static_cast<double>(hi - lo) / static_cast<double>(kBatch));
            losses.push_back(sync[0]->loss());
        } else {
            losses.push_back(static_cast<double>(graph.value()));
        }
        opt.step(graph);
    }
    return losses;
}

}  // namespace

int main(int argc, char** argv) try {
    fg::dist::communicator comm(argc, argv);
    const int fail_rank =
        argc == 3 && std::string(argv[1]) == "--fail-rank" ? std::atoi(argv[2]) : -1;
    // The same data on every rank: a linear teacher with noise.
    xt::xtensor<float, 2> X = xt::xtensor<float, 2>::from_shape({kRows, kFeatures});
    fg::nn::normal_fill(X, 0.0, 1.0, 5);
    xt::xtensor<float, 2> T = xt::xtensor<float, 2>::from_shape({kFeatures, kClasses});
    fg::nn::normal_fill(T, 0.0, 1.0, 6);
    xt::xtensor<std::int32_t, 1> Y = xt::xtensor<std::int32_t, 1>::from_shape({kRows});
    for (std::size_t i = 0; i < kRows; ++i) {
        float best = -1e30f;
        for (std::size_t c = 0; c < kClasses; ++c) {
            float s = 0;
            for (std::size_t f = 0; f < kFeatures; ++f) s += X(i, f) * T(f, c);
            if (s > best) best = s, Y(i) = static_cast<std::int32_t>(c);
        }
    }

    model dist_model;
    const auto dist_losses = train(dist_model, X, Y, &comm, fail_rank);
    const auto mine = dist_model.flat();

    // Every rank's weights, gathered: all the same bits.
    std::vector<std::byte> bytes(mine.size() * sizeof(float)), all;
    std::memcpy(bytes.data(), mine.data(), bytes.size());
    std::vector<std::size_t> sizes;
    comm.allgather(bytes, all, sizes);
    bool ok = true;
    for (int r = 1; r < comm.size(); ++r)
        if (std::memcmp(all.data(), all.data() + static_cast<std::size_t>(r) * bytes.size(),
                        bytes.size()) != 0) {
            std::printf("FAILED: rank %d's weights differ from rank 0's\n", r);
            ok = false;
        }
    if (comm.is_root()) {
        model alone;
        const auto losses = train(alone, X, Y, nullptr);
        const auto ref = alone.flat();
        double worst = 0;
        std::size_t at = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) {
            const double err = std::abs(double(mine[i]) - double(ref[i])) / (1 + std::abs(ref[i]));
            if (err > worst) worst = err, at = i;
        }
        double worst_loss = 0;
        for (int s = 0; s < kSteps; ++s)
            worst_loss = std::max(worst_loss, std::abs(dist_losses[static_cast<std::size_t>(s)] -
                                                       losses[static_cast<std::size_t>(s)]) /
                                                  losses[static_cast<std::size_t>(s)]);
        std::printf(
            "%d processes, fast mode, %d steps: worst weight difference %.3g · (1 + |w|) "
            "at element %zu (%.9g against %.9g); worst loss difference %.3g relative; "
            "loss %.4f -> %.4f\n",
            comm.size(), kSteps, worst, at, double(mine[at]), double(ref[at]), worst_loss,
            losses.front(), losses.back());
        if (!(worst <= 2e-5) || !(worst_loss <= 1e-5)) {
            std::printf("FAILED: beyond the tolerance (2e-5 for weights, 1e-5 for the loss)\n");
            ok = false;
        }
        if (!(losses.back() < 0.5 * losses.front())) {
            std::printf("FAILED: the loss did not halve, so the comparison says little\n");
            ok = false;
        }
    }
    const std::int64_t failures = comm.sum(static_cast<std::int64_t>(ok ? 0 : 1));
    return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
