import Foundation
import VaultCore
import VaultStorage

/// Collects results from concurrent threads.
private final class Collector<T>: @unchecked Sendable {
    // @unchecked: `items` is only touched under `lock`.
    private let lock = Mutex()
    private var items: [T] = []
    func add(_ t: T) { lock.withLock { items.append(t) } }
    var all: [T] { lock.withLock { items } }
}

extension StoreContract {
    /// Several writers race to create one lock: exactly one wins, and the file holds its bytes.
    mutating func createIfAbsentRace(_ s: BlobStore) throws {
        let c = "createIfAbsentRace"
        for round in 0..<5 {
            let h = Handle(.locks, Self.name(round, "race"))
            let winners = Collector<Int>(), errors = Collector<String>()
            DispatchQueue.concurrentPerform(iterations: 8) { i in
                do { if try s.createIfAbsent(h, bytes: Self.bytes(64, seed: UInt8(i))) { winners.add(i) } } catch {
                    errors.add("\(error)")
                }
            }
            expect(errors.all.isEmpty, c, "racing creates failed: \(errors.all)")
            expect(winners.all.count == 1, c, "round \(round): \(winners.all.count) writers won, expected exactly one")
            if let w = winners.all.first {
                expect(try s.load(h) == Self.bytes(64, seed: UInt8(w)), c, "the lock does not hold its winner's bytes")
            }
        }
    }

    /// N writers saving distinct names at once: every file is there, whole.
    mutating func concurrentWriters(_ s: BlobStore) throws {
        let c = "concurrentWriters"
        let errors = Collector<String>()
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            do { try s.save(Handle(.data, Self.name(i, "writer")), bytes: Self.bytes(1000 + i * 37, seed: UInt8(i))) } catch {
                errors.add("\(error)")
            }
        }
        expect(errors.all.isEmpty, c, "concurrent saves failed: \(errors.all)")
        let listed = Dictionary(try s.list(.data).map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        expect(listed.count == 32, c, "\(listed.count) files listed after 32 concurrent saves")
        for i in 0..<32 {
            let n = Self.name(i, "writer")
            expect(listed[n] == 1000 + i * 37, c, "file \(i) listed with size \(String(describing: listed[n]))")
            expect(try s.load(Handle(.data, n)) == Self.bytes(1000 + i * 37, seed: UInt8(i)), c, "file \(i) read back differs")
        }
    }

    /// Listing while files are being saved never shows a partial file or a temporary one.
    mutating func listWhileWriting(_ s: BlobStore) throws {
        let c = "listWhileWriting"
        let count = 60
        var sizes: [String: Int] = [:]
        for i in 0..<count { sizes[Self.name(i, "lw")] = 20_000 + i * 1013 }
        let expected = sizes
        let problems = Collector<String>()
        let listings = Collector<Int>()
        let done = Collector<Bool>()
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            if worker == 0 {
                for i in 0..<count {
                    let n = Self.name(i, "lw")
                    do { try s.save(Handle(.snapshots, n), bytes: Self.bytes(expected[n]!, seed: UInt8(i))) } catch {
                        problems.add("save failed: \(error)")
                    }
                }
                done.add(true)
            } else {
                var finished = false
                while !finished {
                    finished = !done.all.isEmpty
                    do {
                        var n = 0
                        try s.list(.snapshots) { f in
                            n += 1
                            if expected[f.name] != f.size {
                                problems.add("listed \(f.name) with \(f.size) bytes, expected \(String(describing: expected[f.name]))")
                            }
                            return true
                        }
                        listings.add(n)
                    } catch { problems.add("list failed: \(error)") }
                }
            }
        }
        expect(problems.all.isEmpty, c, "\(problems.all.prefix(3))")
        expect(listings.all.last == count, c, "the listing after the last save shows \(String(describing: listings.all.last)) files")
    }

    /// A pending file is invisible until committed, then whole under its name; a discarded one leaves nothing.
    mutating func pending(_ s: BlobStore) throws {
        let c = "pending"
        let p = try s.createPending(.data)
        let part1 = Self.bytes(70_000, seed: 1), part2 = Self.bytes(30_001, seed: 2)
        try part1.withUnsafeBytes { try p.append($0) }
        expect(try s.list(.data).isEmpty, c, "an uncommitted pending file is listed")
        try part2.withUnsafeBytes { try p.append($0) }
        expect(p.size == 100_001, c, "pending size \(p.size), expected 100001")
        let h = Handle(.data, Self.name(1, "pending"))
        try p.commit(as: h)
        expect(try s.load(h) == part1 + part2, c, "a committed pending file differs")
        let q = try s.createPending(.data)
        try [1, 2, 3].withUnsafeBytes { try q.append($0) }
        q.discard(); q.discard()
        expect(try s.list(.data).map(\.name) == [h.name], c, "a discarded pending file left something listed")
    }

    /// A large object goes and comes back whole, and can be read by ranges.
    mutating func large(_ s: BlobStore) throws {
        let c = "large"
        let h = Handle(.data, Self.name(1, "large"))
        let largeSize = self.largeSize
        var big = [UInt8](repeating: 0, count: largeSize)
        for i in stride(from: 0, to: largeSize, by: 4096) { big[i] = UInt8(truncatingIfNeeded: i >> 12) }
        try s.save(h, bytes: big)
        expect(try s.stat(h).size == largeSize, c, "stat of the large object is not \(largeSize)")
        let tailStart = largeSize - 5000
        expect(try s.load(h, offset: tailStart, length: 5000) == Array(big[tailStart...]), c, "the tail of the large object differs")
        expect(try s.load(h) == big, c, "the large object read back differs")
    }
}
