// Optimizer kernels and the sgd / adam classes against hand-computed updates; optimizers and
// checkpoints over every param of a graph (params named once).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/kernels/optim.hpp>
#include <fusegrad/kernels/trace.hpp>
#include <fusegrad/nn/adam.hpp>
#include <fusegrad/nn/checkpoint.hpp>
#include <fusegrad/nn/sgd.hpp>

#include "idx_files.hpp"

namespace fg = fusegrad;
namespace k = fusegrad::kernels;

TEST_CASE("sgd_update without momentum is p -= lr (g + wd p)", "[nn][optim]") {
    std::vector<double> p = {1.0, -2.0, 0.5}, g = {0.5, 0.25, -1.0};
    k::sgd_update<double>(3, 0.1, 0.0, 0.01, false, g.data(), nullptr, p.data());
    // p0 = 1:   1 - 0.1 (0.5 + 0.01)     = 0.949
    // p1 = -2: -2 - 0.1 (0.25 - 0.02)    = -2.023
    // p2 = .5: .5 - 0.1 (-1 + 0.005)     = 0.5995
    REQUIRE(p[0] == Approx(0.949).epsilon(1e-14));
    REQUIRE(p[1] == Approx(-2.023).epsilon(1e-14));
    REQUIRE(p[2] == Approx(0.5995).epsilon(1e-14));
}

TEST_CASE("sgd_update with momentum and weight decay over three steps", "[nn][optim]") {
    // One parameter, p = 1, lr 0.1, μ 0.9, λ 0.1, gradients 1, 2, -1 (by hand):
    //   step 1: g' = 1 + 0.1·1 = 1.1;        v = 1.1;                p = 1 - 0.11 = 0.89
    //   step 2: g' = 2 + 0.089 = 2.089;      v = 0.99 + 2.089 = 3.079; p = 0.89 - 0.3079 = 0.5821
    //   step 3: g' = -1 + 0.05821 = -0.94179; v = 2.7711 - 0.94179 = 1.82931; p = 0.5821 - 0.182931
    double p = 1.0, v = 0.0;
    const double grads[] = {1.0, 2.0, -1.0};
    const double expected_p[] = {0.89, 0.5821, 0.399169};
    const double expected_v[] = {1.1, 3.079, 1.82931};
    for (int s = 0; s < 3; ++s) {
        k::sgd_update<double>(1, 0.1, 0.9, 0.1, false, &grads[s], &v, &p);
        REQUIRE(v == Approx(expected_v[s]).epsilon(1e-12));
        REQUIRE(p == Approx(expected_p[s]).epsilon(1e-12));
    }
}

TEST_CASE("sgd_update with Nesterov momentum", "[nn][optim]") {
    // p = 1, lr 0.1, μ 0.5, g = 1 twice: v1 = 1, p1 = 1 - 0.1 (1 + 0.5) = 0.85;
    // v2 = 0.5 + 1 = 1.5, p2 = 0.85 - 0.1 (1 + 0.75) = 0.675.
    float p = 1.f, v = 0.f;
    const float g = 1.f;
    k::sgd_update<float>(1, 0.1f, 0.5f, 0.f, true, &g, &v, &p);
    REQUIRE(p == Approx(0.85f));
    k::sgd_update<float>(1, 0.1f, 0.5f, 0.f, true, &g, &v, &p);
    REQUIRE(p == Approx(0.675f));
}

