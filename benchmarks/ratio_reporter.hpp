#pragma once
/// @file
/// Google Benchmark's console output plus the best time of every benchmark, so that each
/// benchmark program can print its side-by-side ratio table after the run.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace fusegrad::bench {

/// Console output as usual, plus the best time of every benchmark for the ratio table.
class ratio_reporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
            const double t = r.GetAdjustedRealTime();  // in r.time_unit
            auto [it, fresh] = best_.emplace(r.run_name.function_name, t);
            if (!fresh) it->second = std::min(it->second, t);
        }
    }
    /// Best time per iteration (in the benchmark's time unit), or 0 when it did not run.
    double best(const std::string& name) const {
        const auto it = best_.find(name);
        return it == best_.end() ? 0.0 : it->second;
    }

  private:
    std::map<std::string, double> best_;
};

}  // namespace fusegrad::bench
