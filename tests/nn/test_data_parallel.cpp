// fg::nn::data_parallel: a batch cut into parts of rows, each part's forward and backward on its
// own replica of the graph, the gradients added in part order. What it must give is the
// unsplit graph's gradient and loss (for a loss that is a mean or a sum over rows, the sum of
// the parts' weighted gradients is that gradient exactly, up to rounding), bitwise the same for
// any thread count.

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <fusegrad/fusegrad.hpp>
#include <fusegrad/nn/adam.hpp>
#include <fusegrad/nn/data_parallel.hpp>
#include <fusegrad/nn/dataset.hpp>
#include <fusegrad/nn/sgd.hpp>
#include <fusegrad/nn/threads.hpp>

namespace fg = fusegrad;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

// A small MLP's weights and a batch of `n` rows, in double, fixed values.
struct mlp_data {
    xt::xtensor<double, 2> X, W1, W2;
    xt::xtensor<double, 1> b1, b2;
    xt::xtensor<std::int32_t, 1> y;
    explicit mlp_data(std::size_t n)
        : X(xt::xtensor<double, 2>::from_shape({n, 6})),
          W1(xt::xtensor<double, 2>::from_shape({6, 5})),
          W2(xt::xtensor<double, 2>::from_shape({5, 4})),
          b1(xt::xtensor<double, 1>::from_shape({5})),
          b2(xt::xtensor<double, 1>::from_shape({4})),
          y(xt::xtensor<std::int32_t, 1>::from_shape({n})) {
        auto fill = [](auto& a, double f) {
            for (std::size_t i = 0; i < a.size(); ++i)
                a.data()[i] = std::sin(f * double(i + 1)) * 0.8;
        };
        fill(X, 1.3);
        fill(W1, 0.7);
        fill(W2, 2.1);
        fill(b1, 0.4);
        fill(b2, 1.9);
        for (std::size_t i = 0; i < n; ++i) y(i) = static_cast<std::int32_t>((i * 7) % 4);
    }
    auto logits(double dropout = 0) {
        auto h = fg::relu(fg::linear(fg::input<"x">(X), fg::param<"W1">(W1), fg::param<"b1">(b1)));
        return fg::linear(fg::dropout(h, dropout, 5), fg::param<"W2">(W2), fg::param<"b2">(b2));
    }
};

template <class G1, class G2>
void require_same_gradients(G1& whole, G2& split, double tol) {
    for (auto name : G1::param_names) {
        INFO("param " << name);
        const auto a = whole.param_grad(name), b = split.param_grad(name);
        REQUIRE(a.size() == b.size());
        for (std::size_t i = 0; i < a.size(); ++i)
            REQUIRE_THAT(b.data[i], WithinAbs(a.data[i], tol));
    }
}

}  // namespace

TEST_CASE("data_parallel gives the whole batch's mean loss and gradients, for any parts",
          "[nn][data_parallel]") {
    fg::nn::set_num_threads(2);
    for (std::size_t parts : {1, 2, 3, 5}) {
        INFO("parts " << parts);
        mlp_data d(37);  // 37 rows: uneven parts
        auto whole = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
        whole.run();
        auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = parts});
        dp.run();
        CHECK(dp.parts_run() == parts);
        REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
        require_same_gradients(whole, graph, 1e-15);
        // The graph's own leaves read the first part's rows while the runner lives.
        CHECK(graph.shape_of(0).rows == 37 / parts);
    }
    fg::nn::set_num_threads(1);
}

TEST_CASE("data_parallel with reduction::sum adds the parts' gradients unweighted",
          "[nn][data_parallel]") {
    mlp_data d(10);
    auto whole =
        fg::compile(fg::cross_entropy<fg::reduction::sum>(d.logits(), fg::labels<"y">(d.y)));
    whole.run();
    auto graph =
        fg::compile(fg::cross_entropy<fg::reduction::sum>(d.logits(), fg::labels<"y">(d.y)));
    auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 3, .loss = fg::reduction::sum});
    dp.run();
    REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-13));
    require_same_gradients(whole, graph, 1e-14);
}

TEST_CASE("data_parallel's gradients are bitwise the same on one thread and on two",
          "[nn][data_parallel]") {
    std::vector<std::vector<double>> grads;
    for (std::size_t threads : {1, 2}) {
        mlp_data d(64);
        auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 3, .threads = threads});
        dp.run();
        std::vector<double> all;
        for (auto name : decltype(graph)::param_names) {
            const auto g = graph.param_grad(name);
            all.insert(all.end(), g.data, g.data + g.size());
        }
        all.push_back(dp.value());
        grads.push_back(all);
    }
    REQUIRE(grads[0].size() == grads[1].size());
    CHECK(std::memcmp(grads[0].data(), grads[1].data(), grads[0].size() * sizeof(double)) == 0);
}

