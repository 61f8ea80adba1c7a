#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// Databases: SQLite copies staged and checked, PostgreSQL dumps prepared for replay (or checked,
/// or written as files under a target), base backups extracted, dump-command databases fed to
/// their restore command.
extension SiteRecovery {
    func prepareDatabase(_ item: Item) async throws {
        let r = item.report
        let mode = mode(for: r)
        item.out.action = mode == .skip ? "skipped" : mode.rawValue
        switch r.engine {
        case "sqlite":
            try await prepareSQLite(item, mode: mode)
        case "postgresql":
            try await preparePostgres(item, mode: mode)
        default:
            try await prepareCommand(item, mode: mode)
        }
        if options.dryRun && mode != .skip && item.out.result != "failed" {
            item.out.result = "ok"
            if mode == .restore { item.out.action = "would restore" } else if mode == .new { item.out.action = "would create" }
        }
    }

    func prepareSQLite(_ item: Item, mode: DatabaseMode) async throws {
        guard let path = item.report.paths.first else { throw VaultError(.invalidFormat, "the snapshot does not say where the database was") }
        let dest = destination(path)
        item.out.destinations = [dest]
        switch mode {
        case .skip:
            item.out.result = "skipped"; return
        case .useExisting:
            let db = try SQLiteDatabase(path: dest, readOnly: true)
            let check = try db.integrityCheck(quick: true)
            guard check == "ok" else { throw VaultError(.corrupt, "the existing database \(dest) fails quick_check: \(check)") }
            let tables = try db.tableCount()
            item.out.version = "SQLite " + SQLiteDatabase.libraryVersion
            item.out.detail = "existing database \(dest) answers: quick_check ok, \(tables) tables"
            item.out.result = "ok"
            if !options.dryRun { recorder.emit(.recoveryStep, component: item.report.name, item.out.detail!) }
            return
        case .restore, .new:
            break
        }
        let (repo, tree) = try archive.component(item.report.name)
        let name = StagedPath.base(path)
        guard let node = try SnapshotFile.node(repo, tree: tree, path: "/" + name) else {
            throw VaultError(.notFound, "the snapshot holds no copy of \(path)")
        }
        if options.dryRun {
            let now = StagedPath.exists(dest) ? "current file \(StagingCopy.size(of: dest)) bytes" : "no database there now"
            item.out.diff = "\(dest): would be \(mode == .new ? "replaced by an empty database with the snapshot's schema" : "replaced by the snapshot's copy (\(node.size) bytes)") (\(now))"
            return
        }
        let folderOwner = item.report.folderOwner
        try StagedPath.makeParents(dest) { $0 == StagedPath.parent(dest) ? folderOwner : nil }
        let staged = stagedPath(for: dest)
        let res = try await staged.stage(repo, folder: tree, node: node)
        // The staged file has the snapshot's name; the database's own name may differ only by target.
        let copy = staged.staged
        let check = try SQLiteDatabase(path: copy, readOnly: true).integrityCheck(quick: false)
        guard check == "ok" else { throw VaultError(.corrupt, "the snapshot's copy of \(path) fails integrity_check: \(check)") }
        if mode == .new { try emptyCopy(of: copy) }
        // The database's owner and mode as recorded (by name: ids may differ on a rebuilt machine).
        if let owner = item.report.fileOwner { try owner.apply(to: copy) }
        item.staged = [staged]
        if mode == .restore { item.expected = [(dest, repo, node)] }
        item.aside = [(0, dest + "-wal"), (0, dest + "-shm"), (0, dest + "-journal")]
        item.out.files = 1; item.out.bytes = res.bytes
        item.out.version = "SQLite " + SQLiteDatabase.libraryVersion
        item.out.detail = mode == .new ? "empty database created from the snapshot's schema" : "integrity_check ok on the restored copy"
        item.out.result = "ok"
    }

    /// Replaces an SQLite file by an empty database with the same schema.
    func emptyCopy(of path: String) throws {
        let schema = try SQLiteDatabase(path: path, readOnly: true)
            .query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 ELSE 2 END, rowid")
            .compactMap { $0.first?.text }
        unlink(path)
        let db = try SQLiteDatabase(path: path, create: true)
        for sql in schema { try db.execute(sql) }
    }

