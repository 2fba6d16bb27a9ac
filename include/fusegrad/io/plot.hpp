#pragma once
/// @file
/// Line charts as SVG (training curves): no dependency, one self-contained file.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "fusegrad/io/atomic_file.hpp"

namespace fusegrad::io {

/// One line of a chart: y values at x = 1, 2, … (or at `x` when given, same length as y).
struct series {
    std::string name;       ///< legend text
    std::vector<double> y;  ///< values; non-finite ones are skipped
    std::string colour = "#1f77b4";
    std::vector<double> x = {};  ///< optional x positions
};

/// A chart: axes with ticks, a title, axis labels and a legend.
struct chart {
    std::string title;
    std::string x_label;
    std::string y_label;
    std::vector<series> lines;
};

namespace detail {
inline std::string svg_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '&')
            out += "&amp;";
        else if (c == '"')
            out += "&quot;";
        else
            out += c;
    }
    return out;
}
inline std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}
// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `n` ticks over `span`.
inline double tick_step(double span, int n) {
    if (!(span > 0)) return 1.0;
    const double raw = span / n, p = std::pow(10.0, std::floor(std::log10(raw)));
    const double r = raw / p;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * p;
}
}  // namespace detail

/// The charts side by side as one SVG document, each `width` × `height` pixels.
inline std::string to_svg(const std::vector<chart>& charts, int width = 440, int height = 300) {
    using detail::fmt;
    const int total_w = width * static_cast<int>(std::max<std::size_t>(charts.size(), 1));
    std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(total_w) +
                    "\" height=\"" + std::to_string(height) +
                    "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    for (std::size_t c = 0; c < charts.size(); ++c) {
        const chart& ch = charts[c];
        const double ox = static_cast<double>(c) * width;
        const double left = ox + 55, right = ox + width - 15, top = 30, bottom = height - 40.0;
        double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
        for (const auto& l : ch.lines)
            for (std::size_t i = 0; i < l.y.size(); ++i) {
                const double x = i < l.x.size() ? l.x[i] : static_cast<double>(i + 1);
                if (!std::isfinite(l.y[i])) continue;
                x0 = std::min(x0, x), x1 = std::max(x1, x);
                y0 = std::min(y0, l.y[i]), y1 = std::max(y1, l.y[i]);
            }
        if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
        if (x1 == x0) x1 = x0 + 1;
        const double pad = (y1 - y0) * 0.05 + (y1 == y0 ? 0.5 : 0.0);
        y0 -= pad, y1 += pad;
        auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (right - left); };
        auto py = [&](double y) { return bottom - (y - y0) / (y1 - y0) * (bottom - top); };

        s += "<text x=\"" + fmt("%.1f", (left + right) / 2) +
             "\" y=\"18\" text-anchor=\"middle\" font-size=\"13\">" + detail::svg_escape(ch.title) +
             "</text>\n";
        // Grid and ticks.
        const double ys = detail::tick_step(y1 - y0, 5);
        // Ticks by index, at most kMaxTicks: at huge values a step below the spacing of doubles
        // would make `y += ys` stand still.
        constexpr int kMaxTicks = 50;
        const double y_first = std::ceil(y0 / ys) * ys;
        for (int k = 0; k <= kMaxTicks; ++k) {
            const double y = y_first + k * ys;
            if (y > y1 + 1e-12) break;
            s += "<line x1=\"" + fmt("%.1f", left) + "\" x2=\"" + fmt("%.1f", right) + "\" y1=\"" +
                 fmt("%.1f", py(y)) + "\" y2=\"" + fmt("%.1f", py(y)) +
                 "\" stroke=\"#e5e5e5\"/>\n<text x=\"" + fmt("%.1f", left - 4) + "\" y=\"" +
                 fmt("%.1f", py(y) + 4) + "\" text-anchor=\"end\">" +
                 fmt(ys < 0.01  ? "%.3f"
                     : ys < 0.1 ? "%.2f"
                     : ys < 1   ? "%.1f"
                                : "%.0f",
                     y) +
                 "</text>\n";
        }
        const double xs = std::max(1.0, detail::tick_step(x1 - x0, 6));
        const double x_first = std::ceil(x0 / xs) * xs;
        for (int k = 0; k <= kMaxTicks; ++k) {
            const double x = x_first + k * xs;
            if (x > x1 + 1e-12) break;
            s += "<text x=\"" + fmt("%.1f", px(x)) + "\" y=\"" + fmt("%.1f", bottom + 14) +
                 "\" text-anchor=\"middle\">" + fmt("%g", x) + "</text>\n";
        }
        s += "<rect x=\"" + fmt("%.1f", left) + "\" y=\"" + fmt("%.1f", top) + "\" width=\"" +
             fmt("%.1f", right - left) + "\" height=\"" + fmt("%.1f", bottom - top) +
             "\" fill=\"none\" stroke=\"#444\"/>\n";
        s += "<text x=\"" + fmt("%.1f", (left + right) / 2) + "\" y=\"" + fmt("%.1f", bottom + 30) +
             "\" text-anchor=\"middle\">" + detail::svg_escape(ch.x_label) + "</text>\n";
        s += "<text transform=\"translate(" + fmt("%.1f", ox + 14) + "," +
             fmt("%.1f", (top + bottom) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
             detail::svg_escape(ch.y_label) + "</text>\n";
        // The legend goes in the right-hand corner away from where the first line ends.
        bool legend_low = false;
        if (!ch.lines.empty())
            for (std::size_t i = ch.lines[0].y.size(); i-- > 0;)
                if (std::isfinite(ch.lines[0].y[i])) {
                    legend_low = py(ch.lines[0].y[i]) < (top + bottom) / 2;
                    break;
                }
        const double legend_top =
            legend_low ? bottom - 8 - 15.0 * static_cast<double>(ch.lines.size()) : top;
        // Lines, with a dot per point, and the legend.
        for (std::size_t k = 0; k < ch.lines.size(); ++k) {
            const auto& l = ch.lines[k];
            std::string pts;
            for (std::size_t i = 0; i < l.y.size(); ++i) {
                if (!std::isfinite(l.y[i])) continue;
                const double x = i < l.x.size() ? l.x[i] : static_cast<double>(i + 1);
                pts += fmt("%.1f", px(x)) + "," + fmt("%.1f", py(l.y[i])) + " ";
                s += "<circle cx=\"" + fmt("%.1f", px(x)) + "\" cy=\"" + fmt("%.1f", py(l.y[i])) +
                     "\" r=\"2.5\" fill=\"" + detail::svg_escape(l.colour) + "\"/>\n";
            }
            s += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" +
                 detail::svg_escape(l.colour) + "\" points=\"" + pts + "\"/>\n";
            const double ly = legend_top + 14 + 15.0 * static_cast<double>(k);
            s += "<line x1=\"" + fmt("%.1f", right - 120) + "\" x2=\"" + fmt("%.1f", right - 100) +
                 "\" y1=\"" + fmt("%.1f", ly - 4) + "\" y2=\"" + fmt("%.1f", ly - 4) +
                 "\" stroke-width=\"2\" stroke=\"" + detail::svg_escape(l.colour) +
                 "\"/>\n<text x=\"" + fmt("%.1f", right - 95) + "\" y=\"" + fmt("%.1f", ly) +
                 "\">" + detail::svg_escape(l.name) + "</text>\n";
        }
    }
    s += "</svg>\n";
    return s;
}

/// Writes to_svg(charts) to `path` through `path + ".tmp"` and a rename. Returns false on
/// failure, leaving no temporary behind.
inline bool write_svg(const std::string& path, const std::vector<chart>& charts, int width = 440,
                      int height = 300) {
    return write_file_atomically(path, to_svg(charts, width, height));
}

}  // namespace fusegrad::io
