#pragma once
/// @file
/// What an op declares about its memory, both optional:
///
///   static constexpr fusegrad::keeps kept = keeps::output() | keeps::operand(0);
///       the forward values its vjp reads: its own output, operand k. The graph keeps exactly
///       these until the vjp has run and reuses every other value's buffer after its last
///       forward use. The vjp then receives a null `data` for anything it did not declare (the
///       shape is always there). An op without `kept` keeps everything, as before this existed.
///
///   std::size_t workspace_size(const shape& out, const shape& operand...) const;
///       how many elements of the value type the op wants for itself; the op's forward and vjp
///       (and forward_with_vjp / vjp_after_fused) then take a trailing `workspace<T>`, the same
///       buffer for both, live from the forward until the vjp has run.

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace fusegrad {

/// A set of forward values an op's vjp reads: its output and some of its operands.
struct keeps {
    std::uint64_t bits = ~std::uint64_t{0};  // the default: everything

    /// Nothing: the vjp needs only the upstream gradient and the shapes (add, neg, sum).
    static constexpr keeps nothing() noexcept { return {0}; }
    /// The op's own output (exp, softmax).
    static constexpr keeps output() noexcept { return {1}; }
    /// Operand k, counted from 0 (log reads its x; linear reads x and W).
    static constexpr keeps operand(std::size_t k) noexcept { return {std::uint64_t{2} << k}; }
    /// Everything: what an op that declares nothing gets.
    static constexpr keeps all() noexcept { return {}; }

    constexpr keeps operator|(keeps o) const noexcept { return {bits | o.bits}; }
    constexpr bool has_output() const noexcept { return (bits & 1) != 0; }
    constexpr bool has_operand(std::size_t k) const noexcept {
        return k >= 63 || ((bits >> (k + 1)) & 1) != 0;
    }
};

namespace detail {
/// An op's declared `kept`, or keeps::all().
template <class Op>
constexpr keeps kept_of() noexcept {
    if constexpr (requires { keeps{Op::kept}; })
        return Op::kept;
    else
        return keeps::all();
}
}  // namespace detail

}  // namespace fusegrad
