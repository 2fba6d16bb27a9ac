#pragma once
/// @file
/// add(a, b) = a + b: same shapes, a vector b broadcast over the rows of a matrix a, or a
/// scalar b broadcast over all of a. (The builder puts the higher-rank operand first.)

#include <string>
#include <string_view>

#include "fusegrad/core/errors.hpp"
#include "fusegrad/core/keeps.hpp"
#include "fusegrad/core/type_list.hpp"
#include "fusegrad/core/views.hpp"
#include "fusegrad/kernels/kernels.hpp"

namespace fusegrad::op {

struct add {
    static constexpr std::string_view name = "add";
    static constexpr keeps kept = keeps::nothing();  // what the vjp reads
    template <std::size_t A, std::size_t B>
    static constexpr std::size_t result_rank = A;

    shape infer(const shape& a, const shape& b) const {
        const bool ok =
            (a == b) || (b.rank == 0) || (a.rank == 2 && b.rank == 1 && b.cols == a.cols);
        if (!ok)
            throw shape_error("add: cannot add b " + b.str() + " to a " + a.str() +
                              " (shapes must match, or b must be a scalar, or a vector with one "
                              "entry per column of a)");
        return a;
    }

    template <class T>
    void forward(mview<T> out, cview<T> a, cview<T> b) const {
        if (b.dims.rank == a.dims.rank)
            kernels::add<T>(a.size(), a.data, b.data, out.data);
        else if (b.dims.rank == 0)
            kernels::add_scalar<T>(a.size(), a.data, b.data[0], out.data);
        else
            kernels::add_row<T>(a.dims.rows, a.dims.cols, a.data, b.data, out.data);
    }

    // da = g;  db = g, summed over the dimensions b was broadcast along
    template <class T>
    void vjp(grad_sink<T> da, grad_sink<T> db, cview<T> g, cview<T>, cview<T> a, cview<T> b) const {
        if (da) kernels::axpby<T>(g.size(), T(1), g.data, da.beta(), da.data);
        if (!db) return;
        if (b.dims.rank == a.dims.rank) {
            kernels::axpby<T>(g.size(), T(1), g.data, db.beta(), db.data);
        } else if (b.dims.rank == 0) {
            const T s = kernels::sum<T>(g.size(), g.data);
            db.data[0] = db.accumulate ? db.data[0] + s : s;  // beta = 0 must not read db
        } else {
            kernels::col_sums<T>(g.dims.rows, g.dims.cols, g.data, db.beta(), db.data);
        }
    }
};

}  // namespace fusegrad::op

namespace fusegrad::op::header_ops {
/// The ops this header defines: fusegrad/ops/all.hpp (generated) joins every header's list.
using add = fusegrad::detail::type_list<fusegrad::op::add>;
}  // namespace fusegrad::op::header_ops
