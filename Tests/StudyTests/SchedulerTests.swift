// The study's job scheduler (JobScheduler, Sources/Study/Jobs.swift): at most `width` jobs
// compute at once, background work leaves a slot to urgent work while rounds remain, nested
// work and waits cannot deadlock it (width 1 included), one key never runs twice at once, and a
// failure comes back after every task has run.

import Foundation
import Testing
@testable import Study

/// Counts jobs running at once and remembers the most.
final class Gauge: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 0, most = 0
    private(set) var log: [String] = []
    func enter(_ s: String = "") { lock.lock(); now += 1; most = max(most, now); if !s.isEmpty { log.append(s) }; lock.unlock() }
    func leave() { lock.lock(); now -= 1; lock.unlock() }
    var peak: Int { lock.lock(); defer { lock.unlock() }; return most }
    func busy(_ s: String = "", _ seconds: Double = 0.05) { enter(s); Thread.sleep(forTimeInterval: seconds); leave() }
}

/// Runs `body` on a thread and returns its result; nil (and a failed test) if it does not return
/// within `seconds` (a deadlock).
func finishes<T>(within seconds: Double, _ body: @escaping @Sendable () -> T, sourceLocation: SourceLocation = #_sourceLocation) -> T? {
    let done = DispatchSemaphore(value: 0)
    let box = Box<T>()
    Thread { box.value = body(); done.signal() }.start()
    let ok = done.wait(timeout: .now() + seconds) == .success
    #expect(ok, "did not finish within \(seconds) s", sourceLocation: sourceLocation)
    return ok ? box.value : nil
}

final class Box<T>: @unchecked Sendable { var value: T? }

@Suite struct SchedulerTests {
    @Test(arguments: [1, 2, 3])
    func atMostWidthAtOnceResultsInOrder(width: Int) throws {
        let s = JobScheduler(width: width), g = Gauge()
        let out = try s.run((0..<8).map { i in { g.busy(); return i * i } })
        #expect(out == (0..<8).map { $0 * $0 })
        #expect(g.peak <= width && (width == 1 || g.peak >= 2), "peak \(g.peak) at width \(width)")
    }

    @Test func backgroundLeavesASlotWhileRoundsRemain() throws {
        let s = JobScheduler(width: 2), g = Gauge(), bg = Gauge()
        let started = DispatchSemaphore(value: 0)
        // Four background jobs, nothing urgent yet: still only one runs at a time.
        let background = (0..<4).map { _ in s.spawn(priority: JobScheduler.background) { started.signal(); bg.busy("b", 0.3) } }
        started.wait()
        Thread.sleep(forTimeInterval: 0.05)
        #expect(bg.peak == 1, "background took \(bg.peak) of 2 slots while rounds remain")
        // Urgent work gets the free slot at once, while the background job still runs.
        let t0 = Date()
        try s.spawn(priority: JobScheduler.urgent) { g.busy("u", 0.01) }.wait()
        #expect(Date().timeIntervalSince(t0) < 0.15, "the urgent job waited for a background job")
        #expect(bg.peak == 1)
        s.noMoreUrgentWork()
        for f in background { try f.wait() }
    }

    @Test func urgentWorkQueuedFirstIsServedFirst() throws {
        let s = JobScheduler(width: 1), g = Gauge()
        let gate = DispatchSemaphore(value: 0)
        let first = s.spawn(priority: JobScheduler.urgent) { gate.wait(); g.busy("u1") }
        let bgJob = s.spawn(priority: JobScheduler.background) { g.busy("b") }
        let second = s.spawn(priority: JobScheduler.urgent) { g.busy("u2") }
        gate.signal()   // all three are queued before the first can finish
        try first.wait(); try second.wait(); try bgJob.wait()
        #expect(g.log == ["u1", "u2", "b"])
    }

    @Test(arguments: [1, 2])
    func nestedWorkAndWaitsDoNotDeadlock(width: Int) {
        let s = JobScheduler(width: width)
        let mine = finishes(within: 20) { () -> [Int]? in
            let outer = (0..<3).map { i in
                s.spawn(priority: JobScheduler.background) { () -> Int in
                    let inner = try s.run((0..<3).map { j in { Thread.sleep(forTimeInterval: 0.01); return i * 10 + j } })
                    return inner.reduce(0, +)
                }
            }
            return try? s.run([{ try outer[0].wait() }, { try outer[1].wait() + outer[2].wait() }])
        }
        #expect(mine == .some([3, 33 + 63]))
    }

    @Test func oneKeyNeverRunsTwiceAtOnce() throws {
        let s = JobScheduler(width: 3), g = Gauge(), other = Gauge()
        _ = try s.run((0..<6).map { i in { s.exclusive(i % 2 == 0 ? "train:a" : "train:b") { (i % 2 == 0 ? g : other).busy("", 0.03) } } })
        #expect(g.peak == 1 && other.peak == 1)
    }

    struct Boom: Error, Equatable { let i: Int }

    @Test func everyTaskRunsThenTheFirstFailureIsThrown() {
        let s = JobScheduler(width: 2), g = Gauge()
        #expect(throws: Boom(i: 1)) {
            _ = try s.run((0..<5).map { i in { g.busy("\(i)", 0.01); if i == 1 || i == 3 { throw Boom(i: i) }; return i } })
        }
        #expect(g.log.count == 5)
    }
}
