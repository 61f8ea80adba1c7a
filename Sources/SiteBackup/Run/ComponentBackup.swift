#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultArchiver
import VaultCore
import VaultFileSystem
import VaultRepository

/// Takes consistent copies of components and stores them. The layout of a site snapshot's tree:
///
///     /<component>/files/<absolute path>…   config, folders and install-media files
///     /<component>/settings/<name>          captured command output (config)
///     /<component>/VERSION                  install media version
///     /<component>/<database file>          SQLite copy or dump output
///     /.sitevault/site.toml                 the control file used
///     /.sitevault/manifest.json             the run report: components, versions, checks, freezes
final class ComponentBackup {
    let config: SiteConfig
    let recorder: RunRecorder
    let clock: VaultClock
    /// Components whose consistent copy is in the staging folder.
    private(set) var staged: Set<String> = []
    private(set) var stagedDatabase: [String: String] = [:]
    /// When each staging copy was taken (start, end).
    private(set) var copyTimes: [String: (Timestamp, Timestamp)] = [:]
    /// The dump command running now, ended at once if the run is interrupted.
    private let running = Mutex()
    private var currentProcess: RunningProcess?

    /// Ends a running dump command (called when the run is interrupted by a signal).
    func terminateChildren() {
        running.withLock { currentProcess?.terminate() }
    }

    init(config: SiteConfig, recorder: RunRecorder, clock: VaultClock) {
        self.config = config; self.recorder = recorder; self.clock = clock
    }

    func stagingRoot(_ c: ComponentConfig) -> String { config.stagingDir + "/" + c.name }

    /// What each folder copy did (files copied, unchanged, removed), for the component's message.
    private(set) var stagingStats: [String: StagingCopy.Stats] = [:]

    /// Removes staged entries that lie on no wanted path (a path dropped from the control file).
    func pruneStaging(_ dir: FilePath, keeping wanted: Set<FilePath>) {
        for name in (try? FileSystem.list(dir)) ?? [] {
            let p = dir.appending(name)
            if wanted.contains(p) { continue }
            if wanted.contains(where: { $0.bytes.starts(with: p.bytes + [47]) }) { pruneStaging(p, keeping: wanted) } else { StagingCopy.remove(p) }
        }
    }

    /// Whether a component can be copied to the staging folder (a dump command's output cannot:
    /// it is streamed, never stored whole on disk).
    static func canStage(_ c: ComponentConfig) -> Bool { !(c.kind == .database && c.engine != .sqlite) }

    /// Bytes the staging copy of a component will take (for the space check before freezing).
    static func stagingSize(_ c: ComponentConfig) -> UInt64 {
        if c.kind == .database { return c.engine == .sqlite ? StagingCopy.size(of: c.databasePath!) + StagingCopy.size(of: c.databasePath! + "-wal") : 0 }
        return c.paths.reduce(0) { $0 + StagingCopy.size(of: $1) }
    }

    /// Makes the consistent copy (called while the component's writer holds it frozen, or, for an
    /// SQLite database without writer, at any time: the online backup is consistent by itself).
    /// `busyWait`: how long an SQLite copy may wait for a lock held by another process (short
    /// while a writer holds the application frozen: it may be frozen inside a transaction).
    /// `pinned`: a connection to the database already holding a read transaction (taken before the
    /// writers froze the application), to copy from.
    func stage(_ c: ComponentConfig, busyWait: Double = 120, pinned: SQLiteDatabase? = nil) throws {
        let started = clock.now()
        let root = stagingRoot(c)
        if c.kind == .database { StagingCopy.remove(root) }
        try makeFolder(root)
        if c.kind == .database {
            let path = c.databasePath!
            let copy = root + "/" + (FilePath(path).lastComponent.isEmpty ? "database.sqlite" : FilePath(FilePath(path).lastComponent).description)
            let db: SQLiteDatabase
            do { db = try pinned ?? SQLiteDatabase(path: path, readOnly: true) } catch let e as VaultError {
                throw RunFailure(.componentFailed, e.message, component: c.name)
            }
            do { _ = try db.backup(to: copy, maxWait: busyWait) } catch let e as VaultError {
                throw RunFailure(.componentFailed, "online backup of \(path) failed: \(e.message)", component: c.name)
            }
            stagedDatabase[c.name] = copy
        } else {
            var stats = StagingCopy.Stats()
            // Paths no longer in the component leave the staging copy.
            let wanted = Set(c.paths.map { FilePath(root + $0) })
            pruneStaging(FilePath(root), keeping: wanted)
            for p in c.paths { try StagingCopy.copy(p, into: root, stats: &stats) }
            stagingStats[c.name] = stats
        }
        staged.insert(c.name)
        copyTimes[c.name] = (started, clock.now())
    }

