#pragma once
/// @file
/// Google Benchmark's console output plus the best and the median time of every benchmark, so
/// that each benchmark program can print its side-by-side ratio table after the run.
///
/// With --benchmark_report_aggregates_only the reporter is handed only the aggregates (mean,
/// median, stddev, cv), not the repetitions: both best() and median() then give the median
/// aggregate (there is no "best" to be had), instead of the 0 they gave before.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace fusegrad::bench {

/// Console output as usual, plus the best and median time of every benchmark for the table.
class ratio_reporter : public benchmark::ConsoleReporter {
  public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.error_occurred) continue;
            const double t = r.GetAdjustedRealTime();  // in r.time_unit
            if (r.run_type == Run::RT_Iteration)
                times_[r.run_name.function_name].push_back(t);
            else if (r.aggregate_name == "median")
                aggregate_median_[r.run_name.function_name] = t;
        }
    }
    /// Best time per iteration (in the benchmark's time unit), or 0 when it did not run.
    double best(const std::string& name) const {
        const auto it = times_.find(name);
        if (it != times_.end()) return *std::min_element(it->second.begin(), it->second.end());
        return from_aggregate(name);
    }
    /// Median over the repetitions (the one time without --benchmark_repetitions), or 0.
    double median(const std::string& name) const {
        const auto it = times_.find(name);
        if (it == times_.end()) return from_aggregate(name);
        auto v = it->second;
        std::sort(v.begin(), v.end());
        const std::size_t h = v.size() / 2;
        return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
    }

  private:
    double from_aggregate(const std::string& name) const {
        const auto it = aggregate_median_.find(name);
        return it == aggregate_median_.end() ? 0.0 : it->second;
    }
    std::map<std::string, std::vector<double>> times_;
    std::map<std::string, double> aggregate_median_;
};

}  // namespace fusegrad::bench
