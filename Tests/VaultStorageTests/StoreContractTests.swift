import XCTest
import VaultCore
import VaultStorage
import VaultTesting

/// Every store passes the one contract suite.
final class StoreContractTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    private var counter = 0
    private func freshPath() -> String { counter += 1; return dir.sub("store-\(counter)") }

    func testLocalStore() throws {
        let failures = StoreContract.run { LocalStore(root: self.freshPath()) }
        XCTAssertEqual(failures, [])
    }

    func testMemoryStore() throws {
        XCTAssertEqual(StoreContract.run { MemoryStore() }, [])
        XCTAssertEqual(StoreContract.run(largeSize: 1 << 20) { MemoryStore(pageSize: 1) }, [], "one file a page")
    }

    /// Retrying(Faulty(Local)): transient faults, some after the call took effect, all absorbed by the retries.
    func testWrappedStackAbsorbsTransientFaults() throws {
        let timer = ManualStoreTimer()
        var faulties: [FaultyStore] = []
        let failures = StoreContract.run {
            let faulty = FaultyStore(LocalStore(root: self.freshPath()), timer: timer)
            for n in stride(from: 2, to: 400, by: 5) {
                faulty.fail(.save, call: n, afterEffect: n % 2 == 0)
                faulty.fail(.load, call: n)
                faulty.fail(.loadRange, call: n, times: 2)
                faulty.fail(.stat, call: n)
                faulty.fail(.list, call: n)
                faulty.fail(.createIfAbsent, call: n)   // before the effect: a lost reply would hide the winner
                faulty.fail(.remove, call: n, afterEffect: true)
            }
            faulties.append(faulty)
            return RetryingStore(faulty, policy: RetryPolicy(maxAttempts: 4, baseDelay: 0.01), timer: timer)
        }
        XCTAssertEqual(failures, [])
        XCTAssertGreaterThan(timer.sleeps.count, 20, "the faults were injected and retried")
        XCTAssertGreaterThan(faulties.map { $0.calls(.save) }.reduce(0, +), 100)
    }

    /// The stack the factory builds for a local path, with every wrapper switched on.
    func testFactoryStack() throws {
        let lines = LockedLines()
        let options = StoreOptions(limitUploadKiB: 1 << 20, limitDownloadKiB: 1 << 20, debugLog: { lines.add($0) },
                                   timer: ManualStoreTimer())
        XCTAssertEqual(StoreContract.run(largeSize: 4 << 20) { try StoreFactory.open(self.freshPath(), options: options) }, [])
        XCTAssertTrue(lines.all.contains { $0.hasPrefix("store: save ") }, "the debug log saw the calls")
    }

    /// The suite finds a store that breaks the contract (here: truncated reads, a listing that hides files).
    func testContractCatchesABrokenStore() throws {
        let failures = StoreContract.run(only: ["saveLoadStat", "rangedLoad"]) {
            let f = FaultyStore(MemoryStore())
            f.truncate(.load, call: 1, keep: 10)
            f.truncate(.loadRange, call: 2, keep: 3)
            return f
        }
        XCTAssertEqual(failures.count, 2, "\(failures)")
        XCTAssertTrue(failures.contains { $0.hasPrefix("saveLoadStat: config read back differs") }, "\(failures)")
        XCTAssertTrue(failures.contains { $0.hasPrefix("rangedLoad: a middle range differs") }, "\(failures)")
    }
}

/// Lines collected from a logging store.
final class LockedLines: @unchecked Sendable {
    // @unchecked: `lines` is only touched under `lock`.
    private let lock = Mutex()
    private var lines: [String] = []
    func add(_ s: String) { lock.withLock { lines.append(s) } }
    var all: [String] { lock.withLock { lines } }
}
