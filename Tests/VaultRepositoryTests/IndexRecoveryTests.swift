import XCTest
import VaultCore
import VaultCrypto
import VaultStorage
import VaultTesting
@testable import VaultRepository

/// A damaged or incomplete index must not make intact data unreadable: loading goes on without the
/// damaged file (naming it once) and blobs missing from the index are found in the pack headers.
final class IndexRecoveryTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory() }
    override func tearDown() { dir.remove() }

    /// Two writer sessions, so two index files: returns the blobs of each.
    func twoSessions(_ repo: Repository) throws -> (first: [ID: [UInt8]], second: [ID: [UInt8]]) {
        var rng = SeededRandom(seed: 11)
        var out: [[ID: [UInt8]]] = []
        for _ in 0..<2 {
            let w = BlobWriter(repository: repo, packTargetSize: 1 << 20)
            var blobs: [ID: [UInt8]] = [:]
            for _ in 0..<6 { let b = rng.bytes(300_000); blobs[try w.save(.data, b).id] = b }
            try w.flush()
            out.append(blobs)
        }
        return (out[0], out[1])
    }

    func testDamagedIndexFileIsSkippedNamedOnceAndItsBlobsStillLoad() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let (first, second) = try twoSessions(repo)
        let files = try repo.store.list(.index).map(\.name)
        XCTAssertEqual(files.count, 2)
        // Damage the index file that lists the second session's blobs.
        let fresh = try TestRepository.open(at: path)
        let victim = try XCTUnwrap(files.first { name in
            let packs = (try? IndexFormat.decode(try fresh.loadSealed(.index, name), name: name)) ?? []
            return packs.contains { p in p.1.contains { second[$0.id] != nil } }
        })
        let file = (repo.store as! LocalStore).path(Handle(.index, victim))
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: file))

        let reopened = try Repository.open(store: LocalStore(root: path), password: TestRepository.password, clock: SystemClock())
        let warnings = WarningLog()
        reopened.setWarningHandler { warnings.add($0) }
        XCTAssertNoThrow(try reopened.loadIndex(), "a damaged index file must not stop loading")
        XCTAssertEqual(reopened.damagedIndexFiles.map(\.name), [victim])
        XCTAssertEqual(warnings.lines.count, 1, "\(warnings.lines)")
        XCTAssertTrue(warnings.lines[0].contains("index/\(victim)") && warnings.lines[0].contains("sitevault repair index"), warnings.lines[0])
        for (id, b) in first { XCTAssertEqual(try reopened.loadBlob(id), b) }
        for (id, b) in second { XCTAssertEqual(try reopened.loadBlob(id), b, "found through the pack header") }
        // Loading again does not repeat the warning.
        try reopened.loadIndex()
        XCTAssertEqual(warnings.lines.count, 1)
        // A blob that is really missing still fails, as damage.
        XCTAssertThrowsError(try reopened.loadBlob(ID(bytes: Array(repeating: 9, count: 32)))) {
            XCTAssertEqual(($0 as? VaultError)?.code, .damaged)
        }
    }

    func testIndexWithoutOnePacksEntriesStillFindsThem() throws {
        let path = dir.sub("repo")
        let repo = try TestRepository.create(at: path)
        let (first, _) = try twoSessions(repo)
        let dropped = try dropOnePack(repo)
        let reopened = try TestRepository.open(at: path)
        XCTAssertTrue(reopened.damagedIndexFiles.isEmpty)
        XCTAssertFalse(reopened.index.packs.contains(dropped), "the pack is no longer indexed")
        for (id, b) in first { XCTAssertEqual(try reopened.loadBlob(id), b) }
        let scan = try reopened.scanUnindexedPacks()
        XCTAssertEqual(scan.packs.map(\.pack), [dropped])
        XCTAssertNotNil(scan.packs.first?.entries)
    }

    /// Rewrites the index file holding the first pack without that pack's entries; returns the pack.
    func dropOnePack(_ repo: Repository) throws -> ID {
        for name in try repo.store.list(.index).map(\.name).sorted() {
            var packs = try IndexFormat.decode(try repo.loadSealed(.index, name), name: name)
            guard packs.count > 1 else { continue }
            let gone = packs.removeFirst().0
            try repo.saveSealed(.index, IndexFormat.encode(packs))
            try repo.store.remove(Handle(.index, name))
            return gone
        }
        throw XCTSkip("no index file lists two packs")
    }
}

/// Warnings collected from a repository's handler.
final class WarningLog: @unchecked Sendable {
    // @unchecked: `lines` is guarded by `mutex`.
    private let mutex = Mutex()
    private var _lines: [String] = []
    func add(_ s: String) { mutex.withLock { _lines.append(s) } }
    var lines: [String] { mutex.withLock { _lines } }
}
