#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VaultCore

/// The durable note of what is frozen right now (`freeze.json` in the state folder). It is
/// written before a writer freezes and cleared once it has thawed, so that after a kill -9 the next
/// run (or `sitevault site thaw`) knows exactly what to thaw, even if the control file changed.
public struct FreezeRecord: Codable, Sendable {
    public var pid: Int32
    public var runID: String
    public var writers: [WriterConfig]
    public var since: Timestamp

    static func path(_ stateDir: String) -> String { stateDir + "/freeze.json" }

    /// The record, nil when nothing is frozen. A record that cannot be read is an error, never
    /// "nothing frozen": something may well be frozen.
    public static func load(stateDir: String) throws -> FreezeRecord? {
        let p = path(stateDir)
        guard access(p, F_OK) == 0 else { return nil }
        do {
            return try JSONDecoder().decode(FreezeRecord.self, from: Data(try ControlFile.readWholeFile(p)))
        } catch {
            throw VaultError(.corrupt, "the freeze record \(p) cannot be read (\(error)): a writer may still be frozen; thaw the application by hand, then remove the file")
        }
    }

    func save(stateDir: String) throws {
        try writeFileAtomically(FreezeRecord.path(stateDir), Array(try JSONEncoder.sorted.encode(self)))
    }

    static func clear(stateDir: String) throws {
        let p = path(stateDir)
        if unlink(p) != 0 && errno != ENOENT { throw VaultError.posix("cannot remove", path: p, errno: errno) }
        syncFolder(stateDir)
    }
}

/// Keeps track of frozen writers for one run and guarantees their thaw: on the normal path, on
/// error, and from a signal handler (SIGTERM/SIGINT) while the run is somewhere else.
public final class FreezeGuard: @unchecked Sendable {
    // @unchecked: all state is guarded by `mutex` (freeze and thaw commands run under it, so a
    // signal arriving mid-freeze waits for the freeze to finish, then thaws).
    let stateDir: String
    let runID: String
    let clock: VaultClock
    private let mutex = Mutex()
    private var frozen: [(writer: WriterConfig, report: Int)] = []
    private(set) var reports: [FreezeReport] = []
    private var aborted = false
    /// When the first writer of this run froze (kept in the record).
    private var since: Timestamp?

    init(stateDir: String, runID: String, clock: VaultClock) {
        self.stateDir = stateDir; self.runID = runID; self.clock = clock
    }

    var freezeReports: [FreezeReport] { mutex.withLock { reports } }

    /// Records then freezes. On failure nothing of this writer stays frozen (its thaw is tried).
    func freeze(_ w: WriterConfig, components: [String]) throws -> FreezeReport {
        try mutex.withLock {
            guard !aborted else { throw VaultError(.cancelled, "the run was interrupted") }
            let start = clock.now()
            if since == nil { since = start }
            let record = FreezeRecord(pid: getpid(), runID: runID, writers: frozen.map(\.writer) + [w], since: since!)
            try record.save(stateDir: stateDir)
            do { try WriterActions.freeze(w) } catch {
                // A half-done freeze (e.g. a service that stopped but reported an error) is undone;
                // if the undo fails too, the record stays so that `site thaw` and the next run retry it.
                do {
                    try WriterActions.thaw(w)
                    try? saveRecordLocked()
                } catch let undo {
                    throw VaultError(.io, "\((error as? VaultError)?.message ?? "\(error)"); undoing it failed too: \((undo as? VaultError)?.message ?? "\(undo)") (the freeze stays recorded: run `sitevault site thaw`)")
                }
                throw error
            }
            reports.append(FreezeReport(writer: w.name, kind: w.kind, components: components, frozenAt: start))
            frozen.append((w, reports.count - 1))
            return reports.last!
        }
    }

    /// Thaws one writer; its record entry goes only when the thaw worked.
    /// Whether the writer `name` holds its components frozen (stopped) now.
    func isFrozen(_ name: String) -> Bool {
        mutex.withLock { frozen.contains { $0.writer.name == name } }
    }

    func thaw(_ name: String) throws -> FreezeReport? {
        try mutex.withLock { try thawLocked(name) }
    }

    private func thawLocked(_ name: String) throws -> FreezeReport? {
        guard let i = frozen.firstIndex(where: { $0.writer.name == name }) else { return nil }
        try WriterActions.thaw(frozen[i].writer)
        let at = clock.now()
        var r = reports[frozen[i].report]
        r.thawedAt = at
        r.seconds = Double(at.nanoseconds - r.frozenAt.nanoseconds) / 1e9
        reports[frozen[i].report] = r
        frozen.remove(at: i)
        try saveRecordLocked()
        return r
    }

    private func saveRecordLocked() throws {
        if frozen.isEmpty { try FreezeRecord.clear(stateDir: stateDir) } else {
            try FreezeRecord(pid: getpid(), runID: runID, writers: frozen.map(\.writer), since: since ?? clock.now()).save(stateDir: stateDir)
        }
    }

    /// Thaws everything still frozen (newest first) and refuses further freezes. Returns the
    /// writers thawed and the failures.
    @discardableResult
    func thawAll(abort: Bool = false) -> (thawed: [FreezeReport], failed: [(String, Error)]) {
        mutex.withLock {
            if abort { aborted = true }
            var done: [FreezeReport] = [], failed: [(String, Error)] = []
            for name in frozen.map(\.writer.name).reversed() {
                do { if let r = try thawLocked(name) { done.append(r) } } catch { failed.append((name, error)) }
            }
            return (done, failed)
        }
    }

    var anyFrozen: Bool { mutex.withLock { !frozen.isEmpty } }
}

/// Writes a small file durably: temp file, fsync, rename, fsync of the folder.
func writeFileAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o600) throws {
    let tmp = path + ".tmp-\(getpid())"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw VaultError.posix("cannot create", path: tmp, errno: errno) }
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 { if errno == EINTR { continue }; let e = errno; close(fd); unlink(tmp); throw VaultError.posix("cannot write", path: tmp, errno: e) }
        off += n
    }
    if fsync(fd) != 0 { let e = errno; close(fd); unlink(tmp); throw VaultError.posix("cannot sync", path: tmp, errno: e) }
    close(fd)
    if rename(tmp, path) != 0 { let e = errno; unlink(tmp); throw VaultError.posix("cannot rename into", path: path, errno: e) }
    if let slash = path.lastIndex(of: "/") { syncFolder(String(path[..<slash])) }
}

func syncFolder(_ path: String) {
    let fd = open(path.isEmpty ? "/" : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 { fsync(fd); close(fd) }
}