    func preparePostgres(_ item: Item, mode: DatabaseMode) async throws {
        let (repo, tree) = try archive.component(item.report.name)
        let contents = PostgresRestore.contents(try repo.loadTree(tree).nodes)
        if contents.baseBackup != nil {
            try await preparePhysical(item, repo: repo, tree: tree, contents: contents, mode: mode)
            return
        }
        if mode == .skip {
            if let target {
                // Relocated recovery: the dumps are written as files, for pg_restore by hand.
                let dir = target + "/" + item.report.name
                item.out.destinations = [dir]
                if options.dryRun { item.out.diff = "dumps of \(contents.dumps.map(\.database).joined(separator: ", ")) would be written to \(dir)"; return }
                var o = RestoreOptions(target: dir); o.overwrite = true
                let r = try await Restorer(repository: repo, tree: tree, options: o).run()
                item.out.files = r.files; item.out.bytes = r.bytes
                item.out.action = "written as files"; item.out.result = "ok"
                item.out.detail = "dumps written to \(dir) (pg_restore -d DATABASE FILE.dump); the server was not touched"
                return
            }
            item.out.result = "skipped"; return
        }
        guard let settings = item.config?.postgres else {
            throw VaultError(.invalidArgument, "the control file has no [[component]] \(item.report.name) with PostgreSQL connection settings")
        }
        let client = try PostgresClient(settings, component: item.report.name, stateDir: config.stateDir)
        let pg = PostgresRestore(client: client, repo: repo, component: item.report.name, timeout: item.config?.timeout ?? 3600)
        let version = try client.query("SHOW server_version").first?.first ?? "?"
        item.out.version = "PostgreSQL \(version)"
        item.postgres = (pg, contents)
        item.out.destinations = contents.dumps.map { "\(databaseName($0.database, item)) on \(client.target)" }
        switch mode {
        case .useExisting:
            var lines: [String] = []
            for d in contents.dumps {
                let name = databaseName(d.database, item)
                guard try pg.exists(name) else { throw VaultError(.notFound, "database \(name) does not exist on \(client.target): restore it (--database restore) or create it first") }
                lines.append("\(name) answers (PostgreSQL \(version), \(try pg.tableCount(name)) tables)")
            }
            item.out.detail = lines.joined(separator: "; ")
            item.out.result = "ok"
            if !options.dryRun { recorder.emit(.recoveryStep, component: item.report.name, "existing database " + item.out.detail!) }
        case .restore, .new:
            var lines: [String] = []
            for d in contents.dumps {
                let name = databaseName(d.database, item)
                let exists = try pg.exists(name)
                if mode == .new && exists {
                    throw VaultError(.targetNotEmpty, "database \(name) already exists on \(client.target): --database new creates an empty one; drop it, choose another name with --database-name, or use --database restore")
                }
                lines.append(mode == .new ? "would create \(name) with the schema of \(d.database)" :
                                "would restore \(d.database) as \(name)\(exists ? " (the current one renamed aside)" : "")")
            }
            if options.dryRun { item.out.diff = lines.joined(separator: "\n"); return }
            try stageDumps(item, pg: pg, contents: contents, mode: mode)
        case .skip: break
        }
    }

    /// Each dump is restored into a database of its own while the application still runs (a
    /// scratch database in a drill, else NAME_sv_RUN); the swap only renames: the live database
    /// aside, the restored one into its name. A dump that does not restore fails the component
    /// before anything was replaced.
    func stageDumps(_ item: Item, pg: PostgresRestore, contents: PostgresRestore.Contents, mode: DatabaseMode) throws {
        let superuser = pg.isSuperuser()
        var lines: [String] = []
        // Roles first: a dump restored with its owners needs them (existing ones are counted, not fatal).
        if mode == .restore, options.drill == nil, let g = contents.globals {
            lines.append(superuser ? try pg.applyGlobals(g) : "globals.sql not replayed (user \(pg.client.settings.user) is not a superuser)")
        }
        for d in contents.dumps {
            let name = databaseName(d.database, item)
            let staged = options.drill != nil ? name : String((name + "_sv_" + runID.prefix(8)).utf8.prefix(63)) ?? name + "_sv"
            try pg.drop(staged)
            try pg.create(staged)
            item.stagedDatabases.append((name, staged))
            if options.drill != nil { drillDatabases.onCleanup { try? pg.drop(staged) } }
            do {
                try pg.restore(d.node, into: staged, schemaOnly: mode == .new, keepOwners: superuser && options.drill == nil)
            } catch {
                try? pg.drop(staged)
                item.stagedDatabases.removeLast()
                throw error
            }
            let tables = (try? pg.tableCount(staged)) ?? 0
            lines.append("\(d.database) \(mode == .new ? "created empty (schema only) as" : "restored as") \(name): \(tables) tables")
        }
        item.out.detail = lines.joined(separator: "; ")
    }

