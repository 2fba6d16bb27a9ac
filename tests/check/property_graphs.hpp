#pragma once
// The property test's graphs. A graph is a type, so its structure is drawn at compile time: a
// constexpr splitmix64 stream, seeded per graph index, picks at every node one of the ops and
// fused-op heads below; `random_graph<I>::build(pool)` returns the expression. At run time each
// graph gets many draws of shapes and values from a seeded stream. Failures print the graph
// (`fg::to_string`, with every leaf's shape), the graph index and the draw's seed.
//
// Shapes: every matrix is batch × d[c] for a column symbol c in 0..3; leaf names carry their
// symbols (M2a is a batch × d[2] param, W13 a d[1] × d[3] weight), so one name always has one
// shape and a name drawn twice is one shared variable. exp only sees bounded values and log only
// positive ones, so that every graph is finite and smooth where it is checked.

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <typeinfo>

#include <fusegrad/check/gradcheck.hpp>
#include <fusegrad/check/random.hpp>
#include <fusegrad/fusegrad.hpp>

namespace property {

namespace fg = fusegrad;
using fg::check::splitmix64;

/// The seed of the structures; a different value draws other graphs.
inline constexpr std::uint64_t structure_seed = 0xf05e'67ad'0001ull;
/// Run-time draws per graph.
inline constexpr std::size_t draws_per_graph = 20;

constexpr std::uint64_t child(std::uint64_t s, std::uint64_t k) {
    return splitmix64(s ^ (0x632be59bd9b4e019ull * (k + 1)));
}

template <char... C>
constexpr auto name() {
    const char s[] = {C..., 0};
    return fg::fixed_string<sizeof...(C) + 1>(s);
}
constexpr char digit(std::uint64_t v) {
    return static_cast<char>('0' + v);
}

/// The arrays of one draw, created on first use by name; the same name gives the same array.
template <class T>
class pool {
  public:
    std::size_t batch = 1;
    std::array<std::size_t, 4> d{};
    fg::check::random_stream rng{0};

    xt::xtensor<T, 2>& matrix(const std::string& n, std::size_t r, std::size_t c) {
        return get(m_, n, [&] {
            auto a = xt::xtensor<T, 2>::from_shape({r, c});
            for (auto& x : a) x = static_cast<T>(rng.uniform(-1, 1));
            return a;
        });
    }
    xt::xtensor<T, 1>& vector(const std::string& n, std::size_t c, double lo = -1, double hi = 1) {
        return get(v_, n, [&] {
            auto a = xt::xtensor<T, 1>::from_shape({c});
            for (auto& x : a) x = static_cast<T>(rng.uniform(lo, hi));
            return a;
        });
    }
    xt::xtensor<T, 0>& scalar(const std::string& n) {
        return get(s_, n, [&] {
            xt::xtensor<T, 0> a;
            a() = static_cast<T>(rng.uniform(-1, 1));
            return a;
        });
    }
    xt::xtensor<std::int32_t, 1>& labels(const std::string& n, std::size_t classes) {
        return get(y_, n, [&] {
            auto a = xt::xtensor<std::int32_t, 1>::from_shape({batch});
            for (auto& x : a) x = static_cast<std::int32_t>(rng.below(classes));
            return a;
        });
    }
    xt::xtensor<T, 2>& targets(const std::string& n, std::size_t classes) {
        return get(m_, n, [&] {
            auto a = xt::xtensor<T, 2>::from_shape({batch, classes});
            for (std::size_t i = 0; i < batch; ++i) {
                double s = 0;
                for (std::size_t j = 0; j < classes; ++j) s += a(i, j) = T(rng.uniform(0.05, 1));
                for (std::size_t j = 0; j < classes; ++j) a(i, j) = T(a(i, j) / s);
            }
            return a;
        });
    }

  private:
    template <class A>
    using store = std::map<std::string, std::unique_ptr<A>>;
    store<xt::xtensor<T, 2>> m_;
    store<xt::xtensor<T, 1>> v_;
    store<xt::xtensor<T, 0>> s_;
    store<xt::xtensor<std::int32_t, 1>> y_;

    template <class A, class Make>
    A& get(store<A>& st, const std::string& n, Make make) {
        auto& slot = st[n];
        if (!slot) slot = std::make_unique<A>(make());
        return *slot;
    }
};

inline constexpr double scale_factors[] = {0.5, -1.5, 2.0, 0.25};

template <std::uint64_t S, int D, int C, class T>
struct gen_matrix;
template <std::uint64_t S, int D, int C, class T>
struct gen_bounded;
template <std::uint64_t S, int D, int C, class T>
struct gen_positive;

/// A param leaf batch × d[C], one of two per column symbol.
template <std::uint64_t S, int C, class T>
auto matrix_leaf(pool<T>& p) {
    constexpr auto n = name<'M', digit(C), static_cast<char>('a' + (S >> 20) % 2)>();
    return fg::param<n>(p.matrix(std::string(n.view()), p.batch, p.d[C]));
}

/// Any batch × d[C] matrix expression of depth at most D.
template <std::uint64_t S, int D, int C, class T>
struct gen_matrix {
    static constexpr int kind = D == 0 ? (S % 5 == 0 ? 100 : 101) : int(splitmix64(S) % 14);
    static constexpr std::uint64_t s1 = child(S, 1), s2 = child(S, 2);
    static constexpr int C2 = int((S >> 24) % 4);  // the inner width of matmul / linear

