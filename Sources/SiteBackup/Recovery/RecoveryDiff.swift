#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore
import VaultFileSystem
import VaultRepository
import VaultRestorer

/// What a recovery would change on disk (`site recover --dry-run`): entries that differ from the
/// snapshot (size, time or type), missing ones, and ones only on disk; unified diffs for config.
enum RecoveryDiff {
    struct Summary {
        var same = 0
        var changed: [String] = []
        var missing: [String] = []
        var extra: [String] = []

        var text: String {
            var parts = ["\(same) unchanged", "\(changed.count) differ", "\(missing.count) missing on disk"]
            if !extra.isEmpty { parts.append("\(extra.count) on disk only (would be moved aside)") }
            var out = parts.joined(separator: ", ")
            for (label, list) in [("differs", changed), ("missing", missing), ("on disk only", extra)] where !list.isEmpty {
                out += "\n  " + list.prefix(20).map { "\(label): \($0)" }.joined(separator: "\n  ") + (list.count > 20 ? "\n  … \(list.count - 20) more" : "")
            }
            return out
        }
    }

    static func compare(_ repo: Repository, node: Node, path: String, into s: inout Summary) throws {
        var st = stat()
        let exists = lstat(path, &st) == 0
        let kind = st.st_mode & S_IFMT
        switch node.type {
        case .directory:
            guard exists, kind == S_IFDIR else { s.missing.append(path); return }
            let children = try node.subtree.map { try repo.loadTree($0).nodes } ?? []
            let names = Set(children.map(\.name))
            for ch in children where ch.hasSafeName { try compare(repo, node: ch, path: path + "/" + ch.displayName, into: &s) }
            for e in (try? FileSystem.list(FilePath(path))) ?? [] where !names.contains(e) { s.extra.append(path + "/" + Node.display(e)) }
        case .file:
            guard exists, kind == S_IFREG else { s.missing.append(path); return }
            let mtime = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
            if UInt64(st.st_size) != node.size || mtime != node.mtime { s.changed.append(path) } else { s.same += 1 }
        case .symlink:
            guard exists, kind == S_IFLNK else { s.missing.append(path); return }
            if (try? FileSystem.readLink(FilePath(path))) != node.linkTarget { s.changed.append(path) } else { s.same += 1 }
        default:
            if exists { s.same += 1 } else { s.missing.append(path) }
        }
    }

    /// `diff -u` of the file on disk against the snapshot's (nil when equal).
    static func unified(_ repo: Repository, node: Node, path: String, label: String, redact: Bool) throws -> String? {
        try unified(current: StagedPath.exists(path) ? path : "/dev/null", label: path, repo: repo, node: node, snapshotLabel: label, redact: redact)
    }

    /// With `redact`, values of secret-looking keys are hidden (SecretRedaction).
    static func unified(current: String, label: String, repo: Repository, node: Node, snapshotLabel: String, redact: Bool) throws -> String? {
        try withTemporaryFile({ fd, tmp in try SnapshotFile.write(repo, node: node, to: fd, label: tmp) }) { tmp in
            let r = try ProcessRunner().run(Command(["diff", "-u", "--label", label + " (now)", "--label", label + " (" + snapshotLabel + ")", current, tmp], timeout: 60))
            guard r.exitCode != 0 else { return nil }
            let diff = redact ? SecretRedaction.text(r.stdoutText) : r.stdoutText
            return diff + (r.stdoutTruncated ? "\n… (the diff is longer than \(ProcessRunner().stdoutLimit >> 20) MiB: cut here)" : "")
        }
    }

    /// `diff -u` of a text (a setting's current output) against a snapshot file.
    static func unified(text: [UInt8], label: String, repo: Repository, node: Node, snapshotLabel: String, redact: Bool) throws -> String? {
        try withTemporaryFile({ fd, tmp in
            guard text.withUnsafeBytes({ writeAll(fd, $0) }) else { throw VaultError.posix("cannot write", path: tmp, errno: errno) }
        }) { tmp in
            try unified(current: tmp, label: label, repo: repo, node: node, snapshotLabel: snapshotLabel, redact: redact)
        }
    }

    /// A private temporary file, filled by `fill`, handed to `use`, removed afterwards.
    static func withTemporaryFile<T>(_ fill: (Int32, String) throws -> Void, _ use: (String) throws -> T) throws -> T {
        var template = Array("/tmp/sitevault-diff-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw VaultError.posix("cannot create a temporary file", path: "/tmp", errno: errno) }
        let tmp = String(cString: template)
        defer { unlink(tmp) }
        do { try fill(fd, tmp) } catch { close(fd); throw error }
        close(fd)
        return try use(tmp)
    }
}
