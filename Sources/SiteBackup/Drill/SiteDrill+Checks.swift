#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// The checks a drill runs once the recovery put the site into the sandbox: every restored file
/// read back and compared with the snapshot's chunks, SQLite's integrity_check, the PostgreSQL
/// check query in each scratch database or in the temporary cluster.
extension SiteDrill {
    func check(_ c: ComponentReport, _ archive: SiteArchive, _ recovery: SiteRecovery) async {
        guard let (repo, tree) = try? archive.component(c.name) else { return }
        switch c.engine {
        case "postgresql":
            await checkPostgres(c, recovery)
        case "sqlite":
            guard let path = c.paths.first else { return }
            let copy = recovery.destination(path)
            await checksums(c.name, repo, [(tree, StagedPath.parent(copy))])
            await step(c.name, "integrity_check") {
                let db = try SQLiteDatabase(path: copy, readOnly: true)
                let result = try db.integrityCheck(quick: false)
                guard result == "ok" else { throw VaultError(.corrupt, "PRAGMA integrity_check on the restored copy of \(path) found: \(result)") }
                return "PRAGMA integrity_check ok on the restored copy of \(path) (\(try db.tableCount()) tables)"
            }
        case "command":
            await checksums(c.name, repo, [(tree, recovery.target! + "/" + c.name)])
        default:
            // Each path of the component, where the recovery put it (entries of other components
            // in the same folders are theirs to check).
            var trees: [(ID, String)] = []
            var seen = Set<String>()
            for p in c.paths {
                guard let node = try? SnapshotFile.node(repo, tree: tree, path: "/files" + p) else { continue }
                if node.type == .directory, let sub = node.subtree {
                    trees.append((sub, recovery.destination(p)))
                } else if seen.insert(StagedPath.parent(p)).inserted,
                          let folder = try? SnapshotFile.subtree(repo, tree: tree, path: "/files" + StagedPath.parent(p)) {
                    trees.append((folder, StagedPath.parent(recovery.destination(p))))
                }
            }
            await checksums(c.name, repo, trees)
        }
    }

    private func checksums(_ component: String, _ repo: Repository, _ trees: [(ID, String)]) async {
        await step(component, "checksums") {
            var files = 0, bytes: UInt64 = 0
            var bad: [String] = [], count = 0
            for (tree, dir) in trees {
                let v = try await RestoreVerifier(repository: repo).verify(tree: tree, at: FilePath(dir))
                files += v.files; bytes += v.bytes; count += v.mismatchCount; bad += v.mismatches
            }
            if count > 0 { throw VaultError(.corrupt, "\(count) restored file(s) differ from the snapshot: \(bad.prefix(3).joined(separator: "; "))") }
            return "\(files) files, \(Bytes.text(bytes)) read back, every chunk matches the snapshot"
        }
    }

    private func checkPostgres(_ c: ComponentReport, _ recovery: SiteRecovery) async {
        let settings = config.components.first { $0.name == c.name }?.postgres ?? PostgresSettings()
        if let cluster = recovery.drillDatabases.runningClusters.first {
            guard let client = try? PostgresClient(cluster.settings(user: settings.user), component: c.name + "-drill", stateDir: config.stateDir) else { return }
            let db = settings.verifyDatabase
            await step(c.name, "check") {
                let dbs = try client.query("SELECT count(*) FROM pg_database WHERE NOT datistemplate").first?.first ?? "?"
                if let sql = settings.verifySQL {
                    try client.expectTrue(sql, database: db, place: "in \(db)")
                    return "\(dbs) databases; check query true in \(db): \(sql)"
                }
                return "\(dbs) databases answer (set verify_sql for a real check)"
            }
            return
        }
        guard let client = try? PostgresClient(settings, component: c.name + "-drill", stateDir: config.stateDir) else { return }
        for (original, scratch) in recovery.drillDatabases.databases {
            await step(c.name, "check \(original)") {
                if let sql = settings.verifySQL {
                    try client.expectTrue(sql, database: scratch, place: "on the restored copy of \(original)")
                    return "check query true on the restored copy in \(scratch): \(sql)"
                }
                let rows = try client.query("SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables", database: scratch).first?.first ?? "?"
                return "restored copy \(scratch) answers (\(rows) rows by the statistics; set verify_sql for a real check)"
            }
        }
    }
}
