#if canImport(Glibc)
import Glibc
#endif
import VaultCore

extension LocalStore {
    /// A durable temporary file hard-linked to its name: `link` fails with EEXIST when the name
    /// is taken, atomically on every POSIX file system (and on NFS, where `O_EXCL` was not always).
    /// On a share without hard links (some SMB and FUSE mounts) the file is created with `O_EXCL`
    /// and written in place: still exactly one creator wins, but a reader may see it partly written.
    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        let final = path(h)
        let tmp = try writeTemporary(h, bytes: bytes)
        defer { unlink(tmp) }
        if link(tmp, final) != 0 {
            let e = errno
            if e == EEXIST { return false }
            if e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EMLINK { return try createExclusive(h, bytes: bytes) }
            throw VaultError.posix("cannot create", path: final, errno: e)
        }
        try syncDir(dir(h))
        return true
    }

    private func createExclusive(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        let final = path(h)
        let fd = open(final, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw VaultError.posix("cannot create", path: final, errno: errno)
        }
        defer { close(fd) }
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                unlink(final)
                throw VaultError.posix("cannot write", path: final, errno: e)
            }
            off += n
        }
        if fsync(fd) != 0 { let e = errno; unlink(final); throw VaultError.posix("cannot sync", path: final, errno: e) }
        try syncDir(dir(h))
        return true
    }

    public func checkReachable() throws {
        var st = Glibc.stat()
        guard statPath(root, &st) == 0 else { throw VaultError.posix("cannot find", path: root, errno: errno) }
    }

    /// Creates and removes a probe file in `locks/` (catches read-only mounts and permissions),
    /// then reads the free space of the file system.
    public func checkWritable() throws -> Int? {
        let probe = root + "/locks/.probe-\(getpid())-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) })
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            let e = errno
            var err = VaultError.posix("cannot create a file in", path: root + "/locks", errno: e)
            if err.code == .notFound { err.code = .io }
            err.context["reason"] = String(cString: strerror(e))
            throw err
        }
        close(fd)
        unlink(probe)
        var s = statvfs()
        guard statvfs(root, &s) == 0 else { return nil }
        return Int(UInt64(s.f_bavail) * UInt64(s.f_frsize))
    }
}
