// The comparisons behind fg::check::verify_rule (fusegrad/check/verify_rule.hpp): compiled once
// here. A rule's check reaches them through two graph handles, so it instantiates the handles'
// thunks per graph type, not the comparisons.

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "fusegrad/check/verify_rule.hpp"

namespace fusegrad::check::detail {

void verify_compare(const graph_handle& written, const graph_handle& fused, double_arrays& copy,
                    const std::vector<std::string>& params, const verify_options& opts,
                    std::size_t trial, rule_report& report) {
    auto row = [&](std::string what, bool agree) {
        rule_check_row r;
        r.trial = trial;
        r.what = std::move(what);
        r.result.atol = agree ? opts.agree_atol : opts.atol;
        r.result.rtol = agree ? opts.agree_rtol : opts.rtol;
        return r;
    };

    std::vector<double> vw, vf;
    written.forward(written.graph);
    fused.forward(fused.graph);
    written.value(written.graph, vw);
    fused.value(fused.graph, vf);
    auto values = row("value: replacement vs pattern", true);
    for (std::size_t i = 0; i < vw.size(); ++i) values.result.add(i, vf[i], vw[i]);
    report.rows.push_back(values);

    random_stream rng(splitmix64(opts.seed ^ (0x75 + trial)));
    std::vector<double> u(vw.size());
    for (auto& x : u) x = rng.normal();
    written.backward(written.graph, u);
    fused.backward(fused.graph, u);

    std::vector<double> value;
    const auto f = [&] { return projected_value(written, u, value); };
    std::vector<double> gw, gf;
    for (const std::string& name : params) {
        written.param_grad(written.graph, name, gw);
        fused.param_grad(fused.graph, name, gf);
        const auto [data, dims] = copy.view_of(name);
        auto agree = row("u·J in " + name + ": replacement vs pattern", true);
        auto fd_w = row("u·J in " + name + ": pattern vs finite differences", false);
        auto fd_f = row("u·J in " + name + ": replacement vs finite differences", false);
        for (std::size_t i = 0; i < dims.size(); ++i) {
            const double n = central_difference(data, i, opts.eps, f);
            agree.result.add(i, gf[i], gw[i]);
            fd_w.result.add(i, gw[i], n);
            fd_f.result.add(i, gf[i], n);
        }
        report.rows.push_back(agree);
        report.rows.push_back(fd_w);
        report.rows.push_back(fd_f);
    }
}

}  // namespace fusegrad::check::detail
