// Self-contained HTML pages: one file, inline CSS, inline SVG, a few lines of inline script (table
// sorting), no network. Every string that comes from a corpus, a model or a report goes through
// `esc` (text and attribute contexts alike), so a hostile e-mail address cannot inject markup.

import Foundation

/// HTML-escapes text for element content and quoted attribute values.
public func esc(_ s: String) -> String {
    var o = ""
    o.reserveCapacity(s.utf8.count)
    for c in s.unicodeScalars {
        switch c {
        case "&": o += "&amp;"
        case "<": o += "&lt;"
        case ">": o += "&gt;"
        case "\"": o += "&quot;"
        case "'": o += "&#39;"
        default:
            // control characters other than tab/newline would make the document invalid
            if c.value < 0x20 && c != "\n" && c != "\t" { o += "&#xFFFD;" } else { o.unicodeScalars.append(c) }
        }
    }
    return o
}

/// Formats a number for display; nil, NaN and infinities are shown as such.
func num(_ x: Double?, _ digits: Int = 3) -> String {
    guard let x else { return "–" }
    if x.isNaN { return "n/a" }
    if x.isInfinite { return x > 0 ? "∞" : "−∞" }
    return String(format: "%.\(digits)f", x)
}

func pct(_ x: Double) -> String { x.isFinite ? String(format: "%.1f%%", 100 * x) : "n/a" }

/// A page: title, sections of pre-escaped HTML.
struct Page {
    var title: String
    var body: [String] = []
    mutating func add(_ html: String) { body.append(html) }

    func render() -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
        <title>\(esc(title))</title>
        <style>\(Page.css)</style></head>
        <body>
        <h1>\(esc(title))</h1>
        \(body.joined(separator: "\n"))
        <script>\(Page.script)</script>
        </body></html>
        """
    }

    static let css = """
    body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
    h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
    .summary{background:#f5f7fa;border-left:4px solid #4a6fa5;padding:.8em 1.2em}
    .verdict-bad{color:#a4262c;font-weight:600}.verdict-ok{color:#2d6a2d;font-weight:600}.verdict-warn{color:#8a5a00;font-weight:600}
    table{border-collapse:collapse;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
    th{background:#f0f0f0;cursor:pointer;user-select:none}td.l,th.l{text-align:left}
    th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
    .charts{display:flex;flex-wrap:wrap;gap:1.5em}figure{margin:0}figcaption{font-size:.85em;color:#555;max-width:460px}
    svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#333}
    .note{font-size:.85em;color:#555}code{background:#f3f3f3;padding:0 .2em}
    """

    /// Click a header of a `table.sortable` to sort by that column (numbers numerically, using
    /// each cell's data-v when present). Sets data-shallot-ready on <body> when it has run, and
    /// records script errors in data-shallot-errors (the headless-browser test reads both).
    static let script = """
    (function(){
      window.addEventListener('error', function(e){ document.body.setAttribute('data-shallot-errors', String(e.message)); });
      function key(td){ var v = td.getAttribute('data-v'); if (v === null) v = td.textContent; var n = parseFloat(v); return isNaN(n) ? v.toLowerCase() : n; }
      document.querySelectorAll('table.sortable').forEach(function(t){
        t.querySelectorAll('th').forEach(function(th, col){
          th.addEventListener('click', function(){
            var asc = !th.classList.contains('sorted-asc');
            t.querySelectorAll('th').forEach(function(h){ h.classList.remove('sorted-asc', 'sorted-desc'); });
            th.classList.add(asc ? 'sorted-asc' : 'sorted-desc');
            var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows);
            rows.sort(function(a, b){ var x = key(a.cells[col]), y = key(b.cells[col]);
              if (typeof x !== typeof y) { x = String(x); y = String(y); }
              return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
            rows.forEach(function(r){ body.appendChild(r); });
          });
        });
      });
      var first = document.querySelector('table.sortable th');
      if (first) { first.click(); first.click(); }
      document.body.setAttribute('data-shallot-ready', '1');
    })();
    """
}

/// A table; `sortable` adds click-to-sort. Cells are pre-escaped HTML; `numeric` cells align right.
func table(_ headers: [String], _ rows: [[(html: String, sortKey: String?)]], sortable: Bool = false, leftColumns: Set<Int> = [0]) -> String {
    var o = "<table\(sortable ? " class=\"sortable\"" : "")><thead><tr>"
    for (i, h) in headers.enumerated() { o += "<th\(leftColumns.contains(i) ? " class=\"l\"" : "")>\(esc(h))</th>" }
    o += "</tr></thead><tbody>\n"
    for r in rows {
        o += "<tr>"
        for (i, c) in r.enumerated() {
            let cls = leftColumns.contains(i) ? " class=\"l\"" : ""
            let dv = c.sortKey.map { " data-v=\"\(esc($0))\"" } ?? ""
            o += "<td\(cls)\(dv)>\(c.html)</td>"
        }
        o += "</tr>\n"
    }
    return o + "</tbody></table>"
}

/// A plain text cell.
func cell(_ s: String, sort: String? = nil) -> (html: String, sortKey: String?) { (esc(s), sort) }
/// A numeric cell (sorted by value).
func cell(_ x: Double?, _ digits: Int = 3) -> (html: String, sortKey: String?) { (esc(num(x, digits)), x.map { $0.isFinite ? "\($0)" : ($0 > 0 ? "1e308" : "-1e308") } ?? "-1e308") }
func cell(_ n: Int) -> (html: String, sortKey: String?) { ("\(n)", "\(n)") }
