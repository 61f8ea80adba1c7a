import Foundation
import VaultCore
import XCTest

/// `Workers.run` gives every worker its own thread at once (what remote readers need), whatever the
/// number of cores: eight workers that each wait for all eight to have started all get there.
final class WorkersTests: XCTestCase {
    func testEveryWorkerRunsAtTheSameTime() {
        let n = 8
        let started = Locked(Set<Int>())
        let allMet = Locked(0)
        Workers.run(n) { i in
            started.withLock { _ = $0.insert(i) }
            let deadline = Date().addingTimeInterval(20)
            while started.current.count < n && Date() < deadline { usleep(1000) }
            if started.current.count == n { allMet.withLock { $0 += 1 } }
        }
        XCTAssertEqual(started.current, Set(0..<n), "every index ran once")
        XCTAssertEqual(allMet.current, n, "all \(n) workers were running at the same time (this machine has \(ProcessInfo.processInfo.activeProcessorCount) cores)")
    }

    func testZeroAndOneWorkers() {
        let calls = Locked([Int]())
        Workers.run(0) { i in calls.withLock { $0.append(i) } }
        XCTAssertEqual(calls.current, [])
        Workers.run(1) { i in calls.withLock { $0.append(i) } }
        XCTAssertEqual(calls.current, [0])
    }
}
