#pragma once
/// @file
/// Where a graph's computed values, gradients and workspaces live: one arena, each buffer at an
/// offset chosen so that two buffers share memory only when their lifetimes do not overlap.
///
/// The schedule has 2N steps for a plan of N values: the forward of value i at step i, its
/// backward at step 2N − 1 − i. A buffer lives over a closed interval of steps:
///   - a value's output from its forward to its last forward use, or to the end of the schedule
///     when a backward reads it (its own vjp, or a consumer's, as declared by `kept`, see
///     core/keeps.hpp) or when it is the graph's value. Kept values live to the end, not to their
///     last backward use, so that a second backward() after one forward() reads them intact;
///   - a gradient from its first write (the backward of its last consumer, or that consumer's
///     forward when run() fuses the vjp into it) to its own backward;
///   - a workspace from its op's forward to the end when the op has a backward, else over the
///     forward step alone.
/// Intervals are closed, so an op never writes a buffer that one of its inputs occupies.

#include <cstddef>
#include <string>
#include <vector>

namespace fusegrad {

/// What a graph's buffers take, in bytes, for the shapes of its last forward().
struct memory_report {
    /// The arena the graph allocated: every computed value, gradient and workspace, after
    /// reuse (buffers are 64-byte aligned, so small ones round up).
    std::size_t arena_bytes = 0;
    /// What the same buffers take with one each and no reuse (the graph before reuse).
    std::size_t unshared_bytes = 0;
    /// The most bytes live at any one step of forward + backward: what no reuse can beat for
    /// this schedule; arena_bytes is at least this.
    std::size_t peak_live_bytes = 0;
    /// Forward values and workspaces alive when the backward starts: what training keeps.
    std::size_t kept_bytes = 0;
    /// All ops' workspaces together (part of the above).
    std::size_t workspace_bytes = 0;
    /// Param gradients, held outside the arena in the xtensors grad<Name>() returns.
    std::size_t param_grad_bytes = 0;
    /// Computed values (leaves are the caller's) and how many of their outputs are kept.
    std::size_t values = 0;
    std::size_t kept_values = 0;

    /// One line per figure, for printing.
    std::string str() const;
};

namespace detail {

/// One buffer the planner places: its size in bytes (a multiple of 64) and its closed interval of
/// schedule steps; `offset` is the planner's answer, in bytes from the arena's start.
struct buffer_request {
    std::size_t bytes = 0;
    std::size_t first = 0;
    std::size_t last = 0;
    std::size_t offset = 0;
};

/// Places the buffers (greedy by size, largest first, each at the lowest offset clear of every
/// placed buffer whose interval overlaps its own) and returns the arena's size in bytes.
std::size_t place_buffers(std::vector<buffer_request>& buffers);

/// The most bytes live at one step, over `steps` steps.
std::size_t peak_live_bytes(const std::vector<buffer_request>& buffers, std::size_t steps);

}  // namespace detail
}  // namespace fusegrad