    func preparePhysical(_ item: Item, repo: Repository, tree: ID, contents: PostgresRestore.Contents, mode: DatabaseMode) async throws {
        if mode == .skip || mode == .useExisting && target == nil { item.out.result = "skipped"; item.out.detail = "base backup not restored (--database \(mode.rawValue))"; return }
        guard let target else {
            try await prepareClusterInPlace(item, contents: contents, repo: repo, mode: mode)
            return
        }
        if options.drill != nil {
            try await startDrillCluster(item, repo: repo, contents: contents, sandbox: target)
            return
        }
        let dir = target + "/" + item.report.name + "/pgdata"
        item.out.destinations = [dir]
        if options.dryRun { item.out.diff = "base backup would be extracted into \(dir)"; return }
        guard !StagedPath.exists(dir) || ((try? FileSystem.list(FilePath(dir)))?.isEmpty ?? false) else {
            throw VaultError(.targetNotEmpty, "\(dir) is not empty: a data directory is extracted only into an empty folder")
        }
        try makeFolder(dir, mode: 0o755)
        try extractBaseBackup(contents.baseBackup!, repo: repo, into: dir, timeout: item.config?.timeout ?? 3600)
        // Owned by the cluster's user, so that pg_ctl can start it as that user.
        let owner = item.report.cluster?.owner ?? Self.postgresUser()
        if let owner {
            _ = try Self.prepareDataDirectory(dir, owner: owner)
        }
        item.out.action = "written as files"; item.out.result = "ok"
        item.out.bytes = contents.baseBackup!.size
        let user = owner?.user ?? "postgres"
        item.out.detail = "data directory extracted into \(dir)\(owner.map { " (owner \($0.description))" } ?? ""): start it with runuser -u \(user) -- pg_ctl -D \(dir) -o '-p PORT' start (on a free port if the old server still runs)"
    }

    /// A drill: the base backup becomes a temporary cluster on a free port with a private socket
    /// (in the sandbox, or, as root, in a private /var/tmp folder the postgres user can enter),
    /// started and waited for like a recovered one.
    func startDrillCluster(_ item: Item, repo: Repository, contents: PostgresRestore.Contents, sandbox: String) async throws {
        let settings = item.config?.postgres ?? PostgresSettings()
        let cluster = try TemporaryCluster(sandbox: sandbox + "/" + item.report.name + "/pgdata", bin: try PostgresClient.binaries(settings.binDir))
        drillDatabases.add(cluster)
        item.out.destinations = [cluster.dataDir]
        let timeout = item.config?.timeout ?? 3600
        try extractBaseBackup(contents.baseBackup!, repo: repo, into: cluster.dataDir, timeout: timeout)
        let me = FileOwner(uid: geteuid(), gid: getegid(), mode: 0o700)
        _ = try Self.prepareDataDirectory(cluster.dataDir, owner: geteuid() == 0 ? Self.postgresUser() ?? me : me)
        try cluster.start(timeout: min(timeout, 600))
        item.out.action = "restored"; item.out.result = "ok"
        item.out.bytes = contents.baseBackup!.size
        item.out.detail = "base backup (\(Bytes.text(contents.baseBackup!.size))) extracted into \(cluster.dataDir) and started on port \(cluster.port) (socket in \(cluster.socketDir)), WAL replayed to a consistent state"
    }

    func prepareCommand(_ item: Item, mode: DatabaseMode) async throws {
        let (repo, tree) = try archive.component(item.report.name)
        guard let node = try repo.loadTree(tree).nodes.first(where: { $0.type == .file }) else { throw VaultError(.notFound, "the snapshot holds no dump for \(item.report.name)") }
        if let target {
            let dir = target + "/" + item.report.name
            item.out.destinations = [dir + "/" + node.displayName]
            if options.dryRun { item.out.diff = "dump would be written to \(dir)"; return }
            var o = RestoreOptions(target: dir); o.overwrite = true
            let r = try await Restorer(repository: repo, tree: tree, options: o).run()
            item.out.files = r.files; item.out.bytes = r.bytes; item.out.action = "written as files"; item.out.result = "ok"
            return
        }
        guard mode == .restore else { item.out.result = "skipped"; item.out.detail = "a dump-command database supports --database restore (through restore_command) or skip"; return }
        guard let argv = item.config?.restoreCommand else {
            throw VaultError(.invalidArgument, "component \(item.report.name) has no restore_command: recover it by hand with `sitevault dump \(archive.snapshot.id.short) /\(item.report.name)/\(node.displayName) | YOUR-RESTORE-PROGRAM`, or pass --database skip")
        }
        if options.dryRun { item.out.diff = "the dump (\(node.size) bytes) would be fed to \(argv.joined(separator: " "))"; return }
        item.commandRestore = (argv, node)
    }
}