TEST_CASE("data_parallel's parts draw the whole batch's dropout masks", "[nn][data_parallel]") {
    mlp_data d(21);
    auto whole = fg::compile(fg::cross_entropy(d.logits(0.5), fg::labels<"y">(d.y)));
    auto graph = fg::compile(fg::cross_entropy(d.logits(0.5), fg::labels<"y">(d.y)));
    auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 4});
    for (int step = 0; step < 3; ++step) {  // a new mask at every step, the same on both
        whole.run();
        dp.run();
        REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
        require_same_gradients(whole, graph, 1e-15);
    }
    CHECK(graph.step() == 3);
    // In evaluation mode (set on the graph, followed by every part) dropout keeps every unit.
    whole.eval();
    graph.eval();
    whole.run();
    dp.run();
    REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
}

TEST_CASE("data_parallel then an optimizer trains as the unsplit graph does",
          "[nn][data_parallel]") {
    mlp_data a(40), b(40);
    auto whole = fg::compile(fg::cross_entropy(a.logits(), fg::labels<"y">(a.y)));
    auto graph = fg::compile(fg::cross_entropy(b.logits(), fg::labels<"y">(b.y)));
    auto dp = fg::nn::data_parallel<"x", "y">(graph);
    fg::nn::adam opt_a(fg::nn::params_of(whole), {.lr = 0.01});
    fg::nn::adam opt_b(fg::nn::params_of(graph), {.lr = 0.01});
    for (int step = 0; step < 20; ++step) {
        whole.run();
        opt_a.step(whole);
        dp.run();
        opt_b.step(graph);
    }
    for (std::size_t i = 0; i < a.W1.size(); ++i)
        REQUIRE_THAT(b.W1.data()[i], WithinAbs(a.W1.data()[i], 1e-12));
    for (std::size_t i = 0; i < a.b2.size(); ++i)
        REQUIRE_THAT(b.b2.data()[i], WithinAbs(a.b2.data()[i], 1e-12));
    REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-12));
}

TEST_CASE("data_parallel follows the batch's rows, fewer than parts included",
          "[nn][data_parallel]") {
    mlp_data d(9);
    auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
    {
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 4});
        dp.run();
        CHECK(dp.parts_run() == 4);
        // A last, short batch: 2 rows, so two parts of one row each.
        mlp_data e(2);  // the same first two rows
        d.X = e.X;
        d.y = e.y;
        dp.run();
        CHECK(dp.parts_run() == 2);
        auto whole = fg::compile(fg::cross_entropy(e.logits(), fg::labels<"y">(e.y)));
        whole.run();
        REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
        require_same_gradients(whole, graph, 1e-15);
    }
    // The runner is gone: the graph reads its whole arrays again.
    graph.run();
    CHECK(graph.shape_of(0).rows == 2);
}

TEST_CASE("data_parallel refuses what it cannot split, naming it", "[nn][data_parallel]") {
    mlp_data d(8);
    auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
    CHECK_THROWS_MATCHES(
        (fg::nn::data_parallel<"x", "y">(graph, {.parts = 0})), fg::value_error,
        Catch::Matchers::Message("fg::nn::data_parallel: parts must be at least 1"));
    CHECK_THROWS_WITH((fg::nn::data_parallel<"x", "y">(graph, {.loss = fg::reduction::none})),
                      Contains("the loss must reduce the rows by mean or by sum"));
    auto dp = fg::nn::data_parallel<"x", "y">(graph);
    d.y = xt::xtensor<std::int32_t, 1>::from_shape({7});
    CHECK_THROWS_MATCHES(dp.run(), fg::shape_error,
                         Catch::Matchers::Message("fg::nn::data_parallel: the split leaves' arrays "
                                                  "differ in rows (x 8, y 7)"));
    d.X = xt::xtensor<double, 2>::from_shape({0, 6});
    d.y = xt::xtensor<std::int32_t, 1>::from_shape({0});
    CHECK_THROWS_WITH(dp.run(), Contains("the batch is empty (x 0, y 0 rows)"));
}