    static auto build(pool<T>& p) {
        if constexpr (kind == 100) {
            constexpr auto n = name<'X', digit(C)>();
            return fg::input<n>(p.matrix(std::string(n.view()), p.batch, p.d[C]));
        } else if constexpr (kind == 101) {
            return matrix_leaf<S, C, T>(p);
        } else if constexpr (kind == 0) {
            return fg::relu(gen_matrix<s1, D - 1, C, T>::build(p));
        } else if constexpr (kind == 1) {
            return fg::neg(gen_matrix<s1, D - 1, C, T>::build(p));
        } else if constexpr (kind == 2) {
            return fg::scale(gen_matrix<s1, D - 1, C, T>::build(p), scale_factors[(S >> 32) % 4]);
        } else if constexpr (kind == 3) {
            return gen_matrix<s1, D - 1, C, T>::build(p) + gen_matrix<s2, D - 1, C, T>::build(p);
        } else if constexpr (kind == 4) {
            constexpr auto n = name<'b', digit(C)>();
            return gen_matrix<s1, D - 1, C, T>::build(p) +
                   fg::param<n>(p.vector(std::string(n.view()), p.d[C]));
        } else if constexpr (kind == 5) {
            constexpr auto n = name<'s', digit((S >> 28) % 2)>();
            return gen_matrix<s1, D - 1, C, T>::build(p) +
                   fg::param<n>(p.scalar(std::string(n.view())));
        } else if constexpr (kind == 6) {
            return fg::softmax(gen_matrix<s1, D - 1, C, T>::build(p));
        } else if constexpr (kind == 7) {
            return fg::log_softmax(gen_matrix<s1, D - 1, C, T>::build(p));
        } else if constexpr (kind == 8) {
            constexpr auto n = name<'W', digit(C2), digit(C)>();
            return fg::matmul(gen_matrix<s1, D - 1, C2, T>::build(p),
                              fg::param<n>(p.matrix(std::string(n.view()), p.d[C2], p.d[C])));
        } else if constexpr (kind == 9) {
            constexpr auto nw = name<'W', digit(C2), digit(C)>();
            constexpr auto nb = name<'b', digit(C)>();
            return fg::linear(gen_matrix<s1, D - 1, C2, T>::build(p),
                              fg::param<nw>(p.matrix(std::string(nw.view()), p.d[C2], p.d[C])),
                              fg::param<nb>(p.vector(std::string(nb.view()), p.d[C])));
        } else if constexpr (kind == 10) {
            return fg::exp(gen_bounded<s1, D - 1, C, T>::build(p));
        } else if constexpr (kind == 11) {
            return fg::log(gen_positive<s1, D - 1, C, T>::build(p));
        } else if constexpr (kind == 12) {
            return gen_matrix<s1, D - 1, C, T>::build(p) - gen_matrix<s2, D - 1, C, T>::build(p);
        } else {
            return matrix_leaf<S, C, T>(p);
        }
    }
};

/// A matrix expression with entries in [-2, 2]: safe under exp.
template <std::uint64_t S, int D, int C, class T>
struct gen_bounded {
    static constexpr int kind = D == 0 ? 0 : int(splitmix64(S) % 4);
    static constexpr std::uint64_t s1 = child(S, 1);
    static auto build(pool<T>& p) {
        if constexpr (kind == 0)
            return matrix_leaf<S, C, T>(p);
        else if constexpr (kind == 1)
            return fg::softmax(gen_matrix<s1, D - 1, C, T>::build(p));
        else if constexpr (kind == 2)
            return fg::scale(gen_bounded<s1, D - 1, C, T>::build(p), 0.5);
        else
            return fg::relu(gen_bounded<s1, D - 1, C, T>::build(p));
    }
};

/// A matrix expression with positive entries away from 0: safe under log.
template <std::uint64_t S, int D, int C, class T>
struct gen_positive {
    static constexpr int kind = D == 0 ? 0 : int(splitmix64(S) % 3);
    static constexpr std::uint64_t s1 = child(S, 1), s2 = child(S, 2);
    static auto build(pool<T>& p) {
        if constexpr (kind == 0)
            return fg::exp(matrix_leaf<S, C, T>(p));
        else if constexpr (kind == 1)
            return fg::softmax(gen_matrix<s1, D - 1, C, T>::build(p));
        else
            return fg::exp(gen_bounded<s1, D - 1, C, T>::build(p)) +
                   gen_positive<s2, D - 1, C, T>::build(p);
    }
};

/// m itself, or m plus a param leaf when m has none (a graph must have something to check).
template <std::uint64_t S, int C, class T, class E>
auto with_param(E m, pool<T>& p) {
    if constexpr (fg::requires_grad_v<E>)
        return m;
    else
        return m + matrix_leaf<S, C, T>(p);
}

/// A scalar loss: a reduction or a (fusable) likelihood head over a random matrix expression.
template <std::uint64_t S, class T>
struct gen_loss {
    static constexpr int kind = int(splitmix64(S) % 10);
    static constexpr int C = int((S >> 12) % 4);
    static constexpr int D = 2 + int((S >> 40) % 2);  // depth 2 or 3 below the head
    static constexpr std::uint64_t s1 = child(S, 1), s2 = child(S, 2);

