#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// A repository in a local directory (or a mounted network share).
/// Files are written to a temporary name, fsynced, renamed, and the directory fsynced.
/// Files are created 0600 and folders 0700: a repository is never world-readable.
public final class LocalStore: BlobStore, @unchecked Sendable {
    // @unchecked: the only mutable state is `fdCache`, guarded by `lock`.
    public let root: String
    public var location: String { root }
    private let lock = Mutex()
    /// Open read descriptors of pack files, with how many reads use each right now;
    /// only unused ones are closed when the cache is full.
    private var fdCache: [String: (fd: Int32, users: Int)] = [:]
    private let fdLimit = 128

    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    deinit { for (_, e) in fdCache { close(e.fd) } }

    /// Creates the folder layout. Throws `.repositoryExists` if a config is already there.
    public func createLayout(kinds: [FileKind]) throws {
        var st = Glibc.stat()
        if statPath(root, &st) == 0 {
            if access(root + "/config", F_OK) == 0 {
                throw VaultError(.repositoryExists, "a repository already exists at \(root)")
            }
        } else {
            try makeDirs(root)
        }
        for k in kinds where k != .config { try makeDirs(root + "/" + k.rawValue) }
        for i in 0..<256 { try makeDirs(root + "/data/" + Hex.encode([UInt8(i)])) }
        // Make the new folders themselves durable before anything is stored in them.
        try syncDir(root + "/data")
        try syncDir(root)
        if let slash = root.lastIndex(of: "/"), slash != root.startIndex { try? syncDir(String(root[..<slash])) }
    }

