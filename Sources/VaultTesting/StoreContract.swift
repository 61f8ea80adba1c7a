import Foundation
import VaultCore
import VaultStorage

/// The storage contract test suite: every `BlobStore` must pass it (local, in-memory, the wrapped
/// stack, and later S3 and SFTP). `run` returns the failures, one line each, so a test asserts
/// `XCTAssertEqual(failures, [])` and sees every broken rule at once.
public struct StoreContract {
    /// Makes a fresh, empty store for each check (its layout not yet created).
    public let makeStore: () throws -> BlobStore
    /// The size of the large object (64 MiB by default).
    public var largeSize: Int
    var failures: [String] = []

    public init(largeSize: Int = 64 << 20, makeStore: @escaping () throws -> BlobStore) {
        self.makeStore = makeStore; self.largeSize = largeSize
    }

    /// The names of the checks, in the order `run` makes them.
    public static let checks = [
        "saveLoadStat", "rangedLoad", "notFound", "resave", "list", "listStops", "remove", "createIfAbsent",
        "createIfAbsentRace", "concurrentWriters", "listWhileWriting", "pending", "large",
    ]

    /// Runs every check (or those named in `only`) and returns the failures.
    public static func run(largeSize: Int = 64 << 20, only: Set<String>? = nil,
                           makeStore: @escaping () throws -> BlobStore) -> [String] {
        var c = StoreContract(largeSize: largeSize, makeStore: makeStore)
        for name in checks where only?.contains(name) ?? true {
            do {
                let store = try makeStore()
                try store.createLayout()
                try c.check(name, store)
            } catch {
                c.failures.append("\(name): unexpected error \(error)")
            }
        }
        return c.failures
    }

    mutating func expect(_ ok: Bool, _ check: String, _ what: @autoclosure () -> String) {
        if !ok { failures.append("\(check): \(what())") }
    }

    mutating func expectClass(_ cls: StoreErrorClass, _ check: String, _ what: String, _ body: () throws -> Void) {
        do { try body(); failures.append("\(check): \(what) did not throw") } catch {
            let got = StoreErrorClass.of(error)
            expect(got == cls, check, "\(what) threw \(got) (\(error)), expected \(cls)")
        }
    }

    /// A 64-hex-digit name, as packs, snapshots and index files have.
    public static func name(_ i: Int, _ salt: String = "") -> String { hexName("\(salt)-\(i)") }

