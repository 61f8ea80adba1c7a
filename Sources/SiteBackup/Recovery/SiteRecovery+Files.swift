#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// Files, captured settings and install media: restored into work folders beside their
/// destinations (or, dry run, compared with what is there).
extension SiteRecovery {
    func prepareFiles(_ item: Item) async throws {
        let (repo, tree) = try archive.component(item.report.name)
        let label = "snapshot \(archive.snapshot.id.short)"
        var diffs: [String] = []
        for path in item.report.paths {
            let dest = destination(path)
            guard let node = try SnapshotFile.node(repo, tree: tree, path: "/files" + path),
                  let folder = try SnapshotFile.subtree(repo, tree: tree, path: "/files" + StagedPath.parent(path)) else {
                diffs.append("\(path): not in the snapshot (it did not exist when the backup ran)")
                continue
            }
            item.out.destinations.append(dest)
            if options.dryRun {
                if item.report.kind == .config && node.type == .file {
                    if let d = try RecoveryDiff.unified(repo, node: node, path: dest, label: label, redact: !options.showSecrets) { diffs.append(d) } else { diffs.append("\(dest): unchanged") }
                } else {
                    var s = RecoveryDiff.Summary()
                    try RecoveryDiff.compare(repo, node: node, path: dest, into: &s)
                    diffs.append("\(dest): " + s.text)
                    if item.report.kind == .config {
                        for p in s.changed + s.missing {
                            if let n = try SnapshotFile.node(repo, tree: tree, path: "/files" + String(p.dropFirst((target ?? "").count))), n.type == .file, n.size < 1 << 20,
                               let d = try RecoveryDiff.unified(repo, node: n, path: p, label: label, redact: !options.showSecrets) { diffs.append(d) }
                        }
                    }
                }
                continue
            }
            // Folders the machine lacks get the snapshot's owners and modes.
            try StagedPath.makeParents(dest) { dir in
                guard let t = self.target.map({ String(dir.dropFirst($0.count)) }) ?? Optional(dir), !t.isEmpty,
                      let n = try? SnapshotFile.node(repo, tree: tree, path: "/files" + t) else { return nil }
                return FileOwner(uid: n.uid, gid: n.gid, mode: n.mode & 0o7777)
            }
            let staged = stagedPath(for: dest)
            let r = try await staged.stage(repo, folder: folder, node: node)
            item.staged.append(staged)
            item.expected.append((dest, repo, node))
            item.out.files += r.files; item.out.bytes += r.bytes
        }
        // Captured settings are command outputs, not files: written beside, for the operator to compare.
        if let settings = try SnapshotFile.node(repo, tree: tree, path: "/settings"), let sub = settings.subtree {
            let dir = (target.map { $0 + "/.sitevault/settings/" } ?? config.stateDir + "/recovered-settings/") + item.report.name
            if options.dryRun {
                for n in try repo.loadTree(sub).nodes where n.type == .file {
                    let name = n.displayName
                    guard let argv = item.config?.settings.first(where: { $0.name == name })?.argv,
                          let now = try? ProcessRunner().run(Command(argv, timeout: 60)) else { diffs.append("setting \(name): no command to compare with"); continue }
                    guard !now.stdoutTruncated else {
                        let limit = ProcessRunner().stdoutLimit >> 20
                        diffs.append("setting \(name): its output now is longer than \(limit) MiB; not compared"); continue
                    }
                    diffs.append(try RecoveryDiff.unified(text: now.stdout, label: "setting \(name)", repo: repo, node: n, snapshotLabel: label, redact: !options.showSecrets) ?? "setting \(name): unchanged")
                }
            } else {
                StagingCopy.remove(dir)
                var o = RestoreOptions(target: dir); o.overwrite = true
                _ = try await Restorer(repository: repo, tree: sub, options: o).run()
                item.out.destinations.append(dir)
                item.out.detail = "captured settings written to \(dir) (command outputs: compare them with the running system)"
            }
        }
        if item.report.kind == .installMedia {
            let version = try SnapshotFile.node(repo, tree: tree, path: "/VERSION").map { n -> String in
                let bytes = try n.content.flatMap { try repo.loadBlob($0) }
                return String(decoding: bytes, as: UTF8.self).trimmingChars(" \n\r\t")
            } ?? item.report.version ?? "?"
            item.out.version = version
            recorder.emit(.recoveryInstallMedia, component: item.report.name,
                          "install media version \(version)\(options.dryRun ? " (would be restored)" : " restored") to \(item.out.destinations.joined(separator: ", ")): reinstall version \(version) of the application first if the system's own packages differ")
        }
        if options.dryRun { item.out.diff = diffs.joined(separator: "\n"); item.out.action = "would restore"; item.out.result = "ok" }
        else {
            item.out.action = "staged"; item.out.result = "ok"
            if !diffs.isEmpty { item.out.detail = ([item.out.detail].compactMap { $0 } + diffs).joined(separator: "; ") }
        }
    }
}