TEST_CASE("adam_update with bias correction over several steps", "[nn][optim]") {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
    const double grads[] = {0.5, -0.3, 0.8, 0.1};
    double p = 2.0, m = 0.0, v = 0.0;
    // The textbook form, written independently: m̂ = m / (1 − β1ᵗ), v̂ = v / (1 − β2ᵗ),
    // p -= lr m̂ / (√v̂ + ε).
    double rp = 2.0, rm = 0.0, rv = 0.0;
    for (int t = 1; t <= 4; ++t) {
        const double g = grads[t - 1] + wd * rp;
        rm = b1 * rm + (1 - b1) * g;
        rv = b2 * rv + (1 - b2) * g * g;
        const double mh = rm / (1 - std::pow(b1, t)), vh = rv / (1 - std::pow(b2, t));
        rp -= lr * mh / (std::sqrt(vh) + eps);
        k::adam_update<double>(1, lr, b1, b2, eps, wd, t, &grads[t - 1], &m, &v, &p);
        REQUIRE(m == Approx(rm).epsilon(1e-13));
        REQUIRE(v == Approx(rv).epsilon(1e-13));
        REQUIRE(p == Approx(rp).epsilon(1e-12));
    }
    // The first step of Adam moves every parameter by lr (m̂ = g, v̂ = g²): a closed form.
    double q = 3.0, qm = 0.0, qv = 0.0;
    const double gq = -4.0;
    k::adam_update<double>(1, 0.01, 0.9, 0.999, 0.0, 0.0, 1, &gq, &qm, &qv, &q);
    REQUIRE(q == Approx(3.01).epsilon(1e-14));
}

TEST_CASE("adam_update in float with a beta that rounds to 1 in float stays finite, as PyTorch",
          "[nn][optim]") {
    // float(0.99999999) == 1: 1 − β2 and the bias correction must come from the double β2
    // (PyTorch's), or the step is 0 / 0. The first step moves the param by lr (closed form).
    for (const double b2 : {0.99999999, 0.999999999}) {
        float p = 1.0f, m = 0.0f, v = 0.0f;
        const float g = 0.5f;
        k::adam_update<float>(1, 0.01f, 0.9, b2, 1e-8f, 0.0f, 1, &g, &m, &v, &p);
        REQUIRE(p == Approx(0.99f).epsilon(1e-5));
        REQUIRE(v == Approx(float((1 - b2) * 0.25)).epsilon(1e-6));
    }
    float p = 1.0f, m = 0.0f, v = 0.0f;
    const float g = 0.5f;
    k::adam_update<float>(1, 0.01f, 0.99999999, 0.999, 1e-8f, 0.0f, 1, &g, &m, &v, &p);
    REQUIRE(p == Approx(0.99f).epsilon(1e-5));
}

TEST_CASE("optimizers refuse the settings torch.optim refuses, naming them",
          "[nn][optim][errors]") {
    xt::xtensor<double, 1> w = {1.0, 2.0};
    const auto ps = fg::nn::params<"w">(w);
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(fg::nn::sgd(ps, {.lr = -0.1}), Contains("sgd: lr must be >= 0, got -0.1"));
    CHECK_THROWS_AS(fg::nn::sgd(ps, {.momentum = -0.5}), fg::value_error);
    CHECK_THROWS_AS(fg::nn::sgd(ps, {.weight_decay = -0.1}), fg::value_error);
    CHECK_THROWS_WITH(fg::nn::sgd(ps, {.nesterov = true}), Contains("nesterov"));
    CHECK_NOTHROW(fg::nn::sgd(ps, {.lr = 0.0, .momentum = 0.9, .nesterov = true}));
    CHECK_THROWS_AS(fg::nn::adam(ps, {.lr = -0.1}), fg::value_error);
    CHECK_THROWS_AS(fg::nn::adam(ps, {.eps = -1e-8}), fg::value_error);
    CHECK_THROWS_WITH(fg::nn::adam(ps, {.beta1 = -0.1}), Contains("beta1 must be in [0, 1)"));
    CHECK_THROWS_WITH(fg::nn::adam(ps, {.beta2 = 1.0}), Contains("beta2 must be in [0, 1), got 1"));
    CHECK_THROWS_AS(fg::nn::adam(ps, {.weight_decay = -0.1}), fg::value_error);
    CHECK_THROWS_AS(fg::nn::adam(ps, {.lr = std::nan("")}), fg::value_error);
    // A setting changed between steps is checked at the next step, before anything moves.
    auto graph = fg::compile(fg::sum(fg::param<"w">(w)));
    fg::nn::adam opt(ps, {});
    graph.run();
    opt.options().beta2 = 1.5;
    CHECK_THROWS_AS(opt.step(graph), fg::value_error);
    CHECK(w(0) == 1.0);
}