TEST_CASE("an error in one part is rethrown and the runner recovers", "[nn][data_parallel]") {
    fg::nn::set_num_threads(2);
    mlp_data d(8);
    auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
    auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 2});
    dp.run();
    CHECK(graph.step() == 1);
    d.y(6) = 9;  // in the second part: the first part runs, and its gradient must not be used
    CHECK_THROWS_AS(dp.run(), fg::label_error);
    CHECK(graph.step() == 1);  // as before the failed step
    CHECK_THROWS_WITH(graph.param_grad("W1"), Contains("no gradients yet"));
    d.y(6) = 1;
    dp.run();
    mlp_data e(8);
    e.y(6) = 1;
    auto whole = fg::compile(fg::cross_entropy(e.logits(), fg::labels<"y">(e.y)));
    whole.run();
    REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
    fg::nn::set_num_threads(1);
}

TEST_CASE("data_parallel's loader fills each part's rows on its thread before it runs",
          "[nn][data_parallel]") {
    fg::nn::set_num_threads(2);
    mlp_data all(50);  // the dataset: 50 rows, batches of 16 (the last one 2)
    auto make = [&](fg::nn::dataset<double>& ds) {
        ds.start_epoch(0);
        ds.next();
        return fg::compile(fg::cross_entropy(
            fg::linear(fg::relu(fg::linear(fg::input<"x">(ds.x()), fg::param<"W1">(all.W1),
                                           fg::param<"b1">(all.b1))),
                       fg::param<"W2">(all.W2), fg::param<"b2">(all.b2)),
            fg::labels<"y">(ds.y())));
    };
    fg::nn::dataset<double> da(all.X, all.y, 16, true, 3), db(all.X, all.y, 16, true, 3);
    auto whole = make(da);
    auto graph = make(db);
    auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 3});
    da.start_epoch(0);
    db.start_epoch(0);
    std::size_t batches = 0;
    while (da.next()) {
        REQUIRE(db.advance());
        dp.run([&](std::size_t first, std::size_t count) { db.fill_rows(first, count); });
        whole.run();
        REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
        require_same_gradients(whole, graph, 1e-15);
        ++batches;
    }
    CHECK(batches == 4);
    // A loader's exception reaches the caller.
    db.start_epoch(0);
    db.advance();
    CHECK_THROWS_WITH(dp.run([&](std::size_t first, std::size_t count) {
        if (first == 0) throw std::runtime_error("cannot load");
        db.fill_rows(first, count);
    }),
                      "cannot load");
    fg::nn::set_num_threads(1);
}

TEST_CASE("data_parallel's parts follow the graph's bindings and batch offset",
          "[nn][data_parallel]") {
    mlp_data d(12), other(20);
    for (std::size_t i = 0; i < other.X.size(); ++i) other.X.data()[i] = std::cos(double(i));
    auto graph = fg::compile(fg::cross_entropy(d.logits(0.5), fg::labels<"y">(d.y)));
    graph.set_batch_offset(100);  // this graph's rows start at row 100 of a larger batch
    {
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 3});
        // Bound to other arrays after the runner was made: every part reads them.
        graph.bind<"x">(other.X);
        graph.bind<"y">(other.y);
        dp.run();
        auto whole = fg::compile(fg::cross_entropy(d.logits(0.5), fg::labels<"y">(d.y)));
        whole.bind<"x">(other.X);
        whole.bind<"y">(other.y);
        whole.set_batch_offset(100);  // the same rows of the same larger batch: the same masks
        whole.run();
        REQUIRE_THAT(dp.value(), WithinAbs(whole.value(), 1e-14));
        require_same_gradients(whole, graph, 1e-15);
    }
    CHECK(graph.batch_offset() == 100);  // put back by the runner's destructor
}

