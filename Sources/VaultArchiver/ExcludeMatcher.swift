#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem

/// Shell-glob patterns: a pattern without "/" matches a name anywhere in the tree;
/// a pattern with "/" matches the whole absolute path (and everything below it).
struct GlobMatcher: Sendable {
    let namePatterns: [String]
    let pathPatterns: [String]
    init(_ patterns: [String]) {
        namePatterns = patterns.filter { !$0.contains("/") }
        pathPatterns = patterns.filter { $0.contains("/") }.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    var isEmpty: Bool { namePatterns.isEmpty && pathPatterns.isEmpty }

    func matches(path: FilePath, name: [UInt8], leadingDir: Bool = false) -> Bool {
        for p in namePatterns where FilePath(name).withCString({ fnmatch(p, $0, 0) }) == 0 { return true }
        let flags = FNM_PATHNAME | (leadingDir ? (1 << 3) /* FNM_LEADING_DIR */ : 0)
        for p in pathPatterns where path.withCString({ fnmatch(p, $0, flags) }) == 0 { return true }
        return false
    }
}

/// Which entries of a tree are saved: excluded entries are skipped (folders with everything below
/// them); when include patterns are given, only files matching one (or lying below a matching
/// folder) are kept, while folders are always walked. Patterns match the path as the operator
/// wrote it, even when the files are read from a staging copy elsewhere.
public struct PathFilter: Sendable {
    let excludes: GlobMatcher
    let includes: GlobMatcher
    /// Bytes stripped from the front of a physical path to get the path patterns are matched on.
    var stripPrefix = 0

    public init(excludes: [String] = [], includes: [String] = []) {
        self.excludes = GlobMatcher(excludes)
        self.includes = GlobMatcher(includes)
    }

    func logical(_ p: FilePath) -> FilePath { stripPrefix == 0 ? p : FilePath(Array(p.bytes.dropFirst(stripPrefix))) }

    func skips(path: FilePath, name: [UInt8]) -> Bool {
        !excludes.isEmpty && excludes.matches(path: logical(path), name: name)
    }

    func keeps(path: FilePath, name: [UInt8], type: NodeType) -> Bool {
        type == .directory || includes.isEmpty || includes.matches(path: logical(path), name: name, leadingDir: true)
    }

    /// Whether a backup saves the entry at `path` (not excluded, and included when includes are given).
    public func saves(path: FilePath, name: [UInt8], type: NodeType) -> Bool {
        !skips(path: path, name: name) && keeps(path: path, name: name, type: type)
    }
}