TEST_CASE("fg::nn::sgd updates the user's arrays from the graph's gradients", "[nn][optim]") {
    // loss = Σ (2 · W) + Σ b: dW = 2 everywhere, db = 1.
    xt::xtensor<float, 2> W = {{1.f, 2.f}, {3.f, 4.f}};
    xt::xtensor<float, 1> b = {0.5f, -0.5f};
    auto graph =
        fg::compile(fg::sum(fg::scale(fg::param<"W">(W), 2.0)) + fg::sum(fg::param<"b">(b)));
    fg::nn::sgd opt(fg::nn::params<"W", "b">(W, b), {.lr = 0.1, .momentum = 0.5});
    fg::kernels::trace_scope trace;
    graph.run();
    opt.step(graph);
    REQUIRE(trace.count("sgd_update") == 2);  // through the kernels, once per param
    REQUIRE(W(0, 0) == Approx(0.8f));         // 1 - 0.1·2
    REQUIRE(b(1) == Approx(-0.6f));           // -0.5 - 0.1·1
    graph.run();
    opt.step(graph);
    REQUIRE(W(1, 1) == Approx(4.f - 0.2f - 0.1f * 3.f));  // v = 0.5·2 + 2 = 3
    REQUIRE(b(0) == Approx(0.5f - 0.1f - 0.1f * 1.5f));   // v = 0.5·1 + 1 = 1.5
}

TEST_CASE("fg::nn::adam counts steps and fits a separable problem", "[nn][optim]") {
    xt::xtensor<float, 2> X = {{1.f, 0.f}, {0.f, 1.f}, {1.f, 0.1f}, {0.1f, 1.f}};
    xt::xtensor<std::int32_t, 1> y = {0, 1, 0, 1};
    xt::xtensor<float, 2> W = xt::zeros<float>({2, 2});
    xt::xtensor<float, 1> b = xt::zeros<float>({2});
    auto graph = fg::compile(fg::cross_entropy(
        fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)), fg::labels<"y">(y)));
    fg::nn::adam opt(fg::nn::params<"W", "b">(W, b), {.lr = 0.05});
    graph.run();
    const float first = graph.value();
    REQUIRE(first == Approx(std::log(2.f)));
    opt.step(graph);
    // First step: every weight with a non-zero gradient moves by exactly lr against its sign.
    REQUIRE(std::abs(W(0, 0) - 0.05f) < 1e-6f);
    REQUIRE(std::abs(W(0, 1) + 0.05f) < 1e-6f);
    for (int s = 0; s < 200; ++s) {
        graph.run();
        opt.step(graph);
    }
    REQUIRE(opt.steps() == 201);
    graph.run();
    REQUIRE(graph.value() < 0.05f * first);
}

TEST_CASE("an optimizer refuses a param whose array was resized", "[nn][optim][errors]") {
    xt::xtensor<float, 1> p = {1.f, 2.f};
    auto graph = fg::compile(fg::sum(fg::param<"p">(p)));
    graph.run();
    xt::xtensor<float, 1> other = {1.f, 2.f, 3.f};
    fg::nn::sgd opt(fg::nn::params<"p">(other), {.lr = 0.1});
    REQUIRE_THROWS_AS(opt.step(graph), fg::shape_error);
    REQUIRE_THROWS_WITH(opt.step(graph), Catch::Matchers::Contains("\"p\" has 3 elements"));
}

