#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import SiteSystem
import VaultArchiver
import VaultCore
import VaultRepository

/// Backs up a PostgreSQL component into the repository, streaming, never through a temporary file:
///
///     logical:   /<component>/globals.sql        pg_dumpall --globals-only (roles, tablespaces)
///                /<component>/<database>.dump    pg_dump -Fc -Z0 per database (zstd and dedup happen here)
///     physical:  /<component>/base.tar           pg_basebackup -Ft -X fetch (with the WAL it needs)
///
/// Each dump is checked as it streams: its bytes are also fed to `pg_restore --list` (verify =
/// "list": the header and table of contents; the data's completeness rests on pg_dump's exit
/// status), or restored into a scratch database that the configured SQL check then queries
/// (verify = "restore": the whole dump); a physical backup's tar is listed and must hold
/// backup_label and WAL.
struct PostgresBackup: @unchecked Sendable {
    // @unchecked: every member is immutable or a thread-safe object (the archiver, recorder and
    // client are shared by the `jobs` dump threads by design).
    let client: PostgresClient
    let archiver: Archiver
    let clock: VaultClock
    let recorder: RunRecorder
    let component: String
    let timeout: Double

    struct Outcome {
        var nodes: [Node] = []
        var version = ""
        var checks: [String] = []
        var problems: [String] = []
        var databases: [String] = []
        var cluster: ClusterInfo?
    }

    var settings: PostgresSettings { client.settings }

    func store() throws -> Outcome {
        let info = try client.inspect()
        var out = Outcome()
        out.version = "PostgreSQL \(info.version)"
        out.databases = info.databases.map { "\($0.name) (\(Bytes.text($0.size)))" }
        if settings.method == .physical {
            try storePhysical(&out)
            return out
        }
        // Roles and tablespaces first (small), then the databases, `jobs` at a time.
        out.nodes.append(try globals(&out))
        let (dbs, refused) = PostgresClient.split(info.databases.map(\.name))
        out.problems += refused
        let results = ResultSlots<Result<(Node, String), Error>>(count: dbs.count)
        let limit = DispatchSemaphore(value: max(1, settings.jobs))
        let group = DispatchGroup()
        for (i, db) in dbs.enumerated() {
            limit.wait()
            group.enter()
            let backup = self
            Thread.detachNewThread {
                let r = Result { try backup.dumpOne(db) }
                results.set(i, r)
                limit.signal()
                group.leave()
            }
        }
        group.wait()
        for (i, slot) in results.values.enumerated() {
            guard let r = slot else { continue }
            switch r {
            case .success(let (node, check)):
                out.nodes.append(node)
                out.checks.append("\(dbs[i]): \(check)")
            case .failure(let e):
                out.problems.append("database \(dbs[i]): \((e as? VaultError)?.message ?? "\(e)")")
            }
        }
        return out
    }

    /// Roles and tablespaces, streamed into the repository like the dumps (whatever their size).
    func globals(_ out: inout Outcome) throws -> Node {
        func run(_ args: [String]) throws -> (node: Node, result: ProcessResult) {
            let s = try streamVerified(client.command("pg_dumpall", args, timeout: timeout), name: "globals.sql",
                                       label: "pg_dumpall --globals-only", verifier: nil)
            return (s.node, s.result)
        }
        var g = try run(["--globals-only"])
        if !g.result.succeeded && g.result.stderrText.contains("permission denied") {
            // Not a superuser: roles without their password hashes are still worth having.
            g = try run(["--globals-only", "--no-role-passwords"])
            if g.result.succeeded { out.checks.append("globals without role passwords (user \(settings.user) is not a superuser)") }
        }
        guard g.result.succeeded else {
            throw RunFailure(.componentFailed, "pg_dumpall --globals-only: \(client.explain(g.result))", component: component)
        }
        return g.node
    }

    /// pg_dump of one database streamed into the repository while a verifier reads the same bytes.
    func dumpOne(_ db: String) throws -> (Node, String) {
        var scratch: String?
        var verifier: Command?
        switch settings.verify {
        case .none: break
        case .list:
            verifier = client.command("pg_restore", ["--list"], timeout: timeout)
        case .restore:
            let name = "sitevault_verify_" + Hex.encode((0..<6).map { _ in UInt8.random(in: 0...255) })
            _ = try client.query("CREATE DATABASE \(name) TEMPLATE template0")
            scratch = name
            verifier = client.command("pg_restore", ["--no-owner", "--exit-on-error", "-d", PostgresClient.conninfo(database: name)],
                                      timeout: timeout)
        }
        defer { if let scratch { _ = try? client.query("DROP DATABASE IF EXISTS \(scratch) WITH (FORCE)") } }
        let dump = client.command("pg_dump", ["-Fc", "-Z0", "-d", PostgresClient.conninfo(database: db)], timeout: timeout)
        let (node, r, checked) = try streamVerified(dump, name: fileName(db, "dump"), label: "pg_dump \(db)", verifier: verifier)
        let vr = checked?.result
        let listText = checked?.output ?? ""
        guard r.succeeded else { throw VaultError(.io, "pg_dump failed: \(client.explain(r))") }
        switch settings.verify {
        case .none:
            return (node, "\(Bytes.text(node.size)) dump, not verified")
        case .list:
            guard let vr, vr.succeeded else { throw VaultError(.io, "pg_restore --list rejected the dump: \(vr?.summary ?? "?")") }
            let entries = listText.split(separator: "\n").filter { !$0.hasPrefix(";") }.count
            return (node, "pg_restore --list ok (\(entries) table-of-contents entries)")
        case .restore:
            guard let vr, vr.succeeded else { throw VaultError(.io, "restoring the dump into a scratch database failed: \(vr?.summary ?? "?")") }
            guard let sql = settings.verifySQL else { return (node, "restored into a scratch database") }
            try client.expectTrue(sql, database: scratch, place: "on the restored copy")
            return (node, "restored into a scratch database; check query true")
        }
    }

