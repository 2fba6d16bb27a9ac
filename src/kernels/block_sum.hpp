#pragma once
/// @file
/// Internal: a running sum in blocks, for the per-row losses of the cross-entropy kernels
/// (softmax_xent.cpp, linear_xent.cpp; both compiled without instruction-set flags).

#include <cstddef>

namespace fusegrad::kernels::detail {

/// Sums row losses in blocks of 256, so the rounding error grows like m / 256 + 256, not m.
template <class T>
class block_sum {
  public:
    void add(T v) {
        block_ += v;
        if (++count_ == 256) {
            total_ += block_;
            block_ = T(0);
            count_ = 0;
        }
    }
    T value() const { return total_ + block_; }

  private:
    T total_ = T(0), block_ = T(0);
    std::size_t count_ = 0;
};

}  // namespace fusegrad::kernels::detail
