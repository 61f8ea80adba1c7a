import XCTest
import VaultCore
import VaultStorage

/// The wrappers: retries, faults, rate limits, the debug log — all on a fake clock, no real waiting.
final class WrapperTests: XCTestCase {
    let h = Handle(.data, String(repeating: "ab", count: 32))

    func testRetryAbsorbsTransientFaultsWithGrowingJitteredWaits() throws {
        let timer = ManualStoreTimer()
        let faulty = FaultyStore(MemoryStore(), timer: timer)
        faulty.fail(.save, call: 1, times: 4)
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 5), timer: timer,
                                  random: { 0.5 })
        try store.save(h, bytes: [1, 2])
        XCTAssertEqual(faulty.calls(.save), 5)
        XCTAssertEqual(timer.sleeps, [0.75, 1.5, 3, 3.75], "exponential (1, 2, 4, capped at 5) with equal jitter at 0.5")
        XCTAssertEqual(try store.load(h), [1, 2])
    }

    func testRetryGivesUpAndNeverRetriesPermanentOrNotFound() throws {
        let timer = ManualStoreTimer()
        let faulty = FaultyStore(MemoryStore(), timer: timer)
        faulty.fail(.save, call: 1, times: 10)
        let store = RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 3), timer: timer)
        XCTAssertThrowsError(try store.save(h, bytes: [1])) { XCTAssertEqual(StoreErrorClass.of($0), .transient) }
        XCTAssertEqual(faulty.calls(.save), 3, "bounded attempts")
        faulty.fail(.remove, call: 1, with: VaultError(.noSpace, "full"))
        XCTAssertThrowsError(try store.remove(h)) { XCTAssertEqual(StoreErrorClass.of($0), .permanent) }
        XCTAssertEqual(faulty.calls(.remove), 1, "a permanent error is not repeated")
        XCTAssertThrowsError(try store.load(h)) { XCTAssertEqual(StoreErrorClass.of($0), .notFound) }
        XCTAssertEqual(faulty.calls(.load), 1, "not found is not repeated")
        XCTAssertEqual(timer.sleeps.count, 2)
    }

    func testRetriedListingDeliversEachFileOnce() throws {
        let memory = MemoryStore(pageSize: 2)
        for i in 0..<5 { try memory.save(Handle(.index, "n\(i)"), bytes: [UInt8(i)]) }
        let faulty = FaultyStore(memory, timer: ManualStoreTimer())
        // The first listing fails after its effect (every file delivered), as a connection reset at the end would.
        faulty.fail(.list, call: 1, afterEffect: true)
        var seen: [String] = []
        try RetryingStore(faulty, timer: ManualStoreTimer()).list(.index) { seen.append($0.name); return true }
        XCTAssertEqual(seen.sorted(), ["n0", "n1", "n2", "n3", "n4"])
        XCTAssertEqual(faulty.calls(.list), 2)
    }

    func testFaultyStoreFailsTheNthCallTruncatesAndDelays() throws {
        let timer = ManualStoreTimer()
        let memory = MemoryStore()
        let faulty = FaultyStore(memory, timer: timer)
        faulty.fail(.save, call: 2, with: VaultError(.io, "boom"), afterEffect: true)
        faulty.fail(.createIfAbsent, call: 1)
        faulty.truncate(.load, call: 2, keep: 1)
        faulty.delay(.stat, seconds: 2.5)
        try faulty.save(h, bytes: [1, 2, 3])
        XCTAssertThrowsError(try faulty.save(Handle(.keys, "k"), bytes: [9])) { XCTAssertEqual(($0 as? VaultError)?.code, .io) }
        XCTAssertEqual(try memory.load(Handle(.keys, "k")), [9], "after the effect: the file is there although the call failed")
        XCTAssertThrowsError(try faulty.createIfAbsent(Handle(.locks, "l"), bytes: [1]))
        XCTAssertFalse(try memory.exists(Handle(.locks, "l")), "before the effect: nothing was created")
        XCTAssertEqual(try faulty.load(h), [1, 2, 3])
        XCTAssertEqual(try faulty.load(h), [1])
        XCTAssertEqual(try faulty.stat(h).size, 3)
        XCTAssertEqual(timer.sleeps, [2.5])
        XCTAssertEqual(faulty.calls(.save), 2)
    }

    func testRateLimitsCountBytesOverAFakeClock() throws {
        let timer = ManualStoreTimer()
        let kib = 100
        let store = RateLimitedStore(MemoryStore(), upload: TokenBucket(bytesPerSecond: Double(kib * 1024), timer: timer),
                                     download: TokenBucket(bytesPerSecond: Double(kib * 1024), timer: timer))
        let chunk = [UInt8](repeating: 7, count: 64 * 1024)
        for i in 0..<16 { try store.save(Handle(.data, "up\(i)"), bytes: chunk) }   // 1 MiB up
        let up = timer.sleeps.reduce(0, +)
        // 1024 KiB at 100 KiB/s, less the 64 KiB burst and the last chunk whose debt nobody waits for: about 9 s.
        XCTAssertGreaterThan(up, 8, "\(timer.sleeps)")
        XCTAssertLessThan(up, 10.5, "\(timer.sleeps)")
        timer.advance(100)   // the bucket refills (up to its burst)
        let before = timer.sleeps.count
        for i in 0..<16 { _ = try store.load(Handle(.data, "up\(i)")) }
        let down = timer.sleeps.dropFirst(before).reduce(0, +)
        XCTAssertGreaterThan(down, 8); XCTAssertLessThan(down, 10.5)
        let unlimited = RateLimitedStore(MemoryStore(), upload: nil, download: nil)
        let count = timer.sleeps.count
        try unlimited.save(h, bytes: chunk)
        XCTAssertEqual(timer.sleeps.count, count, "no limit, no wait")
    }

    func testLoggingStoreLogsEachCallWithItsOutcome() throws {
        let lines = LockedLines()
        let store = LoggingStore(MemoryStore(), timer: ManualStoreTimer()) { lines.add($0) }
        try store.save(h, bytes: [1, 2, 3])
        _ = try? store.load(Handle(.keys, "missing"))
        XCTAssertEqual(try store.createIfAbsent(h, bytes: [1]), false)
        XCTAssertEqual(lines.all.count, 3, "\(lines.all)")
        XCTAssertEqual(lines.all[0], "store: save data/\(h.name) 3 bytes: ok in 0 ms")
        XCTAssertTrue(lines.all[1].hasPrefix("store: load keys/missing: notFound error"), lines.all[1])
        XCTAssertTrue(lines.all[2].contains("exists: ok"), lines.all[2])
        XCTAssertFalse(lines.all.joined().contains("\u{1}\u{2}\u{3}"), "contents are never logged")
    }
}
