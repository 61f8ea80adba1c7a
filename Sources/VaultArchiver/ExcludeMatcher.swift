#if canImport(Glibc)
import Glibc
#endif
import VaultFileSystem

/// Exclude patterns (shell globs): a pattern without "/" matches a name anywhere in the tree;
/// a pattern with "/" matches the whole absolute path (and everything below it).
struct ExcludeMatcher: Sendable {
    let namePatterns: [String]
    let pathPatterns: [String]
    init(_ patterns: [String]) {
        namePatterns = patterns.filter { !$0.contains("/") }
        pathPatterns = patterns.filter { $0.contains("/") }.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    func excludes(path: FilePath, name: [UInt8]) -> Bool {
        if namePatterns.isEmpty && pathPatterns.isEmpty { return false }
        for p in namePatterns where FilePath(name).withCString({ fnmatch(p, $0, 0) }) == 0 { return true }
        for p in pathPatterns where path.withCString({ fnmatch(p, $0, FNM_PATHNAME) }) == 0 { return true }
        return false
    }
}
