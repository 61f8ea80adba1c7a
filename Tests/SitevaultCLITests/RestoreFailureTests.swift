import Foundation
import XCTest
import VaultTesting

/// A file whose data cannot be read is never left empty or truncated under its real name: it is
/// written under a temporary name and renamed into place only when complete.
final class RestoreFailureTests: CLITestCase {
    func testFailedFilesAreNotLeftTruncatedUnderTheirNames() throws {
        try initRepo()
        let src = try flatTree("src", seed: 77, dirs: 2, files: 12, maxSize: 1_500_000)
        let id = try backup([src])
        // A complete earlier restore, to be overwritten later.
        let old = dir.sub("old")
        try expect(0, ["restore", id, "--target", old])
        // Damage the biggest pack in many places, so several files cannot be read.
        let victim = packs().max { $0.value < $1.value }!.key
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: packPath(victim))))
        for i in stride(from: 1000, to: bytes.count - 1000, by: 200_000) { bytes[i] ^= 0x01 }
        try write(packPath(victim), bytes)

        let target = dir.sub("new")
        let res = try sv(["restore", id, "--target", target, "--json"])
        XCTAssertEqual(res.status, 3, "\(res)")
        let errors = ((res.json as? [String: Any])?["errors"] as? [[String: String]]) ?? []
        XCTAssertFalse(errors.isEmpty, "\(res)")
        for e in errors {
            let path = try XCTUnwrap(e["path"])
            XCTAssertTrue(path.hasPrefix(normalized(target) + "/"), "the error names the real file: \(path)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "a failed file is left under its name: \(path)")
            XCTAssertTrue(res.stderr.contains(path), "the human report names it too")
        }
        XCTAssertEqual(temporaries(target), [], "no temporary file is left behind")

        // With --overwrite, a file that fails keeps its previous complete content.
        let again = try sv(["restore", id, "--target", old, "--overwrite", "--json"])
        XCTAssertEqual(again.status, 3, "\(again)")
        for e in ((again.json as? [String: Any])?["errors"] as? [[String: String]]) ?? [] {
            let path = try XCTUnwrap(e["path"])
            let original = src + String(path.dropFirst(normalized(old).count + normalized(src).count))
            XCTAssertEqual(FileManager.default.contents(atPath: path), FileManager.default.contents(atPath: original),
                           "the old copy of \(path) is intact")
        }
        XCTAssertEqual(temporaries(old), [])
    }

    func temporaries(_ root: String) -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { $0.contains(".sitevault-restore-") }
    }
}