    func storePhysical(_ out: inout Outcome) throws {
        let (node, r, listed) = try streamVerified(
            client.command("pg_basebackup", ["-D", "-", "-Ft", "-X", "fetch", "--checkpoint=fast", "-v"], timeout: timeout),
            name: "base.tar", label: "pg_basebackup", verifier: settings.verify == .none ? nil : Command(["tar", "-t"], timeout: timeout))
        guard r.succeeded else { throw VaultError(.io, "pg_basebackup failed: \(client.explain(r))") }
        let wal = r.stderrText.split(separator: "\n").filter { $0.contains("write-ahead log") }.map { $0.replacingOccurrences(of: "pg_basebackup: ", with: "") }
        out.nodes.append(node)
        out.cluster = clusterInfo()
        if let (l, text) = listed {
            let names = Set(text.split(separator: "\n").map(String.init))
            guard l.succeeded, names.contains("backup_label"), names.contains("PG_VERSION"), names.contains(where: { $0.hasPrefix("pg_wal/0") }) else {
                throw VaultError(.io, "the base backup archive is incomplete (backup_label, PG_VERSION and WAL expected): \(l.summary)")
            }
            out.checks.append("tar listing ok (\(names.count) entries, backup_label, WAL included); " + wal.joined(separator: "; "))
        } else { out.checks.append(wal.joined(separator: "; ")) }
    }

    /// Where the cluster lives and how its server was started, for an in-place recovery (nil
    /// fields when the server is on another machine or the user may not read them).
    func clusterInfo() -> ClusterInfo? {
        guard let dir = try? client.query("SHOW data_directory").first?.first, !dir.isEmpty else { return nil }
        var info = ClusterInfo(dataDirectory: dir)
        info.port = (try? client.query("SHOW port").first?.first).flatMap { Int($0) }
        info.owner = FileOwner.of(dir)
        if let opts = try? ControlFile.readWholeFile(dir + "/postmaster.opts") {
            info.options = String(decoding: opts, as: UTF8.self).trimmingChars(" \n")
        }
        return info
    }

    /// Streams `producer`'s standard output into the repository as `name` while `verifier` (when
    /// given) reads the very same bytes on its standard input; its output is collected. Both
    /// processes are ended and reaped whatever happens; the caller judges their results.
    func streamVerified(_ producer: Command, name: String, label: String, verifier: Command?) throws
        -> (node: Node, result: ProcessResult, verifier: (result: ProcessResult, output: String)?) {
        let check = try verifier.map { try ProcessRunner().spawnStreamingStdin($0) }
        let output = check.map { OutputCollector(fd: $0.stdoutFD) }
        func endVerifier() -> (result: ProcessResult, output: String)? {
            guard let check else { return nil }
            if let fd = check.stdinFD { close(fd) }
            let text = output?.finish() ?? ""
            return (check.wait(), text)
        }
        let source: RunningProcess
        do { source = try ProcessRunner().spawn(producer) } catch {
            check?.terminate(); _ = endVerifier(); throw error
        }
        var feeding = check?.stdinFD != nil
        let node: Node
        do {
            node = try archiver.saveStream(name: Array(name.utf8), fd: source.stdoutFD, label: label, time: clock.now(),
                                           chunking: .database) { bytes in
                guard feeding, let fd = check?.stdinFD else { return }
                feeding = writeAll(fd, bytes)
            }
        } catch {
            source.terminate(); _ = source.wait()
            check?.terminate(); _ = endVerifier()
            throw error
        }
        let result = source.wait()
        return (node, result, endVerifier())
    }

    /// A database name as a file name in the snapshot ('/' and NUL escaped).
    func fileName(_ db: String, _ ext: String) -> String {
        var s = db.replacingChars(["/": "%2F", "%": "%25"])
        if s.hasPrefix(".") { s = "%2E" + s.dropFirst() }
        return s + "." + ext
    }
}

/// Results filled in by worker threads, one slot each, read once they have all finished.
final class ResultSlots<T>: @unchecked Sendable {
    // @unchecked: the slots are written and read under `mutex`.
    private let mutex = Mutex()
    private var slots: [T?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: T) { mutex.withLock { slots[i] = v } }
    var values: [T?] { mutex.withLock { slots } }
}

/// Reads a child's standard output to its end on a thread of its own (at most `limit` bytes kept),
/// so a verifier fed through its stdin never blocks on a full stdout pipe.
final class OutputCollector: @unchecked Sendable {
    // @unchecked: `data` is written by the thread and read only after `finish()` joined it.
    private var data: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32, limit: Int = 8 << 20) {
        Thread.detachNewThread { [self] in
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(fd, &buf, buf.count)
                if n < 0 { if errno == EINTR { continue }; break }
                if n == 0 { break }
                if data.count < limit { data.append(contentsOf: buf[0..<min(n, limit - data.count)]) }
            }
            done.signal()
        }
    }

    /// Waits for end of file and returns the text.
    func finish() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Writes everything; false once the reader has gone (EPIPE) or on any error.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var off = 0
    while off < bytes.count {
        let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
        if n < 0 { if errno == EINTR { continue }; return false }
        off += n
    }
    return true
}
