#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultArchiver
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// Swapping the restored copies in, outer paths first, and checking them in place.
extension SiteRecovery {
    // MARK: swapping in

    /// Swaps every staged path in, outer paths before the paths inside them. Paths of components
    /// that this recovery leaves alone but that lie inside a swapped folder are carried over from
    /// the replaced folder into the restored one, so nothing live is moved aside and deleted.
    func swapAll() throws {
        let order = items.filter { !$0.failed }.flatMap { item in item.staged.indices.map { (item, $0) } }
            .sorted { $0.0.staged[$0.1].destination.split(separator: "/").count < $1.0.staged[$1.1].destination.split(separator: "/").count }
        let leftAlone = keptInPlace()
        for (item, i) in order where !item.failed {
            do {
                for (j, extra) in item.aside where j == i { try item.staged[i].moveAside(extra) }
                try item.staged[i].swap()
                item.out.replaced = item.sideFolders
                let st = item.staged[i]
                if st.replaced {
                    for keep in leftAlone where keep != st.destination && StagedPath.isInside(keep, st.destination) {
                        try carryOver(keep, from: st)
                    }
                    if let c = item.config, c.kind != .database, !c.excludes.isEmpty || !c.includes.isEmpty {
                        try carryOverUnsaved(st, filter: PathFilter(excludes: c.excludes, includes: c.includes), component: item.report.name)
                    }
                }
            } catch {
                item.fail(error, step: "swapping in")
                item.out.replaced = item.keptAside
                recorder.emit(.recoveryStepFailed, component: item.report.name, "\(item.out.detail!)\(item.out.replaced.isEmpty ? "" : "; what it replaced is kept in \(item.out.replaced.joined(separator: ", "))")")
            }
        }
        for item in items where !item.failed && !item.staged.isEmpty {
            item.out.action = item.report.kind == .database ? (mode(for: item.report) == .new ? "created" : "restored") : "restored"
            item.out.result = "ok"
            recorder.emit(.recoveryStep, component: item.report.name,
                          "restored \(item.out.files) files, \(Bytes.text(item.out.bytes)) to \(item.staged.map(\.destination).joined(separator: ", "))\(item.out.detail.map { "; \($0)" } ?? "")")
        }
    }

    /// Paths this recovery must not replace: components of the snapshot or the control file that
    /// are not recovered now (not selected, failed, databases skipped or used as they are), with
    /// an SQLite database's -wal/-shm/-journal.
    func keptInPlace() -> [String] {
        let swapped = Set(items.filter { !$0.failed }.flatMap { $0.staged.map(\.destination) })
        var paths: [String] = []
        func add(_ p: String, sqlite: Bool) {
            let d = destination(p)
            guard !swapped.contains(d) else { return }
            paths.append(d)
            if sqlite { paths += ["-wal", "-shm", "-journal"].map { d + $0 } }
        }
        for c in archive.manifest.components {
            for p in c.kind == .database ? Array(c.paths.prefix(c.engine == "sqlite" ? 1 : 0)) : c.paths { add(p, sqlite: c.engine == "sqlite") }
        }
        for c in config.components {
            if let db = c.databasePath, c.engine == .sqlite { add(db, sqlite: true) }
            if c.kind != .database { for p in c.paths { add(p, sqlite: false) } }
        }
        return Array(Set(paths)).sorted()
    }

    /// After the swap, every restored path must hold what the snapshot says (sizes, times and
    /// types; entries belonging to other components are theirs to check).
    func verifyInPlace(_ item: Item) {
        let others = items.filter { $0 !== item }.flatMap { $0.staged.map(\.destination) }
        var wrong: [String] = []
        for e in item.expected {
            var s = RecoveryDiff.Summary()
            do { try RecoveryDiff.compare(e.repo, node: e.node, path: e.destination, into: &s) } catch {
                wrong.append("\(e.destination): \(error)"); continue
            }
            wrong += (s.missing.map { "missing: \($0)" } + s.changed.map { "differs: \($0)" }).filter { w in
                !others.contains { StagedPath.isInside(String(w.drop { $0 != "/" }), $0) }
            }
        }
        if !wrong.isEmpty {
            item.fail(VaultError(.corrupt, "\(wrong.count) path(s) are not as the snapshot says after the swap: \(wrong.prefix(5).joined(separator: "; "))"), step: "checking in place")
            recorder.emit(.recoveryStepFailed, component: item.report.name, item.out.detail!)
        }
    }

}