TEST_CASE("data_parallel's run(optimizer) steps bitwise as run() then the optimizer's step",
          "[nn][data_parallel]") {
    // The update runs on the parts' threads, each on the share of the params it has summed;
    // the arithmetic is elementwise, so the bits are those of the step after run().
    auto train = [](std::size_t parts, std::size_t threads, bool inside, bool with_adam) {
        fg::nn::set_num_threads(threads);
        mlp_data d(45);
        auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = parts});
        fg::nn::adam adam(fg::nn::params_of(graph), {.lr = 0.02, .weight_decay = 1e-3});
        fg::nn::sgd sgd(fg::nn::params<"W1", "b1", "W2", "b2">(d.W1, d.b1, d.W2, d.b2),
                        {.lr = 0.1, .momentum = 0.9});
        std::atomic<std::size_t> loads = 0;
        auto load = [&](std::size_t, std::size_t count) { loads += count; };
        for (int step = 0; step < 5; ++step) {
            if (!inside) {
                dp.run();
                with_adam ? adam.step(graph) : sgd.step(graph);
            } else if (step % 2 == 0) {
                with_adam ? dp.run(adam) : dp.run(sgd);
            } else {
                with_adam ? dp.run(load, adam) : dp.run(load, sgd);
            }
        }
        if (inside) CHECK(loads == 2 * 45);  // the loader of run(load, optimizer) was called
        if (with_adam) CHECK(adam.steps() == 5);
        fg::nn::set_num_threads(1);
        std::vector<double> all;
        for (const auto* a : {&d.W1, &d.W2}) all.insert(all.end(), a->begin(), a->end());
        for (const auto* a : {&d.b1, &d.b2}) all.insert(all.end(), a->begin(), a->end());
        all.push_back(dp.value());
        return all;
    };
    for (bool with_adam : {true, false})
        for (std::size_t parts : {2u, 3u}) {
            INFO((with_adam ? "adam" : "sgd") << ", " << parts << " parts");
            const auto after = train(parts, 1, false, with_adam);
            for (std::size_t threads : {1u, 2u}) {
                INFO(threads << " threads");
                const auto inside = train(parts, threads, true, with_adam);
                REQUIRE(inside.size() == after.size());
                CHECK(std::memcmp(inside.data(), after.data(), after.size() * sizeof(double)) == 0);
            }
        }
}

TEST_CASE("data_parallel's run(optimizer) changes no param when the step fails",
          "[nn][data_parallel]") {
    fg::nn::set_num_threads(2);
    mlp_data d(8);
    auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
    auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 2});
    fg::nn::adam adam(fg::nn::params_of(graph), {.lr = 0.01});
    dp.run(adam);
    REQUIRE(adam.steps() == 1);
    const auto W1 = d.W1;
    // A part fails: no update, the step not counted, the gradients discarded.
    d.y(6) = 9;
    CHECK_THROWS_AS(dp.run(adam), fg::label_error);
    CHECK(adam.steps() == 1);
    CHECK(bool(d.W1 == W1));
    CHECK_THROWS_WITH(graph.param_grad("W1"), Contains("no gradients yet"));
    d.y(6) = 1;
    // Settings the optimizer refuses: refused before any part runs.
    dp.run();
    const std::uint64_t step = graph.step();
    adam.options().lr = -1;
    CHECK_THROWS_AS(dp.run(adam), fg::value_error);
    CHECK(graph.step() == step);
    CHECK(adam.steps() == 1);
    CHECK(bool(d.W1 == W1));
    CHECK_NOTHROW(graph.param_grad("W1"));  // the last run's gradients are still there
    adam.options().lr = 0.01;
    dp.run(adam);
    CHECK(adam.steps() == 2);
    CHECK(bool(d.W1 != W1));
    fg::nn::set_num_threads(1);
}

TEST_CASE("two runners on two threads at once each give their whole batch's gradients",
          "[nn][data_parallel]") {
    // One of them has the library's threads for a step, the other runs its parts alone
    // meanwhile; either way the bits are those of its parts.
    auto train = [](std::size_t rows, std::vector<double>& out) {
        fg::nn::set_num_threads(2);  // this thread's setting
        mlp_data d(rows);
        auto graph = fg::compile(fg::cross_entropy(d.logits(), fg::labels<"y">(d.y)));
        auto dp = fg::nn::data_parallel<"x", "y">(graph, {.parts = 3});
        fg::nn::sgd sgd(fg::nn::params_of(graph), {.lr = 0.1});
        for (int step = 0; step < 200; ++step) dp.run(sgd);
        out.assign(d.W1.begin(), d.W1.end());
        out.push_back(dp.value());
    };
    std::vector<double> alone_a, alone_b, a, b;
    train(30, alone_a);
    train(41, alone_b);
    std::thread ta([&] { train(30, a); }), tb([&] { train(41, b); });
    ta.join();
    tb.join();
    REQUIRE(a.size() == alone_a.size());
    REQUIRE(b.size() == alone_b.size());
    CHECK(std::memcmp(a.data(), alone_a.data(), a.size() * sizeof(double)) == 0);
    CHECK(std::memcmp(b.data(), alone_b.data(), b.size() * sizeof(double)) == 0);
    fg::nn::set_num_threads(1);
}