TEST_CASE("an optimizer that refuses a step changes no array and does not count it",
          "[nn][optim][errors]") {
    // Every gradient is checked before any array is written: the first param, whose array is
    // fine, is not updated when the second one's is refused.
    xt::xtensor<float, 1> a = {1.f, 2.f}, b = {3.f, 4.f};
    auto graph = fg::compile(fg::sum(fg::param<"a">(a)) + fg::sum(fg::param<"b">(b)));
    graph.run();
    b = xt::xtensor<float, 1>{3.f, 4.f, 5.f};  // resized after the run
    fg::nn::adam adam(fg::nn::params<"a", "b">(a, b), {.lr = 0.1});
    REQUIRE_THROWS_WITH(adam.step(graph), Catch::Matchers::Contains("\"b\" has 3 elements"));
    CHECK(bool(a == xt::xtensor<float, 1>{1.f, 2.f}));
    CHECK(adam.steps() == 0);
    fg::nn::sgd sgd(fg::nn::params<"a", "b">(a, b), {.lr = 0.1, .momentum = 0.9});
    REQUIRE_THROWS_AS(sgd.step(graph), fg::shape_error);
    CHECK(bool(a == xt::xtensor<float, 1>{1.f, 2.f}));
    // Settings made invalid between steps: refused before anything.
    b = xt::xtensor<float, 1>{3.f, 4.f};
    adam.options().beta2 = 1.0;
    REQUIRE_THROWS_AS(adam.step(graph), fg::value_error);
    CHECK(bool(a == xt::xtensor<float, 1>{1.f, 2.f}));
    CHECK(adam.steps() == 0);
    adam.options().beta2 = 0.999;
    adam.step(graph);
    CHECK(adam.steps() == 1);
    CHECK(a(0) == Approx(0.9f));  // Adam's first step moves by lr against the gradient's sign
}

TEST_CASE("share_of cuts an array into line-aligned shares that cover it once", "[nn][optim]") {
    for (std::size_t size : {0u, 1u, 15u, 16u, 17u, 100u, 1000u, 100352u})
        for (std::size_t n = 1; n <= 5; ++n) {
            INFO("size " << size << ", " << n << " shares");
            std::size_t next = 0;
            for (std::size_t t = 0; t < n; ++t) {
                const auto [lo, hi] = fg::nn::detail::share_of(size, t, n);
                REQUIRE(lo == next);
                REQUIRE(lo <= hi);
                if (hi != size) REQUIRE(hi % 16 == 0);
                // nearly equal: no share more than one line longer than another
                REQUIRE(hi - lo <= (size + 15) / 16 / n * 16 + 16);
                next = hi;
            }
            REQUIRE(next == size);
        }
}

TEST_CASE("an optimizer's step cut into shares is bitwise its whole step", "[nn][optim]") {
    // What fg::nn::data_parallel's run(optimizer) does on n threads: begin_step, every
    // step_share(graph, t, n) (here in reverse order), end_step.
    struct model {
        xt::xtensor<double, 2> X = xt::xtensor<double, 2>::from_shape({11, 5});
        xt::xtensor<double, 2> W = xt::xtensor<double, 2>::from_shape({5, 13});
        xt::xtensor<double, 1> b = xt::xtensor<double, 1>::from_shape({13});
        xt::xtensor<std::int32_t, 1> y = xt::xtensor<std::int32_t, 1>::from_shape({11});
        model() {
            for (std::size_t i = 0; i < X.size(); ++i) X.data()[i] = std::sin(1.3 * double(i));
            for (std::size_t i = 0; i < W.size(); ++i) W.data()[i] = std::cos(0.7 * double(i));
            for (std::size_t i = 0; i < b.size(); ++i) b.data()[i] = 0.1 * double(i);
            for (std::size_t i = 0; i < y.size(); ++i) y(i) = std::int32_t((i * 5) % 13);
        }
        auto loss() {
            return fg::cross_entropy(
                fg::linear(fg::input<"x">(X), fg::param<"W">(W), fg::param<"b">(b)),
                fg::labels<"y">(y));
        }
    };
    auto train = [](auto make_optimizer, std::size_t n) {
        model m;
        auto graph = fg::compile(m.loss());
        auto opt = make_optimizer(graph, m);
        for (int s = 0; s < 4; ++s) {
            graph.run();
            if (n == 0) {
                opt.step(graph);
                continue;
            }
            opt.begin_step(graph);
            for (std::size_t t = n; t-- > 0;) opt.step_share(graph, t, n);
            opt.end_step();
        }
        return std::vector<double>(m.W.begin(), m.W.end());
    };
    auto adam = [](auto& graph, model&) {
        return fg::nn::adam(fg::nn::params_of(graph), {.lr = 0.05, .weight_decay = 0.01});
    };
    auto sgd = [](auto&, model& m) {
        return fg::nn::sgd(fg::nn::params<"W", "b">(m.W, m.b),
                           {.lr = 0.3, .momentum = 0.9, .nesterov = true});
    };
    const auto adam_whole = train(adam, 0), sgd_whole = train(sgd, 0);
    const model untrained;
    REQUIRE(adam_whole != std::vector<double>(untrained.W.begin(), untrained.W.end()));
    for (std::size_t n : {1u, 2u, 3u, 5u}) {
        INFO(n << " shares");
        const auto a = train(adam, n), s = train(sgd, n);
        CHECK(std::memcmp(a.data(), adam_whole.data(), a.size() * sizeof(double)) == 0);
        CHECK(std::memcmp(s.data(), sgd_whole.data(), s.size() * sizeof(double)) == 0);
    }
}

