/// @file
/// The buffer planner of grad/memory.hpp.

#include "fusegrad/grad/memory.hpp"

#include <algorithm>
#include <numeric>

namespace fusegrad {

std::string memory_report::str() const {
    std::string s;
    const auto line = [&](const char* what, std::size_t v) {
        s.append(what).append(std::to_string(v)).append("\n");
    };
    line("arena bytes (after reuse):   ", arena_bytes);
    line("unshared bytes (no reuse):   ", unshared_bytes);
    line("peak live bytes:             ", peak_live_bytes);
    line("kept for the backward bytes: ", kept_bytes);
    line("workspace bytes:             ", workspace_bytes);
    line("param gradient bytes:        ", param_grad_bytes);
    line("computed values:             ", values);
    line("values kept for the backward:", kept_values);
    return s;
}

namespace detail {

std::size_t place_buffers(std::vector<buffer_request>& buffers) {
    std::vector<std::size_t> order(buffers.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Largest first; ties by first use, then by index, so the layout is deterministic.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        if (buffers[a].bytes != buffers[b].bytes) return buffers[a].bytes > buffers[b].bytes;
        return buffers[a].first < buffers[b].first;
    });
    std::vector<std::size_t> placed;  // indices, kept sorted by offset
    std::vector<std::size_t> clash;   // the placed buffers overlapping the current one in time
    placed.reserve(buffers.size());
    clash.reserve(buffers.size());
    std::size_t arena = 0;
    for (const std::size_t i : order) {
        buffer_request& b = buffers[i];
        clash.clear();
        for (const std::size_t j : placed)
            if (buffers[j].first <= b.last && b.first <= buffers[j].last) clash.push_back(j);
        // The lowest gap between clashing buffers (sorted by offset) that fits.
        std::size_t offset = 0;
        for (const std::size_t j : clash) {
            if (buffers[j].offset >= offset + b.bytes) break;
            offset = std::max(offset, buffers[j].offset + buffers[j].bytes);
        }
        b.offset = offset;
        arena = std::max(arena, offset + b.bytes);
        const auto at = std::upper_bound(
            placed.begin(), placed.end(), offset,
            [&](std::size_t off, std::size_t j) { return off < buffers[j].offset; });
        placed.insert(at, i);
    }
    return arena;
}

std::size_t peak_live_bytes(const std::vector<buffer_request>& buffers, std::size_t steps) {
    std::vector<std::size_t> delta(steps + 2, 0), freed(steps + 2, 0);
    for (const auto& b : buffers) {
        delta[std::min(b.first, steps)] += b.bytes;
        freed[std::min(b.last, steps) + 1] += b.bytes;
    }
    std::size_t live = 0, peak = 0;
    for (std::size_t t = 0; t <= steps; ++t) {
        live += delta[t];
        live -= freed[t];
        peak = std::max(peak, live);
    }
    return peak;
}

}  // namespace detail
}  // namespace fusegrad
