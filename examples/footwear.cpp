// ctest-args: --epochs 1 --limit 3000 --min-accuracy 0.9 --out footwear_ctest_out
// Binary logistic regression on Fashion-MNIST: footwear (sandal, sneaker, ankle boot) against
// everything else, through the sigmoid fusion. The loss is written as the textbook
// binary_cross_entropy(sigmoid(x·w + b), t); the rewriter turns it into sigmoid_bce(s, t), whose
// gradient is σ(s) − t and which stays finite where σ(s) rounds to 0 or 1. The params are named
// once, in the expression: the optimizer and the checkpoint take every param of the graph.
//
//   build/examples/example_footwear [--epochs 5] [--lr 0.5] [--batch 128] [--limit N]
//
// Exits non-zero when the fusion did not fire, the loss is not the written graph's, or the test
// accuracy is below --min-accuracy.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>
#include <xtensor/xview.hpp>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn.hpp>

namespace fg = fusegrad;
namespace fs = std::filesystem;

namespace {

// Fashion-MNIST's footwear classes: 5 sandal, 7 sneaker, 9 ankle boot.
bool is_footwear(std::int32_t label) {
    return label == 5 || label == 7 || label == 9;
}

// 1 for footwear, 0 otherwise, one row per label: the targets t of the loss.
void footwear_targets(const xt::xtensor<std::int32_t, 1>& y, xt::xtensor<float, 2>& t) {
    if (t.shape()[0] != y.size() || t.shape()[1] != 1) t.resize({y.size(), std::size_t{1}});
    for (std::size_t i = 0; i < y.size(); ++i) t(i, 0) = is_footwear(y(i)) ? 1.f : 0.f;
}

// σ(x·w + b), w ~ N(0, 0.01²), b = 0.
struct model {
    xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({784, 1});
    xt::xtensor<float, 1> b = xt::zeros<float>({std::size_t{1}});

    model() { fg::nn::normal_fill(w, 0.0, 0.01, 1); }

    template <class X>
    auto logit(X&& x) {
        return fg::linear(std::forward<X>(x), fg::param<"w">(w), fg::param<"b">(b));
    }
};

template <class A>
A first_rows(const A& a, std::size_t n) {
    if (n == 0 || n >= a.shape()[0]) return a;
    return xt::view(a, xt::range(0, n));
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t epochs = 5, batch = 128, limit = 0;
    double lr = 0.5, min_accuracy = 0.99;
    std::string data_dir = fg::nn::default_fashion_mnist_dir, out = "footwear_out";
    // CLI::Range lets NaN through (every comparison with it is false).
    const CLI::Validator finite(
        [](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !std::isfinite(v))
                return "'" + text + "' is not a finite number";
            return {};
        },
        "FINITE");
    CLI::App app{"Footwear against the rest on Fashion-MNIST: logistic regression with fusegrad"};
    app.add_option("--epochs", epochs, "passes over the training set")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--batch", batch, "batch size")
        ->check(CLI::Range(1, 1 << 20))
        ->capture_default_str();
    app.add_option("--lr", lr, "SGD learning rate")
        ->check(finite & CLI::Range(1e-9, 100.0))
        ->capture_default_str();
    app.add_option("--limit", limit, "use only the first N training and test images (0: all)")
        ->check(CLI::Range(0, 1 << 30));
    app.add_option("--min-accuracy", min_accuracy, "fail below this test accuracy")
        ->check(finite & CLI::Range(0.0, 1.0))
        ->capture_default_str();
    app.add_option("--data", data_dir, "directory holding the four Fashion-MNIST IDX files")
        ->capture_default_str();
    app.add_option("--out", out, "directory for the weights")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    try {
        fg::nn::fashion_mnist data = fg::nn::load_fashion_mnist(data_dir);
        if (limit > 0) {
            data.train.images = first_rows(data.train.images, limit);
            data.train.labels = first_rows(data.train.labels, limit);
            data.test.images = first_rows(data.test.images, limit);
            data.test.labels = first_rows(data.test.labels, limit);
        }
        if (batch > data.train.size()) {
            std::fprintf(stderr, "error: --batch %zu is larger than the %zu training images\n",
                         batch, data.train.size());
            return 2;
        }

        model m;
        fg::nn::dataset<float> train(data.train.images, data.train.labels, batch, true, 1);
        xt::xtensor<float, 2> t;
        train.start_epoch(0);
        train.next();
        footwear_targets(train.y(), t);

        auto x = fg::input<"x">(train.x());
        auto loss = fg::binary_cross_entropy(fg::sigmoid(m.logit(x)), fg::labels<"t">(t));
        auto graph = fg::compile(loss);
        graph.check_finite(true);
        std::printf("fusion    ");
        for (const auto& r : graph.rules_fired()) std::printf(" %s;", r.c_str());
        std::printf("\n");
        const bool fused = fg::contains_op<decltype(graph)::expression_type, fg::op::sigmoid_bce>;

        // The fused loss is the written one (the first batch, at the initial weights).
        auto written = fg::compile(loss, fg::no_rewrite);
        graph.forward();
        written.forward();
        const double fused_loss = graph.value(), written_loss = written.value();
        const bool same_loss = std::abs(fused_loss - written_loss) <= 1e-5 * written_loss;
        std::printf("first loss %.6f fused, %.6f as written\n", fused_loss, written_loss);

        fg::nn::sgd opt(fg::nn::params_of(graph), {.lr = lr});
        auto test_x = fg::input<"x">(data.test.images);
        auto predict = fg::compile(fg::sigmoid(m.logit(test_x)));
        double accuracy = 0;
        for (std::size_t e = 0; e < epochs; ++e) {
            train.start_epoch(e);
            double sum = 0;
            std::size_t batches = 0;
            while (train.next()) {
                footwear_targets(train.y(), t);
                graph.run();
                opt.step(graph);
                sum += graph.value();
                ++batches;
            }
            // Test accuracy at the 0.5 threshold, and the confusion counts.
            predict.forward();
            const auto p = predict.value_view();
            std::size_t tp = 0, fp = 0, fn = 0, tn = 0;
            for (std::size_t i = 0; i < p.dims.rows; ++i) {
                const bool said = p.data[i] >= 0.5f, is = is_footwear(data.test.labels(i));
                tp += said && is, fp += said && !is, fn += !said && is, tn += !said && !is;
            }
            accuracy = double(tp + tn) / double(std::max<std::size_t>(p.dims.rows, 1));
            std::printf(
                "epoch %zu/%zu  train loss %.4f  test accuracy %.4f  (footwear: %zu found, "
                "%zu missed; %zu others taken for footwear)\n",
                e + 1, epochs, sum / double(std::max<std::size_t>(batches, 1)), accuracy, tp, fn,
                fp);
        }

        fg::nn::checkpoint ckpt;
        ckpt.add_params(graph).save(out);
        std::printf("weights    %s/ (w.npy, b.npy)\n", out.c_str());

        bool ok = true;
        if (!fused) ok = false, std::printf("FAILED: the sigmoid fusion did not fire\n");
        if (!same_loss)
            ok = false, std::printf("FAILED: the fused loss differs from the written\n");
        if (!(accuracy >= min_accuracy))
            ok = false,
            std::printf("FAILED: test accuracy %.4f is below %.2f\n", accuracy, min_accuracy);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
