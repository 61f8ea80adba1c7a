#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SiteSystem
import VaultCore

final class ProcessTimeoutTests: XCTestCase {
    func testTimeoutKillsChildAndGrandchild() throws {
        let dir = makeTemporaryDirectory()
        defer { removeTree(dir) }
        let start = monotonicSeconds()
        let r = try ProcessRunner().run(Command(["/bin/sh", "-c", "sleep 100 & echo $! > \"$1\"; echo started; sleep 100", "sh", "\(dir)/pid"],
                                                timeout: 0.5))
        let elapsed = monotonicSeconds() - start
        XCTAssertTrue(r.timedOut)
        XCTAssertFalse(r.succeeded)
        XCTAssertEqual(r.signal, SIGTERM)
        XCTAssertEqual(r.stdoutText, "started")
        XCTAssertEqual(r.summary, "timed out after 0.5 s")
        XCTAssertGreaterThanOrEqual(elapsed, 0.5)
        XCTAssertLessThan(elapsed, 5)
        let grandchild = pid_t(readText("\(dir)/pid")!.split(separator: "\n")[0])!
        XCTAssertTrue(eventually { isDead(grandchild) }, "the grandchild in the process group was killed too")
        XCTAssertTrue(childProcesses().isEmpty)
    }

    func testSIGKILLAfterGraceWhenSIGTERMIsIgnored() throws {
        let runner = ProcessRunner(killGrace: 0.5)
        let start = monotonicSeconds()
        let r = try runner.run(sh("trap '' TERM; echo stubborn >&2; sleep 100", timeout: 0.3))
        let elapsed = monotonicSeconds() - start
        XCTAssertTrue(r.timedOut)
        XCTAssertEqual(r.signal, SIGKILL)
        XCTAssertEqual(r.summary, "timed out after 0.3 s: stubborn")
        XCTAssertGreaterThanOrEqual(elapsed, 0.8)
        XCTAssertLessThan(elapsed, 5)
    }

    func testStreamingTimeout() throws {
        var received = 0
        let r = try ProcessRunner().runStreaming(sh("echo partial; sleep 100", timeout: 0.3)) { received += $0.count }
        XCTAssertTrue(r.timedOut)
        XCTAssertEqual(received, 8)
    }

    func testFinishingInTimeIsNotATimeout() throws {
        let r = try ProcessRunner().run(sh("echo fast", timeout: 30))
        XCTAssertFalse(r.timedOut)
        XCTAssertTrue(r.succeeded)
        XCTAssertLessThan(r.duration, 5)
    }

    func testTerminateAndDroppedHandle() throws {
        let runner = ProcessRunner(killGrace: 0.3)
        let p = try runner.spawn(sh("sleep 100"))
        p.terminate()
        let r = p.wait()
        XCTAssertEqual(r.signal, SIGTERM)
        XCTAssertFalse(r.timedOut)
        // A handle dropped without wait() still ends and reaps its child.
        var pid: pid_t = 0
        do {
            let q = try runner.spawn(sh("sleep 100"))
            pid = q.pid
        }
        XCTAssertNil(processState(pid))
        XCTAssertTrue(childProcesses().isEmpty)
    }
}