    static auto build(pool<T>& p) {
        using M1 = gen_matrix<s1, D, C, T>;
        constexpr auto ny = name<'y', digit(C)>();
        constexpr auto nt = name<'t', digit(C)>();
        auto y = [&] { return fg::labels<ny>(p.labels(std::string(ny.view()), p.d[C])); };
        auto t = [&] { return fg::labels<nt>(p.targets(std::string(nt.view()), p.d[C])); };
        if constexpr (kind == 0) {
            return fg::sum(with_param<s1, C>(M1::build(p), p));
        } else if constexpr (kind == 1) {
            return fg::mean(with_param<s1, C>(M1::build(p), p));
        } else if constexpr (kind == 2) {
            return fg::mean(fg::nll(fg::softmax(with_param<s1, C>(M1::build(p), p)), y()));
        } else if constexpr (kind == 3) {
            return fg::sum(fg::nll_logp(fg::log_softmax(with_param<s1, C>(M1::build(p), p)), y()));
        } else if constexpr (kind == 4) {
            return fg::cross_entropy(with_param<s1, C>(M1::build(p), p), y());
        } else if constexpr (kind == 5) {
            fg::xent_options o;
            o.label_smoothing = 0.1;
            o.ignore_index = 0;
            auto& w = p.vector("class_weights", p.d[C], 0.5, 2);
            return fg::cross_entropy<fg::reduction::sum>(with_param<s1, C>(M1::build(p), p), y(),
                                                         fg::constant(w), o);
        } else if constexpr (kind == 6) {
            return fg::mean(fg::nll(fg::softmax(with_param<s1, C>(M1::build(p), p)), t()));
        } else if constexpr (kind == 7) {
            return fg::sum(with_param<s1, C>(M1::build(p), p)) +
                   fg::mean(fg::nll(
                       fg::softmax(with_param<s2, C>(gen_matrix<s2, D - 1, C, T>::build(p), p)),
                       y()));
        } else if constexpr (kind == 8) {
            return fg::sum(fg::log(fg::softmax(with_param<s1, C>(M1::build(p), p))));
        } else {
            return fg::cross_entropy(with_param<s1, C>(M1::build(p), p), t());
        }
    }
};

/// Graph I of the property test; every third one is a double model, the rest float models
/// (checked in double).
template <std::size_t I>
struct random_graph {
    static constexpr std::uint64_t seed = splitmix64(structure_seed + I);
    using scalar = std::conditional_t<I % 3 == 0, double, float>;
    using loss = gen_loss<seed, scalar>;
    using expr_type = decltype(loss::build(std::declval<pool<scalar>&>()));
};

/// The structures of all graphs linked into the test, to count the distinct ones.
inline std::set<std::string>& structures() {
    static std::set<std::string> s;
    return s;
}
template <std::size_t I>
inline const bool registered =
    (structures().insert(typeid(typename random_graph<I>::expr_type).name()), true);

/// Runs graph I over its draws; returns the number of instances checked.
template <std::size_t I>
std::size_t run_graph() {
    (void)registered<I>;
    using G = random_graph<I>;
    std::size_t checked = 0;
    for (std::size_t r = 0; r < draws_per_graph; ++r) {
        const std::uint64_t draw_seed = splitmix64(G::seed ^ (0xd7a3 + r));
        pool<typename G::scalar> p;
        p.rng = fg::check::random_stream(draw_seed);
        p.batch = 1 + p.rng.below(4);
        for (auto& x : p.d) x = 1 + p.rng.below(5);
        const auto loss = G::loss::build(p);
        fg::check::gradcheck_options opts;
        opts.seed = draw_seed;
        const auto report = fg::check::gradcheck(loss, opts);
        INFO("property graph " << I << ", draw " << r << ", seed 0x" << std::hex << draw_seed
                               << std::dec << "\n  batch " << p.batch << ", d = (" << p.d[0] << ", "
                               << p.d[1] << ", " << p.d[2] << ", " << p.d[3] << ")\n"
                               << report);
        CHECK(report.passed());
        CHECK(!report.leaves.empty());  // a graph without a param would pass vacuously
        if (std::getenv("FUSEGRAD_PROPERTY_VERBOSE") && r == 0) std::cout << report;
        ++checked;
    }
    return checked;
}

/// Runs graphs First, First + 1, ..., Last - 1.
template <std::size_t First, std::size_t... K>
std::size_t run_graphs(std::index_sequence<K...>) {
    return (run_graph<First + K>() + ...);
}

}  // namespace property