    /// Stores one component and returns its folder node (nil when it failed) and its report.
    func store(_ c: ComponentConfig, into dest: OpenDestination, writer: String?) async -> (Node?, ComponentReport) {
        var report = ComponentReport(name: c.name, kind: c.kind, repository: c.repository,
                                     paths: c.kind == .database ? (c.databasePath.map { [$0] } ?? []) : c.paths,
                                     engine: c.engine?.rawValue, writer: writer)
        let archiver = dest.archiver
        let before = archiver.currentSummary
        let errorsBefore = archiver.progress.errors.count
        let changedBefore = archiver.progress.changedFilesInOrder.count
        let start = monotonicSeconds()
        let startedAt = clock.now()
        let how = stagingStats[c.name].map { " from its consistent copy (\($0.files) files copied while frozen, \($0.unchanged) unchanged, \($0.removed) removed)" }
            ?? (staged.contains(c.name) ? " from its consistent copy" : "")
        recorder.emit(.componentStarted, component: c.name, "storing \(c.kind.rawValue) component\(how)")
        var nodes: [Node] = []
        var problems: [String] = []
        var failed = false
        do {
            switch c.kind {
            case .folders, .config, .installMedia:
                if !c.paths.isEmpty {
                    let parent = dest.parentTree(of: c.name).flatMap { t in t.nodes.first { $0.name == Array("files".utf8) } }?.subtree
                        .flatMap { try? dest.repository.loadTree($0) }
                    let tree = try await archiver.saveFiles(c.paths.map { FilePath($0) },
                                                            readingFrom: staged.contains(c.name) ? FilePath(stagingRoot(c)) : nil,
                                                            parent: parent, filter: PathFilter(excludes: c.excludes, includes: c.includes))
                    nodes.append(folderNode("files", tree, mode: 0o755))
                }
                if c.kind == .config && !c.settings.isEmpty {
                    var settingNodes: [Node] = []
                    var sizes: [String: Int] = [:]
                    for (name, argv) in c.settings {
                        // Streamed into the repository like a dump: an output of any size is stored whole.
                        let proc: RunningProcess
                        do { proc = try ProcessRunner().spawn(Command(argv, timeout: c.timeout)) } catch {
                            problems.append("setting \(name): \(error)"); continue
                        }
                        running.withLock { currentProcess = proc }
                        defer { running.withLock { currentProcess = nil } }
                        let node: Node
                        do {
                            node = try archiver.saveStream(name: Array(name.utf8), fd: proc.stdoutFD, label: "output of setting \(name)",
                                                           time: clock.now())
                        } catch {
                            proc.terminate(); _ = proc.wait(); throw error
                        }
                        let r = proc.wait()
                        if !r.succeeded { problems.append("setting \(name): \(argv.joined(separator: " ")) \(r.summary)") }
                        settingNodes.append(node)
                        sizes[name] = Int(node.size)
                    }
                    report.settings = sizes
                    nodes.append(folderNode("settings", try archiver.saveTree(nodes: settingNodes), mode: 0o700))
                }
                if c.kind == .installMedia {
                    let version = try installedVersion(c)
                    report.version = version
                    nodes.append(try archiver.saveBytes(name: Array("VERSION".utf8), bytes: Array((version + "\n").utf8), mode: 0o644, time: clock.now()))
                }
            case .database:
                if c.engine == .sqlite {
                    if !staged.contains(c.name) { try stage(c) }
                    let copy = stagedDatabase[c.name]!
                    if c.check != "none" {
                        let result = try SQLiteDatabase(path: copy, readOnly: true).integrityCheck(quick: c.check == "quick")
                        report.check = result
                        if result == "ok" {
                            recorder.emit(.componentCheck, component: c.name, "PRAGMA \(c.check == "quick" ? "quick_check" : "integrity_check") on the copy: ok")
                        } else {
                            recorder.emit(.databaseCheckFailed, component: c.name, "PRAGMA \(c.check)_check on the copy found problems: \(result); the copy is stored but the database needs attention")
                            problems.append("integrity check: \(result)"); failed = true
                        }
                    }
                    report.version = "SQLite " + SQLiteDatabase.libraryVersion
                    let fd = open(copy, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { throw VaultError.posix("cannot open", path: copy, errno: errno) }
                    defer { close(fd) }
                    var node = try archiver.saveStream(name: FilePath(copy).lastComponent, fd: fd, label: copy, time: clock.now(),
                                                   chunking: .database)
                    // The copy is ours (root, 0600); the snapshot keeps the database's own owner and mode.
                    report.fileOwner = FileOwner.of(c.databasePath!)
                    report.folderOwner = FileOwner.of(StagedPath.parent(c.databasePath!))
                    if let o = report.fileOwner { node.uid = o.uid; node.gid = o.gid; node.mode = o.mode }
                    nodes.append(node)
                } else if c.engine == .postgresql {
                    let client = try PostgresClient(c.postgres!, component: c.name, stateDir: config.stateDir)
                    let pg = PostgresBackup(client: client, archiver: archiver, clock: clock, recorder: recorder, component: c.name, timeout: c.timeout)
                    let o = try pg.store()
                    nodes += o.nodes
                    report.version = o.version
                    report.paths = o.databases
                    report.cluster = o.cluster
                    report.check = o.checks.isEmpty ? nil : o.checks.joined(separator: "; ")
                    if !o.problems.isEmpty { problems += o.problems; failed = true }
                    if !o.checks.isEmpty && o.problems.isEmpty {
                        recorder.emit(.componentCheck, component: c.name, "verified: \(report.check!)")
                    }
                } else {
                    let argv = c.dumpCommand!
                    let proc = try ProcessRunner().spawn(Command(argv, timeout: c.timeout))
                    running.withLock { currentProcess = proc }
                    defer { running.withLock { currentProcess = nil } }
                    let node: Node
                    do {
                        node = try archiver.saveStream(name: Array(c.fileName.utf8), fd: proc.stdoutFD, label: "output of \(argv[0])", time: clock.now(),
                                                       chunking: .database)
                    } catch {
                        proc.terminate(); _ = proc.wait(); throw error
                    }
                    let r = proc.wait()
                    if r.succeeded { nodes.append(node) } else {
                        throw RunFailure(.componentFailed, "dump command \(argv.joined(separator: " ")) \(r.summary)", component: c.name)
                    }
                    report.check = r.stderrText.isEmpty ? nil : "stderr: " + String(r.stderrText.suffix(500))
                }
            }
        } catch let f as RunFailure {
            failed = true; problems.append(f.message)
        } catch let e as VaultError where e.code == .noSpace {
            failed = true; problems.append(e.message)
            report.result = "failed"; report.message = e.message
            return (nil, report)
        } catch {
            failed = true; problems.append((error as? VaultError)?.message ?? "\(error)")
        }
        let after = archiver.currentSummary
        report.files = (after.filesNew + after.filesChanged + after.filesUnmodified) - (before.filesNew + before.filesChanged + before.filesUnmodified)
        report.bytes = after.bytesProcessed - before.bytesProcessed
        report.bytesAdded = after.bytesAdded - before.bytesAdded
        report.durationSeconds = monotonicSeconds() - start
        let copied = copyTimes[c.name] ?? (startedAt, clock.now())
        report.copyStarted = copied.0
        report.copyFinished = copied.1
        let unreadable = archiver.progress.errors.dropFirst(errorsBefore).map { "\($0.path): \($0.message)" }
        if !unreadable.isEmpty { report.unreadable = Array(unreadable.prefix(100)) }
        // Files that changed while read, twice (not frozen by a writer): stored, but maybe inconsistent.
        let changed = archiver.progress.changedFilesInOrder.dropFirst(changedBefore)
        if !changed.isEmpty {
            problems.append("\(changed.count) changed while read (stored as read the second time; freeze their writer): "
                            + changed.prefix(3).joined(separator: "; "))
        }
        let sizes = "\(report.files) files, \(Bytes.text(report.bytes)), \(Bytes.text(report.bytesAdded)) new, \(formatSeconds(report.durationSeconds))"
        if failed {
            report.result = "failed"
            report.message = problems.joined(separator: "; ")
            recorder.emit(.componentFailed, component: c.name, report.message!)
            // A database whose check failed is still kept (marked failed): it may be the best copy there is.
            if !nodes.isEmpty && ((report.check != nil && c.engine == .sqlite) || c.engine == .postgresql) {
                return (try? folderNode(c.name, archiver.saveTree(nodes: nodes), mode: 0o700), report)
            }
            return (nil, report)
        }
        if !problems.isEmpty || !unreadable.isEmpty {
            report.result = "partial"
            report.message = (problems + (unreadable.isEmpty ? [] : ["\(unreadable.count) unreadable: \(unreadable.prefix(3).joined(separator: "; "))"])).joined(separator: "; ")
            recorder.emit(.componentPartial, component: c.name, "stored with problems (\(sizes)): \(report.message!)")
        } else {
            report.result = "ok"
            let extra = report.version.map { ", version \($0)" } ?? ""
            recorder.emit(.componentSucceeded, component: c.name, "stored: \(sizes)\(extra)")
        }
        do { return (folderNode(c.name, try archiver.saveTree(nodes: nodes), mode: 0o700), report) } catch {
            report.result = "failed"; report.message = "\(error)"
            return (nil, report)
        }
    }

    func installedVersion(_ c: ComponentConfig) throws -> String {
        if let v = c.version { return v }
        let argv = c.versionCommand!
        let r = try ProcessRunner().run(Command(argv, timeout: c.timeout))
        guard r.succeeded else { throw RunFailure(.componentFailed, "version command \(argv.joined(separator: " ")) \(r.summary)", component: c.name) }
        let v = r.stdoutText.split(separator: "\n").first.map(String.init)?.trimmingChars(" \t\r") ?? ""
        guard !v.isEmpty else { throw RunFailure(.componentFailed, "version command \(argv.joined(separator: " ")) printed nothing", component: c.name) }
        return v
    }

    func folderNode(_ name: String, _ tree: ID, mode: UInt32) -> Node {
        let now = clock.now().nanoseconds
        return Node(name: Array(name.utf8), type: .directory, mode: mode, uid: UInt32(getuid()), gid: UInt32(getgid()),
                    mtime: now, ctime: now, subtree: tree)
    }
}

func formatSeconds(_ s: Double) -> String {
    s < 10 ? "\((s * 100).rounded() / 100) s" : "\(Int(s.rounded())) s"
}