    func makeDirs(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            let e = errno
            if e == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try makeDirs(String(path[..<slash]))
                if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
            }
            throw VaultError.posix("cannot create folder", path: path, errno: e)
        }
    }

    public func path(_ h: Handle) -> String { RepositoryLayout.path(root, h) }

    func dir(_ h: Handle) -> String {
        let p = path(h)
        return String(p[..<p.lastIndex(of: "/")!])
    }

    public func createPending(_ kind: FileKind) throws -> PendingFile {
        let d = root + "/" + kind.rawValue
        let tmp = d + "/.tmp-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.posix("cannot create", path: tmp, errno: errno) }
        return LocalPendingFile(store: self, fd: fd, path: tmp)
    }

    fileprivate func finish(_ tmp: String, fd: Int32, as h: Handle) throws {
        let final = path(h)
        if fsync(fd) != 0 { throw VaultError.posix("cannot sync", path: final, errno: errno) }
        if rename(tmp, final) != 0 {
            let e = errno
            if e == ENOENT { try makeDirs(dir(h)); if rename(tmp, final) == 0 { try syncDir(dir(h)); return } }
            throw VaultError.posix("cannot rename into", path: final, errno: e)
        }
        try syncDir(dir(h))
    }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        let final = path(h)
        let d = dir(h)
        let tmp = try writeTemporary(h, bytes: bytes)
        if rename(tmp, final) != 0 { let e = errno; unlink(tmp); throw VaultError.posix("cannot rename into", path: final, errno: e) }
        try syncDir(d)
    }

    /// Writes a durable temporary file in the folder of `h` (creating the folder if needed) and returns its path.
    func writeTemporary(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> String {
        let final = path(h)
        let d = dir(h)
        let tmp = d + "/.tmp-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            let e = errno
            if e == ENOENT && h.kind != .config { try makeDirs(d); return try writeTemporary(h, bytes: bytes) }
            throw VaultError.posix("cannot create", path: tmp, errno: e)
        }
        var ok = false
        defer { if !ok { close(fd); unlink(tmp) } }
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 { if errno == EINTR { continue }; throw VaultError.posix("cannot write", path: final, errno: errno) }
            off += n
        }
        if fsync(fd) != 0 { throw VaultError.posix("cannot sync", path: final, errno: errno) }
        ok = true
        close(fd)
        return tmp
    }

    func syncDir(_ d: String) throws {
        let dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw VaultError.posix("cannot open folder", path: d, errno: errno) }
        defer { close(dfd) }
        if fsync(dfd) != 0 && errno != EINVAL { throw VaultError.posix("cannot sync folder", path: d, errno: errno) }
    }

    public func load(_ h: Handle) throws -> [UInt8] {
        let p = path(h)
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.posix("cannot open", path: p, errno: errno) }
        defer { close(fd) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else { throw VaultError.posix("cannot stat", path: p, errno: errno) }
        return try readFully(fd: fd, offset: 0, length: Int(st.st_size), path: p, exact: false)
    }

    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        let p = path(h)
        let fd = try checkoutFD(p)
        defer { checkinFD(p) }
        return try readFully(fd: fd, offset: offset, length: length, path: p, exact: true)
    }

    private func readFully(fd: Int32, offset: Int, length: Int, path: String, exact: Bool) throws -> [UInt8] {
        var got = 0
        let out = try [UInt8](unsafeUninitializedCapacity: length) { buf, count in
            while got < length {
                let n = pread(fd, buf.baseAddress! + got, length - got, off_t(offset + got))
                if n < 0 { if errno == EINTR { continue }; count = got; throw VaultError.posix("cannot read", path: path, errno: errno) }
                if n == 0 { break }
                got += n
            }
            count = got
        }
        if exact && got < length {
            throw VaultError(.corrupt, "\(path) is truncated: wanted \(length) bytes at offset \(offset), found \(got)", context: ["path": path])
        }
        return out
    }

    private func checkoutFD(_ p: String) throws -> Int32 {
        lock.lock(); defer { lock.unlock() }
        if let e = fdCache[p] { fdCache[p] = (e.fd, e.users + 1); return e.fd }
        if fdCache.count >= fdLimit {
            for (k, e) in fdCache where e.users == 0 { close(e.fd); fdCache[k] = nil }
        }
        let fd = open(p, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.posix("cannot open", path: p, errno: errno) }
        fdCache[p] = (fd, 1)
        return fd
    }

    private func checkinFD(_ p: String) {
        lock.lock(); defer { lock.unlock() }
        if let e = fdCache[p] { fdCache[p] = (e.fd, e.users - 1) }
    }

    /// Forgets the cached descriptor of a file (after it is removed).
    private func dropFD(_ p: String) {
        lock.lock(); defer { lock.unlock() }
        if let e = fdCache[p], e.users == 0 { close(e.fd); fdCache[p] = nil }
    }

    public func stat(_ h: Handle) throws -> StoredFile {
        var st = Glibc.stat()
        let p = path(h)
        guard statPath(p, &st) == 0 else { throw VaultError.posix("cannot stat", path: p, errno: errno) }
        return StoredFile(name: h.kind == .config ? "config" : h.name, size: Int(st.st_size))
    }

    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        if kind == .config {
            if let f = try? stat(Handle(.config, "")) { _ = try body(f) }
            return
        }
        let base = root + "/" + kind.rawValue
        var dirs = [base]
        if kind == .data { dirs = (0..<256).map { base + "/" + Hex.encode([UInt8($0)]) } }
        for d in dirs {
            guard let dp = opendir(d) else {
                if errno == ENOENT { continue }
                throw VaultError.posix("cannot list", path: d, errno: errno)
            }
            defer { closedir(dp) }
            while let ent = readdir(dp) {
                let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
                if name.hasPrefix(".") { continue }
                var st = Glibc.stat()
                if statPath(d + "/" + name, &st) != 0 { continue }
                if try !body(StoredFile(name: name, size: Int(st.st_size))) { return }
            }
        }
    }

    public func remove(_ h: Handle) throws {
        let p = path(h)
        dropFD(p)
        if unlink(p) != 0 && errno != ENOENT { throw VaultError.posix("cannot remove", path: p, errno: errno) }
        try syncDir(dir(h))
    }

    /// Removes temporary files left by interrupted saves (called by prune). Only files older than
    /// `olderThan` seconds go, so a save in progress in another process is never disturbed.
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        var n = 0
        var dirs = [FileKind.snapshots, .index, .keys, .data].map { root + "/" + $0.rawValue }
        dirs += (0..<256).map { root + "/data/" + Hex.encode([UInt8($0)]) }
        for d in dirs {
            guard let dp = opendir(d) else { continue }
            defer { closedir(dp) }
            while let ent = readdir(dp) {
                let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in String(cString: raw.bindMemory(to: CChar.self).baseAddress!) }
                guard name.hasPrefix(".tmp-") else { continue }
                var st = Glibc.stat()
                guard statPath(d + "/" + name, &st) == 0, now - Double(st.st_mtim.tv_sec) > olderThan else { continue }
                if unlink(d + "/" + name) == 0 { n += 1 }
            }
        }
        return n
    }
}


/// A pending file in the repository folder of its kind, renamed into place on commit.
final class LocalPendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: used by one writer at a time (a BlobWriter saver holds the pack it appends to).
    let store: LocalStore
    let path: String
    private var fd: Int32
    private(set) var size = 0

    init(store: LocalStore, fd: Int32, path: String) { self.store = store; self.fd = fd; self.path = path }

    deinit { discard() }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 { if errno == EINTR { continue }; throw VaultError.posix("cannot write", path: path, errno: errno) }
            off += n
        }
        size += bytes.count
    }

    func commit(as handle: Handle) throws {
        guard fd >= 0 else { throw VaultError(.io, "pending file \(path) was already closed") }
        do { try store.finish(path, fd: fd, as: handle) } catch { discard(); throw error }
        close(fd); fd = -1
    }

    func discard() {
        guard fd >= 0 else { return }
        close(fd); fd = -1
        unlink(path)
    }
}
