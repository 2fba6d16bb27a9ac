#pragma once
/// @file
/// What machine a benchmark ran on, for the header of every table: the CPU's family, model and
/// name from /proc/cpuinfo (figures are only comparable within one microarchitecture).

#include <algorithm>
#include <fstream>
#include <string>

namespace fusegrad::bench {

/// "family F, model M (model name)" from /proc/cpuinfo ("family , model  ()" elsewhere).
inline std::string cpu_label() {
    std::ifstream f("/proc/cpuinfo");
    std::string line, family, model, name;
    const auto value = [](const std::string& l) {
        const auto c = l.find(':');
        return c == std::string::npos ? std::string() : l.substr(std::min(l.size(), c + 2));
    };
    while (std::getline(f, line) && (family.empty() || model.empty() || name.empty())) {
        if (line.rfind("cpu family", 0) == 0 && family.empty()) family = value(line);
        if (line.rfind("model name", 0) == 0 && name.empty())
            name = value(line);
        else if (line.rfind("model", 0) == 0 && model.empty())
            model = value(line);
    }
    return "family " + family + ", model " + model + " (" + name + ")";
}

}  // namespace fusegrad::bench