    /// Bytes that differ at every position from another seed's.
    public static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &* 7 &+ ($0 >> 8)) }
    }

    mutating func check(_ name: String, _ s: BlobStore) throws {
        switch name {
        case "saveLoadStat": try saveLoadStat(s)
        case "rangedLoad": try rangedLoad(s)
        case "notFound": try notFound(s)
        case "resave": try resave(s)
        case "list": try list(s)
        case "listStops": try listStops(s)
        case "remove": try remove(s)
        case "createIfAbsent": try createIfAbsent(s)
        case "createIfAbsentRace": try createIfAbsentRace(s)
        case "concurrentWriters": try concurrentWriters(s)
        case "listWhileWriting": try listWhileWriting(s)
        case "pending": try pending(s)
        case "large": try large(s)
        default: failures.append("unknown check \(name)")
        }
    }

    mutating func saveLoadStat(_ s: BlobStore) throws {
        let c = "saveLoadStat"
        let config = Self.bytes(300, seed: 1), data = Self.bytes(5000, seed: 2), empty: [UInt8] = []
        try s.save(Handle(.config, ""), bytes: config)
        try s.save(Handle(.data, Self.name(1)), bytes: data)
        try s.save(Handle(.keys, Self.name(2)), bytes: empty)
        expect(try s.load(Handle(.config, "")) == config, c, "config read back differs")
        expect(try s.load(Handle(.data, Self.name(1))) == data, c, "data file read back differs")
        expect(try s.load(Handle(.keys, Self.name(2))) == empty, c, "an empty file read back is not empty")
        expect(try s.stat(Handle(.data, Self.name(1))).size == 5000, c, "stat size is not 5000")
        expect(try s.stat(Handle(.data, Self.name(1))).name == Self.name(1), c, "stat name differs")
        expect(try s.exists(Handle(.config, "")), c, "the config does not exist after save")
        expect(try s.list(.config).map(\.size) == [300], c, "listing config does not give its one file")
    }

    mutating func rangedLoad(_ s: BlobStore) throws {
        let c = "rangedLoad"
        let h = Handle(.data, Self.name(3))
        let data = Self.bytes(10_000, seed: 3)
        try s.save(h, bytes: data)
        expect(try s.load(h, offset: 0, length: 10) == Array(data[0..<10]), c, "the first 10 bytes differ")
        expect(try s.load(h, offset: 4321, length: 1000) == Array(data[4321..<5321]), c, "a middle range differs")
        expect(try s.load(h, range: 9990..<10_000) == Array(data[9990...]), c, "the last 10 bytes differ")
        expect(try s.load(h, offset: 10_000, length: 0) == [], c, "an empty range at the end is not empty")
        expectClass(.permanent, c, "a range past the end") { _ = try s.load(h, offset: 9990, length: 20) }
        do { _ = try s.load(h, offset: 9990, length: 20) } catch let e as VaultError {
            expect(e.code == .corrupt, c, "a range past the end threw \(e.code), expected corrupt")
        }
    }

    mutating func notFound(_ s: BlobStore) throws {
        let c = "notFound"
        let h = Handle(.snapshots, Self.name(4))
        expectClass(.notFound, c, "load of a missing file") { _ = try s.load(h) }
        expectClass(.notFound, c, "ranged load of a missing file") { _ = try s.load(h, offset: 0, length: 1) }
        expectClass(.notFound, c, "stat of a missing file") { _ = try s.stat(h) }
        expectClass(.notFound, c, "load of a missing config") { _ = try s.load(Handle(.config, "")) }
        expect(try !s.exists(h), c, "a missing file exists")
        try s.remove(h)   // removing a missing file is not an error
        try s.remove(h)
        expect(try s.list(.snapshots).isEmpty, c, "an empty store lists snapshots")
    }

    /// Saving an existing name replaces the file whole (the contract on `BlobStore.save`).
    mutating func resave(_ s: BlobStore) throws {
        let c = "resave"
        let h = Handle(.index, Self.name(5))
        try s.save(h, bytes: Self.bytes(4000, seed: 5))
        let second = Self.bytes(1000, seed: 6)
        try s.save(h, bytes: second)
        expect(try s.load(h) == second, c, "a re-saved file does not hold the new bytes only")
        expect(try s.stat(h).size == 1000, c, "a re-saved file does not have the new size")
        expect(try s.list(.index).count == 1, c, "a re-saved name is listed more than once")
    }

    mutating func list(_ s: BlobStore) throws {
        let c = "list"
        var want: [String: Int] = [:]
        for i in 0..<40 { want[Self.name(i, "list")] = 100 + i }
        for (n, size) in want { try s.save(Handle(.snapshots, n), bytes: Self.bytes(size, seed: 7)) }
        try s.save(Handle(.index, Self.name(99)), bytes: [1])
        var got: [String: Int] = [:]
        var dup = false
        try s.list(.snapshots) { f in dup = dup || got[f.name] != nil; got[f.name] = f.size; return true }
        expect(got == want, c, "listed \(got.count) snapshots, expected \(want.count) with their sizes")
        expect(!dup, c, "a file was listed twice")
        let data = (0..<20).map { Self.name($0, "data") }
        for n in data { try s.save(Handle(.data, n), bytes: [2, 3]) }
        expect(try Set(s.list(.data).map(\.name)) == Set(data), c, "data files listed differ from those saved")
    }

    mutating func listStops(_ s: BlobStore) throws {
        let c = "listStops"
        for i in 0..<30 { try s.save(Handle(.locks, Self.name(i, "stop")), bytes: [9]) }
        var calls = 0
        try s.list(.locks) { _ in calls += 1; return calls < 3 }
        expect(calls == 3, c, "the listing went on after the callback returned false (\(calls) calls)")
    }

    mutating func remove(_ s: BlobStore) throws {
        let c = "remove"
        let keep = Handle(.data, Self.name(1, "keep")), gone = Handle(.data, Self.name(2, "gone"))
        try s.save(keep, bytes: [1]); try s.save(gone, bytes: [2])
        try s.remove(gone)
        expect(try s.list(.data).map(\.name) == [keep.name], c, "a removed file is still listed")
        expectClass(.notFound, c, "load of a removed file") { _ = try s.load(gone) }
        expect(try s.load(keep) == [1], c, "removing one file changed another")
    }

    mutating func createIfAbsent(_ s: BlobStore) throws {
        let c = "createIfAbsent"
        let h = Handle(.locks, Self.name(7))
        expect(try s.createIfAbsent(h, bytes: [1, 2, 3]), c, "creating a new file returned false")
        expect(try !s.createIfAbsent(h, bytes: [4, 5]), c, "creating an existing file returned true")
        expect(try s.load(h) == [1, 2, 3], c, "a refused create changed the file")
        let k = Handle(.keys, Self.name(8))
        try s.save(k, bytes: [7])
        expect(try !s.createIfAbsent(k, bytes: [8]), c, "create over a saved file returned true")
        expect(try s.list(.locks).count == 1, c, "create-if-absent left a second file behind")
    }
}

func hexName(_ s: String) -> String {
    // FNV-1a spread over 32 bytes: unique enough for test names, no crypto needed here.
    var out = ""
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for round in 0..<4 {
        for b in Array(s.utf8) + [UInt8(round)] { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        out += String(repeat16(h))
    }
    return out
}

private func repeat16(_ v: UInt64) -> String {
    let hex = String(v, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
