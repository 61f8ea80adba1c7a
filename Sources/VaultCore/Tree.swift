/// A directory listing: nodes sorted by name bytes. Its binary encoding is deterministic,
/// so an unchanged directory always yields the same tree blob id.
public struct Tree: Hashable, Sendable {
    public var nodes: [Node]
    public init(nodes: [Node]) { self.nodes = nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) } }

    static let magic: [UInt8] = Array("SVT1".utf8)

    /// Binary encoding, documented in docs/repository-format.md.
    public func encode() -> [UInt8] {
        var w = BinaryWriter(capacity: 64 + nodes.count * 96)
        w.raw(Tree.magic)
        w.varint(UInt64(nodes.count))
        for n in nodes {
            w.data(n.name)
            w.u8(n.type.rawValue)
            w.varint(UInt64(n.mode)); w.varint(UInt64(n.uid)); w.varint(UInt64(n.gid))
            w.varint(n.size)
            w.svarint(n.mtime); w.svarint(n.atime); w.svarint(n.ctime)
            w.varint(n.inode); w.varint(n.device); w.varint(n.links); w.varint(n.rdev)
            w.data(n.linkTarget)
            w.varint(UInt64(n.content.count))
            for c in n.content { w.id(c) }
            if let s = n.subtree { w.u8(1); w.id(s) } else { w.u8(0) }
            w.varint(UInt64(n.xattrs.count))
            for x in n.xattrs { w.data(x.name); w.data(x.value) }
        }
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> Tree {
        var r = BinaryReader(bytes, what: "tree")
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            throw VaultError(.corrupt, "tree blob has an unknown format (bad magic)")
        }
        r = BinaryReader(bytes, offset: 4, what: "tree")
        let count = try r.int()
        guard count <= bytes.count else { throw VaultError(.corrupt, "tree blob claims \(count) entries") }
        var nodes: [Node] = []
        nodes.reserveCapacity(count)
        for _ in 0..<count {
            let name = try r.data()
            guard let type = NodeType(rawValue: try r.u8()) else { throw VaultError(.corrupt, "tree entry has an unknown type") }
            var n = Node(name: name, type: type)
            n.mode = UInt32(truncatingIfNeeded: try r.varint())
            n.uid = UInt32(truncatingIfNeeded: try r.varint())
            n.gid = UInt32(truncatingIfNeeded: try r.varint())
            n.size = try r.varint()
            n.mtime = try r.svarint(); n.atime = try r.svarint(); n.ctime = try r.svarint()
            n.inode = try r.varint(); n.device = try r.varint(); n.links = try r.varint(); n.rdev = try r.varint()
            n.linkTarget = try r.data()
            let cc = try r.int()
            guard cc <= bytes.count / 32 else { throw VaultError(.corrupt, "tree entry claims \(cc) chunks") }
            n.content.reserveCapacity(cc)
            for _ in 0..<cc { n.content.append(try r.id()) }
            if try r.u8() == 1 { n.subtree = try r.id() }
            let xc = try r.int()
            for _ in 0..<xc { n.xattrs.append(ExtendedAttribute(name: try r.data(), value: try r.data())) }
            nodes.append(n)
        }
        var t = Tree(nodes: [])
        t.nodes = nodes
        return t
    }
}
