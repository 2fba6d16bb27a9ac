#pragma once
/// @file
/// The registry of ops: every op struct in include/fusegrad/ops/, with the header it lives in.
/// The gradient-law tests (tests/check/test_op_laws.cpp) run their laws over this list, and a
/// test compares it with the headers on disk: an op header without a registry entry, or an
/// entry without a law fixture, fails the suite.

#include <array>
#include <cstddef>
#include <string_view>

#include "fusegrad/grad/plan.hpp"
#include "fusegrad/ops/add.hpp"
#include "fusegrad/ops/exp.hpp"
#include "fusegrad/ops/linear.hpp"
#include "fusegrad/ops/log.hpp"
#include "fusegrad/ops/log_softmax.hpp"
#include "fusegrad/ops/matmul.hpp"
#include "fusegrad/ops/neg.hpp"
#include "fusegrad/ops/nll.hpp"
#include "fusegrad/ops/nll_logp.hpp"
#include "fusegrad/ops/reduce.hpp"
#include "fusegrad/ops/relu.hpp"
#include "fusegrad/ops/scale.hpp"
#include "fusegrad/ops/softmax.hpp"
#include "fusegrad/ops/softmax_xent.hpp"

namespace fusegrad::op {

/// Every op type (an op class template contributes each of its instances).
using all_ops =
    fusegrad::detail::type_list<add, exp, linear, log, log_softmax, matmul, neg, nll, nll_logp, sum,
                                mean, relu, scale, softmax, softmax_xent<reduction::none>,
                                softmax_xent<reduction::mean>, softmax_xent<reduction::sum>>;

/// One op struct as written in its header: the struct's name and the header's stem.
struct op_source {
    std::string_view struct_name;
    std::string_view header;
};

/// Every op struct, by the header that defines it (what the registry test compares with the
/// files on disk).
inline constexpr std::array<op_source, 15> op_sources{{
    {"add", "add"},
    {"exp", "exp"},
    {"linear", "linear"},
    {"log", "log"},
    {"log_softmax", "log_softmax"},
    {"matmul", "matmul"},
    {"neg", "neg"},
    {"nll", "nll"},
    {"nll_logp", "nll_logp"},
    {"sum", "reduce"},
    {"mean", "reduce"},
    {"relu", "relu"},
    {"scale", "scale"},
    {"softmax", "softmax"},
    {"softmax_xent", "softmax_xent"},
}};

/// Structs in the op headers that are not ops (a shared base, an options struct), and headers
/// that hold no op.
inline constexpr std::array<std::string_view, 2> non_op_structs{"elementwise_unary",
                                                                "xent_options"};
inline constexpr std::array<std::string_view, 2> non_op_headers{"elementwise", "registry"};

}  // namespace fusegrad::op