// ---- params named once: an optimizer over every param of a graph -----------------------------

namespace {
// A two-layer model whose params appear only in its expression.
struct tiny_mlp {
    xt::xtensor<float, 2> X = {{1.f, -2.f, 0.5f}, {0.3f, 0.8f, -1.f}, {-0.7f, 0.1f, 2.f}};
    xt::xtensor<std::int32_t, 1> y = {2, 0, 1};
    xt::xtensor<float, 2> W1 = {{0.1f, -0.2f}, {0.3f, 0.4f}, {-0.5f, 0.6f}};
    xt::xtensor<float, 1> b1 = {0.05f, -0.05f};
    xt::xtensor<float, 2> W2 = {{0.2f, -0.1f, 0.3f}, {-0.4f, 0.5f, 0.1f}};
    xt::xtensor<float, 1> b2 = {0.f, 0.1f, -0.1f};
    auto loss() {
        auto h = fg::relu(fg::linear(fg::input<"x">(X), fg::param<"W1">(W1), fg::param<"b1">(b1)));
        return fg::cross_entropy(fg::linear(h, fg::param<"W2">(W2), fg::param<"b2">(b2)),
                                 fg::labels<"y">(y));
    }
    bool operator==(const tiny_mlp& o) const {
        return W1 == o.W1 && b1 == o.b1 && W2 == o.W2 && b2 == o.b2;
    }
};
}  // namespace

TEST_CASE("fg::nn::params_of(graph) trains every param, bitwise as the named list does",
          "[nn][optim]") {
    tiny_mlp named, every;
    auto g1 = fg::compile(named.loss());
    auto g2 = fg::compile(every.loss());
    STATIC_REQUIRE(decltype(g2)::num_params == 4);
    SECTION("sgd with momentum") {
        const fg::nn::sgd_options o{.lr = 0.2, .momentum = 0.9, .weight_decay = 1e-3};
        fg::nn::sgd a(
            fg::nn::params<"W1", "b1", "W2", "b2">(named.W1, named.b1, named.W2, named.b2), o);
        fg::nn::sgd b(fg::nn::params_of(g2), o);
        fg::kernels::trace_scope trace;
        for (int s = 0; s < 6; ++s) {
            g1.run(), a.step(g1);
            g2.run(), b.step(g2);
        }
        REQUIRE(trace.count("sgd_update") == 2 * 6 * 4);
    }
    SECTION("adam") {
        fg::nn::adam a(
            fg::nn::params<"W1", "b1", "W2", "b2">(named.W1, named.b1, named.W2, named.b2),
            {.lr = 0.05});
        fg::nn::adam b(fg::nn::params_of(g2), {.lr = 0.05});
        for (int s = 0; s < 6; ++s) {
            g1.run(), a.step(g1);
            g2.run(), b.step(g2);
        }
        REQUIRE(b.steps() == 6);
    }
    REQUIRE(!(every == tiny_mlp{}));  // it trained
    REQUIRE(every == named);          // and bitwise as the named list did
}

