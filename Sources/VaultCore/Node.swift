/// The kind of a file-system entry recorded in a tree.
public enum NodeType: UInt8, Sendable, Codable {
    case file = 1, directory = 2, symlink = 3, charDevice = 4, blockDevice = 5, fifo = 6, socket = 7

    public var name: String {
        switch self {
        case .file: return "file"
        case .directory: return "dir"
        case .symlink: return "symlink"
        case .charDevice: return "chardev"
        case .blockDevice: return "blockdev"
        case .fifo: return "fifo"
        case .socket: return "socket"
        }
    }
}

/// An extended attribute: name and value, both raw bytes.
public struct ExtendedAttribute: Hashable, Sendable {
    public var name: [UInt8]
    public var value: [UInt8]
    public init(name: [UInt8], value: [UInt8]) { self.name = name; self.value = value }
}

/// One entry of a directory in a snapshot. Names are raw bytes so that any file name
/// (invalid UTF-8, newlines) round-trips exactly.
public struct Node: Hashable, Sendable {
    public var name: [UInt8]
    public var type: NodeType
    /// Permission bits including setuid/setgid/sticky (st_mode & 0o7777).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: UInt64
    public var mtime: Int64
    public var atime: Int64
    public var ctime: Int64
    public var inode: UInt64
    public var device: UInt64
    public var links: UInt64
    public var rdev: UInt64
    public var linkTarget: [UInt8]
    /// Data blob ids, in order, for files.
    public var content: [ID]
    /// Tree blob id, for directories.
    public var subtree: ID?
    public var xattrs: [ExtendedAttribute]

    public init(name: [UInt8], type: NodeType, mode: UInt32 = 0o644, uid: UInt32 = 0, gid: UInt32 = 0, size: UInt64 = 0,
                mtime: Int64 = 0, atime: Int64 = 0, ctime: Int64 = 0, inode: UInt64 = 0, device: UInt64 = 0, links: UInt64 = 1,
                rdev: UInt64 = 0, linkTarget: [UInt8] = [], content: [ID] = [], subtree: ID? = nil, xattrs: [ExtendedAttribute] = []) {
        self.name = name; self.type = type; self.mode = mode; self.uid = uid; self.gid = gid; self.size = size
        self.mtime = mtime; self.atime = atime; self.ctime = ctime; self.inode = inode; self.device = device
        self.links = links; self.rdev = rdev; self.linkTarget = linkTarget; self.content = content
        self.subtree = subtree; self.xattrs = xattrs
    }

    /// The name for display: UTF-8 when valid, otherwise with invalid bytes as \xNN escapes.
    public var displayName: String { Node.display(name) }

    public static func display(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        var out = ""
        var i = 0
        while i < bytes.count {
            // Decode the longest valid UTF-8 run, escape the bad byte.
            var j = i + 1
            var best: String? = nil
            var bestEnd = i
            while j <= min(bytes.count, i + 4) {
                if let s = String(validating: bytes[i..<j], as: UTF8.self) { best = s; bestEnd = j; break }
                j += 1
            }
            if let best { out += best; i = bestEnd } else { out += "\\x" + Hex.encode([bytes[i]]); i += 1 }
        }
        return out
    }

    /// A name is safe to create inside a directory: not empty, not "." or "..", no "/" and no NUL.
    public var hasSafeName: Bool {
        !name.isEmpty && name != [46] && name != [46, 46] && !name.contains(47) && !name.contains(0)
    }
}
