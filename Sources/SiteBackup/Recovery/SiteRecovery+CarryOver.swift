#if canImport(Glibc)
import Glibc
#endif
import VaultArchiver
import VaultCore
import VaultFileSystem

/// What a swapped folder held that the snapshot has no copy of must not be deleted with the side
/// folder: the live paths of components this recovery leaves alone, and entries the component's
/// own filter never saves (excluded caches, files outside its includes). Both are moved back from
/// the replaced folder into the restored one.
extension SiteRecovery {
    /// Moves `path` back from the side folder of the swapped `outer` into the restored tree; what
    /// the restored tree held there goes to the side folder instead.
    func carryOver(_ path: String, from outer: StagedPath) throws {
        let old = outer.side + String(path.dropFirst(outer.destination.count))
        guard StagedPath.exists(old) else { return }
        if StagedPath.exists(path) {
            try StagedPath.rename(path, outer.sideDir + "/superseded-" + StagedPath.base(path) + "-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) }))
        }
        if !StagedPath.exists(StagedPath.parent(path)) { try StagedPath.makeParents(path) }
        try StagedPath.rename(old, path)
        recorder.emit(.recoveryStep, "kept \(path) in place (not recovered by this run): carried over into the restored \(outer.destination)")
    }

    /// Entries of the replaced folder that the backup does not save go back into the restored
    /// folder (an excluded folder moves whole; nothing the snapshot restored is overwritten).
    func carryOverUnsaved(_ st: StagedPath, filter: PathFilter, component: String) throws {
        var moved: [String] = []
        func original(_ p: String) -> String { target.map { String(p.dropFirst($0.count)) } ?? p }
        func walk(_ rel: String) throws {
            let oldDir = st.side + rel
            for name in (try? FileSystem.list(FilePath(oldDir))) ?? [] {
                let r = rel + "/" + String(decoding: name, as: UTF8.self)
                var info = stat()
                guard lstat(st.side + r, &info) == 0 else { continue }
                let isDir = info.st_mode & S_IFMT == S_IFDIR
                let restored = st.destination + r
                if !filter.saves(path: FilePath(original(restored)), name: name, type: isDir ? .directory : .file) {
                    guard !StagedPath.exists(restored), StagedPath.exists(StagedPath.parent(restored)) else { continue }
                    try StagedPath.rename(st.side + r, restored)
                    moved.append(restored)
                } else if isDir && StagedPath.exists(restored) {
                    try walk(r)
                }
            }
        }
        try walk("")
        if !moved.isEmpty {
            recorder.emit(.recoveryStep, component: component, "kept \(moved.count) entr\(moved.count == 1 ? "y" : "ies") that the backup excludes (no copy in the snapshot), moved back into the restored folder: \(moved.prefix(5).joined(separator: ", "))\(moved.count > 5 ? ", …" : "")")
        }
    }
}
