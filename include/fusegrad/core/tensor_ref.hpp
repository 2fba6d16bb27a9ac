#pragma once
/// @file
/// A non-owning reference to a caller's dense array: what a leaf holds.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <xtensor/xlayout.hpp>

#include "fusegrad/core/shape.hpp"

namespace fusegrad {

/// A contiguous row-major array whose rank is known at compile time and is 0, 1 or 2:
/// `xt::xtensor<T, N>` and `xt::xtensor_adaptor` over contiguous memory both model it.
template <class A>
concept dense_array = requires(const A& a) {
    typename A::value_type;
    { a.data() } -> std::convertible_to<const typename A::value_type*>;
    a.shape();
    requires A::rank <= 2;
    requires A::static_layout == xt::layout_type::row_major;
};

/// Where a leaf's values live: the caller's container, read afresh at every forward pass.
///
/// A leaf refers to the container, not to its buffer, because ordinary array code moves
/// buffers: xtensor's `W -= lr * dW` evaluates into a temporary and swaps it in, and
/// `X = next_batch` may reallocate. Re-reading the pointer and shape each run (one call through
/// a function pointer per leaf) keeps the graph right after both; a changed shape re-plans the
/// graph's buffers. The caller keeps the container itself alive while the graph is used.
///
/// This part is type-erased so that a graph can hold the bindings of all its leaves in one
/// array; `tensor_ref` adds the element type and rank.
struct array_binding {
    using reader = void (*)(const void* source, const void*& data, shape& dims) noexcept;

    const void* source = nullptr;  // the caller's container
    reader read = nullptr;         // how to get its current buffer and shape
    const void* data = nullptr;    // as of the last refresh()
    shape dims{};
    /// Whether the container was passed as a mutable lvalue: only then may an optimizer or a
    /// checkpoint load write its buffer through the graph (graph::param_array).
    bool writable = false;
    /// Whether the window fit the container at the last refresh(); when it did not, data is
    /// null and dims the container's own shape, for the error message.
    bool window_fits = true;
    /// The size of one element, set by tensor_ref: what a row window steps by.
    std::uint32_t elem_bytes = 0;

    /// A row window (graph::bind_rows): the leaf reads rows [first_row, first_row + row_count)
    /// of its container (elements, for a vector), without a copy; row_count all_rows: to the
    /// end (with first_row 0: the whole container, no window).
    static constexpr std::size_t all_rows = static_cast<std::size_t>(-1);
    std::size_t first_row = 0;
    std::size_t row_count = all_rows;

    /// Re-read the container's buffer and shape, then apply the row window.
    /// Out of line (src/grad/runtime.cpp): every leaf a model names (a param per layer)
    /// builds its binding through this, and inlined it was compiled once per leaf name.
    void refresh() noexcept;
};

template <class T, std::size_t Rank>
struct tensor_ref : array_binding {
    static_assert(Rank <= 2, "fusegrad values are scalars, vectors or matrices (rank 0, 1 or 2)");

    /// The binding of container `a`; writable when `a` is not const.
    ///
    /// Not inlined: every leaf of a model is built through it (a param per layer), and inlined
    /// it was a dozen stores compiled into each builder of the model (a 64-layer MLP's TU:
    /// 98 → 85 KB of code, g++ 0.97× the time). A call per leaf built costs nothing that shows.
    template <class C>
    requires dense_array<std::remove_const_t<C>>
    [[gnu::noinline]] static tensor_ref of(C& a) noexcept {
        tensor_ref r = read_only(a);
        r.writable = !std::is_const_v<C>;
        return r;
    }

  private:
    // One reader per container type, whether it was passed const or not.
    template <dense_array A>
    static tensor_ref read_only(const A& a) noexcept {
        static_assert(std::is_same_v<typename A::value_type, T> && A::rank == Rank);
        tensor_ref r;
        r.elem_bytes = static_cast<std::uint32_t>(sizeof(T));
        r.source = &a;
        r.read = [](const void* source, const void*& data, shape& dims) noexcept {
            const A& c = *static_cast<const A*>(source);
            data = c.data();
            if constexpr (Rank == 0)
                dims = shape::scalar();
            else if constexpr (Rank == 1)
                dims = shape::vector(c.shape()[0]);
            else
                dims = shape::matrix(c.shape()[0], c.shape()[1]);
        };
        r.refresh();
        return r;
    }

  public:
    const T* typed_data() const noexcept { return static_cast<const T*>(data); }
};

}  // namespace fusegrad
