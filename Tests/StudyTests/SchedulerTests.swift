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

/// Runs `body` on a thread; fails the test if it does not return within `seconds` (a deadlock).
func finishes(within seconds: Double, _ body: @escaping @Sendable () -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
    let done = DispatchSemaphore(value: 0)
    Thread { body(); done.signal() }.start()
    #expect(done.wait(timeout: .now() + seconds) == .success, "did not finish within \(seconds) s", sourceLocation: sourceLocation)
}

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
        let background = (0..<4).map { _ in s.spawn(priority: JobScheduler.background) { bg.busy("b", 0.1) } }
        Thread.sleep(forTimeInterval: 0.02)
        let urgent = (0..<4).map { _ in s.spawn(priority: JobScheduler.urgent) { g.busy("u", 0.05) } }
        for f in urgent { try f.wait() }
        #expect(bg.peak == 1, "background held \(bg.peak) slots of 2 while urgent work waited")
        s.noMoreUrgentWork()
        for f in background { try f.wait() }
    }

    @Test func urgentWorkQueuedFirstIsServedFirst() throws {
        let s = JobScheduler(width: 1), g = Gauge()
        let first = s.spawn(priority: JobScheduler.urgent) { g.busy("u1") }
        let bgJob = s.spawn(priority: JobScheduler.background) { g.busy("b") }
        let second = s.spawn(priority: JobScheduler.urgent) { g.busy("u2") }
        try first.wait(); try second.wait(); try bgJob.wait()
        #expect(g.log == ["u1", "u2", "b"])
    }

    @Test(arguments: [1, 2])
    func nestedWorkAndWaitsDoNotDeadlock(width: Int) {
        let s = JobScheduler(width: width)
        finishes(within: 20) {
            let outer = (0..<3).map { i in
                s.spawn(priority: JobScheduler.background) { () -> Int in
                    let inner = try s.run((0..<3).map { j in { Thread.sleep(forTimeInterval: 0.01); return i * 10 + j } })
                    return inner.reduce(0, +)
                }
            }
            let mine = try? s.run([{ try outer[0].wait() }, { try outer[1].wait() + outer[2].wait() }])
            #expect(mine == [3, 33 + 63])
        }
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
