import VaultCore
import VaultRepository

/// One difference between two snapshots.
public struct DiffEntry: Codable, Sendable {
    /// "+" added, "-" removed, "M" content changed, "U" metadata changed, "T" type changed.
    public var change: String
    public var path: String
}

/// Compares two snapshot trees path by path; identical subtrees are skipped by id.
public struct Differ: Sendable {
    let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    public func diff(_ a: ID, _ b: ID) throws -> [DiffEntry] {
        var out: [DiffEntry] = []
        try compare(a, b, prefix: "", into: &out)
        return out
    }

    func compare(_ a: ID?, _ b: ID?, prefix: String, into out: inout [DiffEntry]) throws {
        if a == b { return }
        let ta = try a.map { try repository.loadTree($0).nodes } ?? []
        let tb = try b.map { try repository.loadTree($0).nodes } ?? []
        var ia = 0, ib = 0
        while ia < ta.count || ib < tb.count {
            let na = ia < ta.count ? ta[ia] : nil
            let nb = ib < tb.count ? tb[ib] : nil
            if let na, nb == nil || na.name.lexicographicallyPrecedes(nb!.name) {
                try listAll(na, prefix: prefix, change: "-", into: &out); ia += 1
            } else if let nb, na == nil || nb.name.lexicographicallyPrecedes(na!.name) {
                try listAll(nb, prefix: prefix, change: "+", into: &out); ib += 1
            } else if let na, let nb {
                let path = prefix + "/" + nb.displayName
                if na.type != nb.type {
                    out.append(DiffEntry(change: "T", path: path))
                } else if na.type == .directory {
                    if na.mode != nb.mode || na.uid != nb.uid || na.gid != nb.gid { out.append(DiffEntry(change: "U", path: path + "/")) }
                    try compare(na.subtree, nb.subtree, prefix: path, into: &out)
                } else if na.content != nb.content || na.linkTarget != nb.linkTarget {
                    out.append(DiffEntry(change: "M", path: path))
                } else if na.mode != nb.mode || na.uid != nb.uid || na.gid != nb.gid || na.mtime != nb.mtime || na.xattrs != nb.xattrs {
                    out.append(DiffEntry(change: "U", path: path))
                }
                ia += 1; ib += 1
            }
        }
    }

    func listAll(_ n: Node, prefix: String, change: String, into out: inout [DiffEntry]) throws {
        let path = prefix + "/" + n.displayName
        out.append(DiffEntry(change: change, path: n.type == .directory ? path + "/" : path))
        if let s = n.subtree { for c in try repository.loadTree(s).nodes { try listAll(c, prefix: path, change: change, into: &out) } }
    }
}
