import Foundation

/// A one-line progress bar with rate and ETA on a terminal; silent otherwise.
struct ProgressBar {
    let total: Int
    let label: String
    let unit: String
    let enabled: Bool
    let start = Date()
    var lastDraw = Date.distantPast

    init(total: Int, label: String, unit: String = "it") {
        self.total = total; self.label = label; self.unit = unit
        enabled = isatty(STDERR_FILENO) != 0
    }

    mutating func update(_ done: Int, extra: String = "", force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || done >= total || now.timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let frac = total > 0 ? Double(done) / Double(total) : 0
        let width = 24
        let filled = Int(frac * Double(width))
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = "\r\(label) [\(bar)] \(done)/\(total) \(String(format: "%.1f", rate)) \(unit)/s ETA \(formatDuration(eta)) \(extra)"
        FileHandle.standardError.write(Data(line.utf8) + Data("\u{1B}[K".utf8))
        if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func formatDuration(_ s: Double) -> String {
    if !s.isFinite { return "?" }
    let t = Int(s.rounded())
    if t >= 3600 { return "\(t / 3600)h\(String(format: "%02d", (t % 3600) / 60))m" }
    if t >= 60 { return "\(t / 60)m\(String(format: "%02d", t % 60))s" }
    return "\(t)s"
}

/// A progress bar that worker threads may update.
final class SharedProgressBar: @unchecked Sendable {
    private var bar: ProgressBar
    private let lock = NSLock()
    init(total: Int, label: String, unit: String) { bar = ProgressBar(total: total, label: label, unit: unit) }
    func update(_ done: Int) { lock.lock(); bar.update(done); lock.unlock() }
}
