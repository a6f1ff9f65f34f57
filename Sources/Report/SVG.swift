// SVG charts drawn by the project: line charts (ROC curves), bar charts (rates per group) and
// histograms. Fixed size, axes with ticks, a legend; labels are escaped.

import Foundation

struct Series {
    var name: String
    var x: [Double]
    var y: [Double]
}

enum SVG {
    static let palette = ["#4a6fa5", "#c0504d", "#2d8a4e", "#e39b2d", "#7d5ba6", "#4bacc6", "#8c8c8c"]
    static let w = 460.0, h = 300.0, left = 52.0, right = 12.0, top = 14.0, bottom = 42.0

    static func frame(_ inner: String, xLabel: String, yLabel: String, title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" viewBox="0 0 \(Int(w)) \(Int(h))" role="img" aria-label="\(esc(title))">
        <rect x="0" y="0" width="\(Int(w))" height="\(Int(h))" fill="#fff"/>
        \(inner)
        <text x="\(left + (w - left - right) / 2)" y="\(h - 6)" text-anchor="middle">\(esc(xLabel))</text>
        <text transform="translate(13,\(top + (h - top - bottom) / 2)) rotate(-90)" text-anchor="middle">\(esc(yLabel))</text>
        </svg>
        """
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    /// Axes for [x0,x1]×[y0,y1] with `ticks` ticks each; returns the SVG and the two mappings.
    /// `legendRows` keeps a band above the plot free for the legend.
    static func axes(x0: Double, x1: Double, y0: Double, y1: Double, xTicks: [Double], yTicks: [Double], xTickLabel: (Double) -> String = { num($0, 2) },
                     yTickLabel: (Double) -> String = { num($0, 2) }, legendRows: Int = 0) -> (String, (Double) -> Double, (Double) -> Double) {
        let top = Self.top + 15 * Double(legendRows)
        let px = { (x: Double) in left + (x - x0) / max(1e-12, x1 - x0) * (w - left - right) }
        let py = { (y: Double) in h - bottom - (y - y0) / max(1e-12, y1 - y0) * (h - top - bottom) }
        var o = "<g stroke=\"#999\" stroke-width=\"1\"><line x1=\"\(f(left))\" y1=\"\(f(h - bottom))\" x2=\"\(f(w - right))\" y2=\"\(f(h - bottom))\"/>"
        o += "<line x1=\"\(f(left))\" y1=\"\(f(top))\" x2=\"\(f(left))\" y2=\"\(f(h - bottom))\"/></g>"
        for t in xTicks {
            o += "<line x1=\"\(f(px(t)))\" y1=\"\(f(h - bottom))\" x2=\"\(f(px(t)))\" y2=\"\(f(h - bottom + 4))\" stroke=\"#999\"/>"
            o += "<text x=\"\(f(px(t)))\" y=\"\(f(h - bottom + 16))\" text-anchor=\"middle\">\(esc(xTickLabel(t)))</text>"
        }
        for t in yTicks {
            o += "<line x1=\"\(f(left - 4))\" y1=\"\(f(py(t)))\" x2=\"\(f(w - right))\" y2=\"\(f(py(t)))\" stroke=\"#eee\"/>"
            o += "<text x=\"\(f(left - 7))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(esc(yTickLabel(t)))</text>"
        }
        return (o, px, py)
    }

    /// The legend, one row per series, in the band `axes(legendRows:)` keeps free.
    static func legend(_ names: [String]) -> String {
        var o = ""
        for (i, n) in names.enumerated() {
            let y = top + 8 + Double(i) * 15
            o += "<rect x=\"\(f(left + 8))\" y=\"\(f(y - 8))\" width=\"10\" height=\"10\" fill=\"\(palette[i % palette.count])\"/>"
            o += "<text x=\"\(f(left + 23))\" y=\"\(f(y + 1))\">\(esc(n))</text>"
        }
        return o
    }

    /// A round axis maximum and step (1, 2 or 5 × 10^k) covering `x` in about five steps.
    static func nice(_ x: Double) -> (top: Double, step: Double) {
        guard x.isFinite, x > 0 else { return (1, 0.2) }
        let raw = x / 5, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw }!
        return (ceil(x / step) * step, step)
    }

    /// Lines through points; `diagonal` draws y = x (chance for ROC curves).
    static func lines(_ series: [Series], xLabel: String, yLabel: String, title: String, x0: Double = 0, x1: Double = 1, y0: Double = 0, y1: Double = 1,
                      diagonal: Bool = false, logX: Bool = false) -> String {
        let tx = { (x: Double) in logX ? log10(max(x, 1e-4)) : x }
        let (ax, px, py) = axes(x0: tx(logX ? 1e-4 : x0), x1: tx(x1), y0: y0, y1: y1,
                                xTicks: logX ? [-4, -3, -2, -1, 0] : stride(from: x0, through: x1, by: (x1 - x0) / 5).map { $0 },
                                yTicks: stride(from: y0, through: y1, by: (y1 - y0) / 5).map { $0 },
                                xTickLabel: logX ? { String(format: "%g", pow(10, $0)) } : { num($0, 2) }, legendRows: series.count)
        var o = ax
        if diagonal {
            let pts = (0...50).map { Double($0) / 50 }.map { "\(f(px(tx($0)))),\(f(py($0)))" }.joined(separator: " ")
            o += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>"
        }
        for (i, s) in series.enumerated() {
            let pts = zip(s.x, s.y).map { "\(f(px(tx($0)))),\(f(py($1)))" }.joined(separator: " ")
            o += "<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(palette[i % palette.count])\" stroke-width=\"1.8\"/>"
        }
        o += legend(series.map(\.name))
        return frame(o, xLabel: xLabel, yLabel: yLabel, title: title)
    }

    /// Grouped bars: one group per category, one bar per series; values in [0, yMax].
    /// `labels[s][c]` (optional) is printed above each bar.
    static func bars(categories: [String], series: [(name: String, values: [Double])], labels: [[String]]? = nil, xLabel: String, yLabel: String,
                     title: String, yMax: Double? = nil, yTickLabel: @escaping (Double) -> String = { abs($0 - $0.rounded()) < 1e-9 ? String(Int($0.rounded())) : num($0, 2) }) -> String {
        let (top, step) = yMax.map { ($0, $0 / 5) } ?? nice(max(1e-9, series.flatMap(\.values).filter(\.isFinite).max() ?? 1) * 1.08)
        let (ax, _, py) = axes(x0: 0, x1: 1, y0: 0, y1: top, xTicks: [], yTicks: stride(from: 0, through: top + step / 2, by: step).map { $0 }, yTickLabel: yTickLabel,
                               legendRows: series.count > 1 ? series.count : 0)
        var o = ax
        let groupW = (w - left - right) / Double(max(1, categories.count))
        let barW = groupW * 0.8 / Double(max(1, series.count))
        for (c, name) in categories.enumerated() {
            let gx = left + Double(c) * groupW + groupW * 0.1
            for (s, ser) in series.enumerated() where c < ser.values.count {
                let v = ser.values[c].isFinite ? ser.values[c] : 0
                let x = gx + Double(s) * barW
                o += "<rect x=\"\(f(x))\" y=\"\(f(py(v)))\" width=\"\(f(barW - 1))\" height=\"\(f(max(0, py(0) - py(v))))\" fill=\"\(palette[s % palette.count])\"><title>\(esc(ser.name)) \(esc(name)): \(esc(num(v, 3)))</title></rect>"
                if let l = labels?[s][c] { o += "<text x=\"\(f(x + barW / 2))\" y=\"\(f(py(v) - 3))\" text-anchor=\"middle\" font-size=\"9\">\(esc(l))</text>" }
            }
            o += "<text x=\"\(f(gx + groupW * 0.4))\" y=\"\(f(h - bottom + 16))\" text-anchor=\"middle\">\(esc(name))</text>"
        }
        if series.count > 1 { o += legend(series.map(\.name)) }
        return frame(o, xLabel: xLabel, yLabel: yLabel, title: title)
    }

    /// Histogram of values in `bins` equal bins over their range; several series overlaid as steps.
    static func histogram(_ series: [(name: String, values: [Double])], bins: Int = 20, xLabel: String, yLabel: String = "count", title: String) -> String {
        let all = series.flatMap(\.values).filter(\.isFinite)
        guard let lo = all.min(), let hi0 = all.max() else { return frame("<text x=\"200\" y=\"150\">no data</text>", xLabel: xLabel, yLabel: yLabel, title: title) }
        let hi = hi0 > lo ? hi0 : lo + 1
        let width = (hi - lo) / Double(bins)
        let counts = series.map { s -> [Int] in
            var c = [Int](repeating: 0, count: bins)
            for v in s.values where v.isFinite {
                let k = (v - lo) / width  // NaN or infinite only when the range underflows: first bin
                c[k.isFinite ? max(0, min(bins - 1, Int(min(k, Double(bins))))) : 0] += 1
            }
            return c
        }
        let (ymax, ystep) = nice(Double(max(1, counts.flatMap { $0 }.max() ?? 1)))
        let (ax, px, py) = axes(x0: lo, x1: hi, y0: 0, y1: ymax, xTicks: stride(from: lo, through: hi, by: (hi - lo) / 5).map { $0 },
                                yTicks: stride(from: 0, through: ymax + ystep / 2, by: max(1, ystep)).map { $0 }, xTickLabel: { num($0, 1) },
                                yTickLabel: { String(Int($0.rounded())) }, legendRows: series.count > 1 ? series.count : 0)
        var o = ax
        for (s, c) in counts.enumerated() {
            for (b, n) in c.enumerated() where n > 0 {
                let x0 = px(lo + Double(b) * width), x1 = px(lo + Double(b + 1) * width)
                o += "<rect x=\"\(f(x0))\" y=\"\(f(py(Double(n))))\" width=\"\(f(max(1, x1 - x0 - 1)))\" height=\"\(f(py(0) - py(Double(n))))\" fill=\"\(palette[s % palette.count])\" fill-opacity=\"\(series.count > 1 ? "0.6" : "1")\"><title>\(esc(series[s].name)): \(n) in [\(esc(num(lo + Double(b) * width, 2))), \(esc(num(lo + Double(b + 1) * width, 2))))</title></rect>"
            }
        }
        if series.count > 1 { o += legend(series.map(\.name)) }
        return frame(o, xLabel: xLabel, yLabel: yLabel, title: title)
    }
}

func figure(_ svg: String, caption: String) -> String { "<figure>\(svg)<figcaption>\(esc(caption))</figcaption></figure>" }
