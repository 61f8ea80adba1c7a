#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultArchiver
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// After the swap: databases renamed into place or fed to their restore command; at the end,
/// what was replaced removed only when everything came back.
extension SiteRecovery {
    /// Replays a component's databases into their (running) server, or feeds a dump to its restore command.
    func replay(_ item: Item) throws {
        let mode = item.report.kind == .database ? self.mode(for: item.report) : .restore
        if let (pg, _) = item.postgres, mode == .restore || mode == .new {
            var lines: [String] = item.out.detail.map { [$0] } ?? []
            for (name, staged) in item.stagedDatabases where staged != name {
                if try pg.exists(name) {
                    let side = String((name + "_replaced_" + runID.prefix(8)).utf8.prefix(63)) ?? name + "_old"
                    try pg.rename(name, to: side)
                    item.renamed.append((name, side))
                }
                do { try pg.rename(staged, to: name) } catch {
                    // The live database goes back to its name; the restored copy stays for the operator.
                    if let r = item.renamed.last, r.original == name, (try? pg.rename(r.side, to: name)) != nil { item.renamed.removeLast() }
                    throw VaultError(.io, "the restored copy \(staged) could not take the name \(name): \((error as? VaultError)?.message ?? "\(error)"); it is kept as \(staged)")
                }
            }
            item.stagedDatabases.removeAll()
            if !item.renamed.isEmpty { lines.append("replaced databases renamed to \(item.renamed.map(\.side).joined(separator: ", "))") }
            item.out.detail = lines.joined(separator: "; ")
            item.out.result = "ok"
            item.out.action = mode == .new ? "created" : "restored"
            item.out.replaced = item.renamed.map(\.side)
            recorder.emit(.recoveryStep, component: item.report.name, item.out.detail!)
        }
        if let (argv, node) = item.commandRestore {
            let (repo, _) = try archive.component(item.report.name)
            let (r, _) = try SnapshotFeed.run(Command(argv, timeout: item.config?.timeout ?? 3600), repo: repo, node: node, label: argv[0])
            guard r.succeeded else { throw VaultError(.io, "restore command \(argv.joined(separator: " ")) \(r.summary)") }
            item.out.result = "ok"; item.out.action = "restored"; item.out.bytes = node.size
            recorder.emit(.recoveryStep, component: item.report.name, "dump (\(Bytes.text(node.size))) fed to \(argv.joined(separator: " ")): exit 0")
        }
        item.out.seconds = monotonicSeconds() - item.started
    }

    /// Once the recovery is over: what was replaced goes when everything came back (unless
    /// kept); on any failure it all stays, named in the report.
    func cleanUpReplaced() {
        guard !wasAborted else { return }
        let success = report.result == "recovered"
        // Restored copies that never took their name (refused, failed elsewhere) are only copies.
        for item in items where options.drill == nil {
            guard let (pg, _) = item.postgres else { continue }
            for (_, staged) in item.stagedDatabases { try? pg.drop(staged) }
            item.stagedDatabases.removeAll()
        }
        for item in items {
            guard success else { item.out.replaced = item.keptAside; continue }
            for st in item.staged { st.finish(keep: options.keepReplaced) }
            var kept = options.keepReplaced ? item.sideFolders : []
            if let (pg, _) = item.postgres {
                for r in item.renamed {
                    if options.keepReplaced { kept.append(r.side) } else {
                        do { try pg.drop(r.side) } catch { kept.append(r.side) }
                    }
                }
            }
            item.out.replaced = kept
        }
        report.kept = Array(Set(report.kept + items.flatMap(\.out.replaced))).sorted()
    }

}