TEST_CASE("params_of follows a container that moved its buffer", "[nn][optim]") {
    xt::xtensor<float, 1> p = {1.f, 2.f};
    auto graph = fg::compile(fg::sum(fg::scale(fg::param<"p">(p), 3.0)));
    fg::nn::sgd opt(fg::nn::params_of(graph), {.lr = 0.1});
    graph.run();
    const float* before = p.data();
    p = xt::xtensor<float, 1>{5.f, 6.f};  // a new buffer, same shape
    REQUIRE(p.data() != before);
    opt.step(graph);  // dp = 3 from the last run, written into the new buffer
    REQUIRE(p(0) == Approx(5.f - 0.3f));
    REQUIRE(p(1) == Approx(6.f - 0.3f));
}

TEST_CASE("params_of refuses a param built from a const array, naming it", "[nn][optim][errors]") {
    const xt::xtensor<float, 1> frozen = {1.f, 2.f};
    xt::xtensor<float, 1> free = {3.f, 4.f};
    auto graph =
        fg::compile(fg::sum(fg::param<"free">(free)) + fg::sum(fg::param<"frozen">(frozen)));
    fg::nn::sgd opt(fg::nn::params_of(graph), {.lr = 0.1});
    graph.run();
    REQUIRE_THROWS_AS(opt.step(graph), std::logic_error);
    REQUIRE_THROWS_WITH(opt.step(graph), Catch::Matchers::Contains("\"frozen\"") &&
                                             Catch::Matchers::Contains("const array"));
    REQUIRE(bool(free == xt::xtensor<float, 1>{3.f, 4.f}));  // refused before anything was written
    REQUIRE_THROWS_AS(graph.param_array("nope"), std::invalid_argument);
    // Rebinding a mutable array makes it trainable.
    xt::xtensor<float, 1> thawed = frozen;
    graph.bind<"frozen">(thawed);
    graph.run();
    REQUIRE_NOTHROW(opt.step(graph));
    REQUIRE(thawed(0) == Approx(0.9f));
}

TEST_CASE("params_of before any run says to run the graph first", "[nn][optim][errors]") {
    xt::xtensor<float, 1> p = {1.f, 2.f};
    auto graph = fg::compile(fg::sum(fg::param<"p">(p)));
    fg::nn::adam opt(fg::nn::params_of(graph), {});
    REQUIRE_THROWS_AS(opt.step(graph), std::logic_error);
}

TEST_CASE("checkpoint::add_params saves and loads every param of a graph by its leaf name",
          "[nn][optim][checkpoint]") {
    fusegrad_test::temp_dir dir("add_params");
    tiny_mlp trained;
    trained.W1(0, 0) = 1.25f, trained.b2(2) = -3.5f;
    auto g = fg::compile(trained.loss());
    fg::nn::checkpoint save;
    save.add_params(g);
    REQUIRE(save.names() == std::vector<std::string>{"W1", "b1", "W2", "b2"});
    save.save(dir.path);

    // Read back by hand-given names: the files are the params under their leaf names.
    xt::xtensor<float, 2> W1 = xt::zeros<float>({3, 2});
    xt::xtensor<float, 1> b2 = xt::zeros<float>({3});
    fg::nn::load_npy(dir.path / "W1.npy", W1);
    fg::nn::load_npy(dir.path / "b2.npy", b2);
    REQUIRE(bool(W1 == trained.W1));
    REQUIRE(bool(b2 == trained.b2));

    // And into another model's graph, through its params.
    tiny_mlp fresh;
    REQUIRE(!(fresh == trained));
    auto g2 = fg::compile(fresh.loss());
    fg::nn::checkpoint load;
    load.add_params(g2).load(dir.path);
    REQUIRE(fresh == trained);

    // A param whose shape differs from the file is refused, and nothing changes.
    tiny_mlp other;
    other.W2 = xt::zeros<float>({2, 4});
    other.b2 = xt::zeros<float>({4});
    auto g3 = fg::compile(other.loss());
    fg::nn::checkpoint wrong;
    wrong.add_params(g3);
    REQUIRE_THROWS_AS(wrong.load(dir.path), fg::shape_error);
    REQUIRE(bool(other.W1 == tiny_mlp{}.W1));
}
