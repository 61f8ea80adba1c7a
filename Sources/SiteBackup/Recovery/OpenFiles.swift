#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem

/// Which processes use files under given paths (open descriptors, working directory, mapped
/// files), read from /proc like fuser does: a running application the recovery must not pull the
/// ground from under.
enum OpenFiles {
    struct User: Sendable, Codable { var pid: Int32; var name: String; var path: String }

    static func users(of paths: [String]) -> [User] {
        let roots = paths.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        func hit(_ p: String) -> Bool { roots.contains { p == $0 || p.hasPrefix($0 + "/") } }
        let me = getpid()
        var found: [User] = []
        for entry in (try? FileSystem.list(FilePath("/proc"))) ?? [] {
            guard let pid = Int32(String(decoding: entry, as: UTF8.self)), pid != me else { continue }
            let base = "/proc/\(pid)"
            var where_: String?
            if let cwd = link(base + "/cwd"), hit(cwd) { where_ = cwd }
            if where_ == nil {
                for fd in (try? FileSystem.list(FilePath(base + "/fd"))) ?? [] {
                    if let t = link(base + "/fd/" + String(decoding: fd, as: UTF8.self)), hit(stripDeleted(t)) { where_ = t; break }
                }
            }
            if where_ == nil, let maps = try? ControlFile.readWholeFile(base + "/maps") {
                for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
                    if let slash = line.firstIndex(of: "/"), hit(stripDeleted(String(line[slash...]))) { where_ = String(line[slash...]); break }
                }
            }
            if let w = where_ {
                let comm = (try? ControlFile.readWholeFile(base + "/comm")).map { String(decoding: $0, as: UTF8.self).trimmingChars("\n ") } ?? "?"
                found.append(User(pid: pid, name: comm, path: w))
            }
        }
        return found
    }

    static func link(_ p: String) -> String? {
        (try? FileSystem.readLink(FilePath(p))).map { String(decoding: $0, as: UTF8.self) }
    }

    static func stripDeleted(_ s: String) -> String { s.hasSuffix(" (deleted)") ? String(s.dropLast(10)) : s }
}
