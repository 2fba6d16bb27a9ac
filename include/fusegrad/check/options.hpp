#pragma once
/// @file
/// `gradcheck_options`: what `fg::check::gradcheck` and `fg::check::jacobian` compute and how
/// strictly they judge it, in the spirit of PyTorch's gradcheck.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fusegrad::check {

/// Options of a gradient check. The defaults suit the check as fusegrad runs it: both the
/// numeric and the analytic gradient in double (see docs/gradient-checking.md for why these
/// numbers).
struct gradcheck_options {
    /// Step of the central difference (f(θ + eps) − f(θ − eps)) / 2·eps, absolute. In double,
    /// 1e-6 balances truncation O(eps²·f''') against rounding O(u·|f| / eps), u = 1.1e-16.
    double eps = 1e-6;
    /// An entry passes when |analytic − numeric| ≤ atol + rtol·|numeric| (PyTorch's defaults).
    double atol = 1e-5;
    double rtol = 1e-3;
    /// Fast mode: instead of every entry, compare `projections` random projections uᵀ·J·v per
    /// leaf (two forward passes each) with their central differences; for large leaves.
    bool fast = false;
    /// How many random directions v per leaf in fast mode; 0 is refused (std::invalid_argument):
    /// a check that compares nothing would pass vacuously.
    std::size_t projections = 4;
    /// Fast mode: a projection that fails at eps is measured again at eps/100 and eps/10⁴, and
    /// passes if either agrees (a step along a random direction crosses ReLU-like kinks often;
    /// a wrong vjp fails at every step). The report counts these (leaf_report::kink_retries).
    bool kink_retries = true;
    /// Seeds every random direction and upstream vector; the same seed gives the same check.
    std::uint64_t seed = 0x5eed;
    /// Throw `fg::check::gradcheck_error` (holding the report) when the check fails, instead
    /// of returning the failing report.
    bool throw_on_failure = false;
    /// Run backward twice (and forward + backward once more) and require bitwise-equal
    /// gradients: catches an op that accumulates where it should overwrite, or reads memory
    /// it never wrote.
    bool check_reentrancy = true;
    /// The param leaves to check, by name; empty means every param leaf. A name that is not a
    /// param leaf, a graph without param leaves, or a selection whose leaves are all empty
    /// throws std::invalid_argument rather than report a pass with nothing checked.
    std::vector<std::string> leaves{};
    /// True (the default): the numeric gradient differentiates the expression as written, so a
    /// rewrite (fusion) is checked against the graph it replaced. False: the rewritten graph.
    bool numeric_from_written = true;
};

}  // namespace fusegrad::check
