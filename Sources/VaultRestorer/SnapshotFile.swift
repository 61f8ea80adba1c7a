#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import VaultCore
import VaultFileSystem
import VaultRepository

/// Finds entries inside a snapshot's tree and streams file contents out of it.
public enum SnapshotFile {
    /// The node at `path` (absolute, "/" separated) below `tree`, or nil when there is none.
    public static func node(_ repo: Repository, tree: ID, path: String) throws -> Node? {
        let parts = FilePath(path).absolute().components
        guard !parts.isEmpty else { return nil }
        var current = tree
        for (i, name) in parts.enumerated() {
            guard let n = try repo.loadTree(current).nodes.first(where: { $0.name == name }) else { return nil }
            if i == parts.count - 1 { return n }
            guard let sub = n.subtree else { return nil }
            current = sub
        }
        return nil
    }

    /// The tree of the folder at `path` below `tree` (the tree itself for "/" or "").
    public static func subtree(_ repo: Repository, tree: ID, path: String) throws -> ID? {
        if FilePath(path).absolute().components.isEmpty { return tree }
        return try node(repo, tree: tree, path: path)?.subtree
    }

    /// Writes a file node's content to `fd`, every blob authenticated and checked against its id.
    /// The next blob is read while the current one is written (a database restore reading the
    /// other end of the pipe is rarely kept waiting). Returns the bytes written.
    @discardableResult
    public static func write(_ repo: Repository, node: Node, to fd: Int32, label: String) throws -> UInt64 {
        let ids = node.content
        var total: UInt64 = 0
        let queue = DispatchQueue(label: "sitevault.read-ahead")
        var pending: (DispatchSemaphore, Box)?
        func start(_ i: Int) -> (DispatchSemaphore, Box) {
            let done = DispatchSemaphore(value: 0)
            let box = Box()
            queue.async { box.result = Result { try repo.loadBlob(ids[i]) }; done.signal() }
            return (done, box)
        }
        if !ids.isEmpty { pending = start(0) }
        for i in ids.indices {
            let (done, box) = pending!
            done.wait()
            pending = i + 1 < ids.count ? start(i + 1) : nil
            let bytes: [UInt8]
            do { bytes = try box.result!.get() } catch {
                if let (d, _) = pending { d.wait() }
                throw error
            }
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
                if n < 0 {
                    if errno == EINTR { continue }
                    let e = errno
                    if let (d, _) = pending { d.wait() }
                    throw VaultError.posix("cannot write \(label)", path: label, errno: e)
                }
                off += n
            }
            total += UInt64(bytes.count)
        }
        return total
    }

    final class Box: @unchecked Sendable {
        // @unchecked: written by the queue before the semaphore is signalled, read after the wait.
        var result: Result<[UInt8], Error>?
    }
}
