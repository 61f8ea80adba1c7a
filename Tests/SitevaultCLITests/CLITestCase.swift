import Foundation
import XCTest
import VaultTesting
#if canImport(Glibc)
import Glibc
#endif

/// Shared set-up for the executable tests: a temporary folder, a password file and a repository path,
/// and helpers that run `sitevault` and compare restored trees.
class CLITestCase: XCTestCase {
    var dir: TemporaryDirectory!
    var passwordFile: String!
    var repo: String!
    /// The same password TestRepository uses, so repositories made with the library open with the CLI.
    let password = String(decoding: TestRepository.password, as: UTF8.self)

    override func setUpWithError() throws {
        try super.setUpWithError()
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: CLI.executable),
                      "sitevault executable not found next to the test bundle (looked for \(CLI.executable))")
        dir = try TemporaryDirectory(prefix: "sitevault-cli")
        passwordFile = dir.sub("password")
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passwordFile)
        repo = dir.sub("repo")
    }

    override func tearDown() {
        dir?.remove()
        super.tearDown()
    }

    /// Environment pointing the CLI at `repo` with `passwordFile`.
    func env(repo r: String? = nil, passwordFile pf: String? = nil) -> [String: String] {
        ["SITEVAULT_REPOSITORY": r ?? repo, "SITEVAULT_PASSWORD_FILE": pf ?? passwordFile]
    }

    /// Runs sitevault against the test repository.
    @discardableResult
    func sv(_ args: String..., env extra: [String: String] = [:], repo r: String? = nil) throws -> CLI.Result {
        var e = env(repo: r)
        for (k, v) in extra { e[k] = v }
        return try CLI.run(args, env: e)
    }

    @discardableResult
    func sv(_ args: [String], env extra: [String: String] = [:], repo r: String? = nil) throws -> CLI.Result {
        var e = env(repo: r)
        for (k, v) in extra { e[k] = v }
        return try CLI.run(args, env: e)
    }

    /// Runs and asserts the exit status.
    @discardableResult
    func expect(_ status: Int32, _ args: [String], repo r: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> CLI.Result {
        let res = try sv(args, repo: r)
        XCTAssertEqual(res.status, status, "sitevault \(args.joined(separator: " ")): \(res)", file: file, line: line)
        return res
    }

    func initRepo(_ r: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        try expect(0, ["init"], repo: r, file: file, line: line)
    }

    /// Backs up `paths` with --json and returns the new snapshot id.
    @discardableResult
    func backup(_ paths: [String], extra: [String] = [], expectStatus: Int32 = 0, repo r: String? = nil,
                file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let res = try expect(expectStatus, ["backup", "--json"] + extra + paths, repo: r, file: file, line: line)
        let obj = res.json as? [String: Any]
        let id = obj?["snapshot"] as? String
        XCTAssertNotNil(id, "backup --json did not print a snapshot id: \(res)", file: file, line: line)
        return id ?? ""
    }

    /// `snapshots --json` as a list of dictionaries.
    func snapshotList(repo r: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let res = try expect(0, ["snapshots", "--json"], repo: r, file: file, line: line)
        guard let list = res.json as? [[String: Any]] else {
            XCTFail("snapshots --json is not a JSON array: \(res)", file: file, line: line); return []
        }
        return list
    }

    func snapshotIDs(repo r: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try snapshotList(repo: r, file: file, line: line).compactMap { $0["id"] as? String }
    }

    /// `check [--read-data] --json`: status and the parsed report.
    func check(readData: Bool, repo r: String? = nil) throws -> (status: Int32, report: [String: Any], result: CLI.Result) {
        let res = try sv(["check", "--json"] + (readData ? ["--read-data"] : []), repo: r)
        return (res.status, (res.json as? [String: Any]) ?? [:], res)
    }

    /// Restores `snapshot` into a fresh target and asserts it equals `expected` (a description of `source`).
    func assertRestores(_ snapshot: String, source: String, expected: [TreeComparison.Entry], repo r: String? = nil,
                        label: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let target = dir.sub("restore-\(UUID().uuidString.prefix(8))")
        let res = try sv(["restore", snapshot, "--target", target], repo: r)
        XCTAssertEqual(res.status, 0, "\(label) restore \(snapshot): \(res)", file: file, line: line)
        let got = TreeComparison.describe(target + normalized(source))
        XCTAssertEqual(TreeComparison.differences(expected, got), [], "\(label) restore of \(snapshot.prefix(8))", file: file, line: line)
        XCTAssertFalse(expected.isEmpty, "\(label) nothing to compare", file: file, line: line)
        removeTree(target)
    }

    // MARK: files

    /// A path with "//" collapsed (what the executable records).
    func normalized(_ p: String) -> String {
        "/" + p.split(separator: "/", omittingEmptySubsequences: true).joined(separator: "/")
    }

    func mkdir(_ p: String) {
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    }

    func write(_ p: String, _ s: String) throws { try Data(s.utf8).write(to: URL(fileURLWithPath: p)) }
    func write(_ p: String, _ b: [UInt8]) throws { try Data(b).write(to: URL(fileURLWithPath: p)) }

    func removeTree(_ p: String) {
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwx", p]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: p)
    }

    /// A RandomTreeBuilder tree under a new folder `name`.
    func randomTree(_ name: String, seed: UInt64, maxFileSize: Int = 1 << 20, filesPerDir: Int = 6, depth: Int = 3) throws -> String {
        let p = dir.sub(name)
        mkdir(p)
        var b = RandomTreeBuilder(seed: seed)
        b.maxFileSize = maxFileSize; b.filesPerDir = filesPerDir; b.depth = depth
        try b.build(at: p)
        return p
    }

    /// A tree of `dirs` × `files` regular files of 0..<maxSize bytes (half of them compressible).
    func flatTree(_ name: String, seed: UInt64, dirs: Int, files: Int, maxSize: Int) throws -> String {
        let p = dir.sub(name)
        var rng = SeededRandom(seed: seed)
        for d in 0..<dirs {
            mkdir(p + "/d\(d)")
            for f in 0..<files {
                var data = rng.bytes(Int(rng.next() % UInt64(maxSize)))
                if f % 2 == 0 { for j in 0..<data.count { data[j] = UInt8(97 + data[j] % 3) } }
                try write(p + "/d\(d)/f\(f)", data)
            }
        }
        return p
    }

    /// Rewrites every `every`-th file of a flatTree with new random content.
    func mutate(_ root: String, seed: UInt64, every: Int, maxSize: Int = 31_000) throws {
        var rng = SeededRandom(seed: seed)
        var i = 0
        for case let rel as String in FileManager.default.enumerator(atPath: root)! {
            let p = root + "/" + rel
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue else { continue }
            i += 1
            if i % every == 0 { try write(p, rng.bytes(1000 + Int(rng.next() % UInt64(maxSize - 1000)))) }
        }
    }

    /// Names (not starting with ".") of the files in a repository folder such as "locks" or "index".
    func repoFiles(_ sub: String, repo r: String? = nil) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: (r ?? repo) + "/" + sub)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Every pack file: name → size.
    func packs(repo r: String? = nil) -> [String: Int] {
        var out: [String: Int] = [:]
        let base = (r ?? repo) + "/data"
        for sub in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: base + "/" + sub)) ?? [] where !name.hasPrefix(".") {
                let attrs = try? FileManager.default.attributesOfItem(atPath: base + "/" + sub + "/" + name)
                out[name] = (attrs?[.size] as? NSNumber)?.intValue ?? 0
            }
        }
        return out
    }

    func packPath(_ name: String, repo r: String? = nil) -> String { (r ?? repo) + "/data/" + name.prefix(2) + "/" + name }

    /// JSON objects among check's problems (or warnings).
    func items(_ report: [String: Any], _ key: String) -> [[String: Any]] { (report[key] as? [[String: Any]]) ?? [] }

    func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(cString: buf)
    }
}
