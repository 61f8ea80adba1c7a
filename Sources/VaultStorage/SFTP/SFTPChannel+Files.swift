import VaultCore

/// The file operations of SFTP version 3 and the OpenSSH extensions the store uses. Errors name the
/// operation and the remote path; `status` codes map to the store's error classes.
extension SFTPChannel {
    /// How many read or write requests one call keeps in flight.
    static let window = 32

    func error(_ code: UInt32, _ message: String, _ op: String, _ path: String) -> VaultError {
        let ctx = ["server": server, "path": path]
        let said = message.isEmpty ? "" : " (server: \(message))"
        switch code {
        case SFTP.noSuchFile:
            return VaultError(.notFound, "cannot \(op) \(path) on \(server): no such file or folder", context: ctx)
        case SFTP.permissionDenied:
            return VaultError(.io, "cannot \(op) \(path) on \(server): permission denied\(said); check the owner and "
                              + "mode of the repository folder on the server", context: ctx)
        case SFTP.noConnection, SFTP.connectionLost:
            return VaultError(.transient, "cannot \(op) \(path) on \(server): the connection was lost\(said)", context: ctx)
        case SFTP.eof:
            return VaultError(.corrupt, "cannot \(op) \(path) on \(server): the file ends early", context: ctx)
        default:
            return VaultError(.io, "cannot \(op) \(path) on \(server): the server reported a failure\(said)", context: ctx)
        }
    }

    /// Checks a STATUS reply; throws for anything but OK.
    func expectOK(_ reply: SFTPReply, _ op: String, _ path: String) throws {
        guard reply.type == SFTP.status else { throw unexpected(reply, op, path) }
        var r = SFTPReader(reply.body)
        let code = try r.u32()
        guard code != SFTP.ok else { return }
        throw error(code, (try? r.string()) ?? "", op, path)
    }

    /// Throws the error of a STATUS reply, or a protocol error for any other unexpected reply.
    func unexpected(_ reply: SFTPReply, _ op: String, _ path: String) -> VaultError {
        if reply.type == SFTP.status {
            var r = SFTPReader(reply.body)
            if let code = try? r.u32() { return error(code, (try? r.string()) ?? "", op, path) }
        }
        return VaultError(.transient, "cannot \(op) \(path) on \(server): unexpected SFTP reply \(reply.type)",
                          context: ["server": server, "path": path])
    }

    func open(_ path: String, flags: UInt32, op: String) throws -> [UInt8] {
        var w = SFTPWriter(); w.string(path); w.u32(flags)
        if flags & SFTP.fCreate != 0 { w.permissions(0o600) } else { w.noAttributes() }
        let reply = try call(SFTP.open, w.bytes)
        guard reply.type == SFTP.handle else { throw unexpected(reply, op, path) }
        var r = SFTPReader(reply.body)
        return Array(try r.bytesField())
    }

    /// Closes a handle; without `wait` the reply is not awaited (a read-only handle).
    func close(_ handle: [UInt8], path: String, wait: Bool) throws {
        var w = SFTPWriter(); w.string(handle)
        let id = try send(SFTP.close, w.bytes)
        if wait { try expectOK(try self.wait(id), "close", path) } else { ignore(id) }
    }

    func stat(_ path: String) throws -> SFTPAttributes {
        var w = SFTPWriter(); w.string(path)
        let reply = try call(SFTP.stat, w.bytes)
        guard reply.type == SFTP.attrs else { throw unexpected(reply, "stat", path) }
        var r = SFTPReader(reply.body)
        return try r.attributes()
    }

    func fstat(_ handle: [UInt8], path: String) throws -> SFTPAttributes {
        var w = SFTPWriter(); w.string(handle)
        let reply = try call(SFTP.fstat, w.bytes)
        guard reply.type == SFTP.attrs else { throw unexpected(reply, "stat", path) }
        var r = SFTPReader(reply.body)
        return try r.attributes()
    }

    /// Creates a folder (0700); an existing folder is not an error.
    func mkdir(_ path: String) throws {
        var w = SFTPWriter(); w.string(path); w.permissions(0o700)
        let reply = try call(SFTP.mkdir, w.bytes)
        do { try expectOK(reply, "create folder", path) } catch let e as VaultError where e.code == .io {
            if let a = try? stat(path), a.isDirectory { return }
            throw e
        }
    }

    /// Removes a file; false when it did not exist.
    @discardableResult
    func remove(_ path: String) throws -> Bool {
        var w = SFTPWriter(); w.string(path)
        do { try expectOK(try call(SFTP.remove, w.bytes), "remove", path) } catch let e as VaultError where e.code == .notFound {
            return false
        }
        return true
    }

    func extended(_ name: String, _ fill: (inout SFTPWriter) -> Void) throws -> SFTPReply {
        var w = SFTPWriter(); w.string(name); fill(&w)
        return try call(SFTP.extended, w.bytes)
    }

    /// Renames `from` to `to`, replacing `to` atomically (posix-rename@openssh.com). Without the
    /// extension, the target is removed first (not atomic: said in docs/remote-repositories.md).
    func rename(_ from: String, to: String) throws {
        if extensions["posix-rename@openssh.com"] != nil {
            try expectOK(try extended("posix-rename@openssh.com") { $0.string(from); $0.string(to) }, "rename into", to)
            return
        }
        var w = SFTPWriter(); w.string(from); w.string(to)
        let reply = try call(SFTP.rename, w.bytes)
        do { try expectOK(reply, "rename into", to) } catch let e as VaultError where e.code == .io {
            try remove(to)
            try expectOK(try call(SFTP.rename, w.bytes), "rename into", to)
        }
    }

    /// Links `to` to the file `from` (hardlink@openssh.com); false when `to` already exists.
    /// Returns nil when the server has no such extension.
    func hardlink(_ from: String, to: String) throws -> Bool? {
        guard extensions["hardlink@openssh.com"] != nil else { return nil }
        let reply = try extended("hardlink@openssh.com") { $0.string(from); $0.string(to) }
        do { try expectOK(reply, "create", to) } catch let e as VaultError where e.code == .io {
            if (try? stat(to)) != nil { return false }
            throw e
        }
        return true
    }

    /// Flushes a written file to stable storage on the server (fsync@openssh.com; skipped when absent).
    func fsync(_ handle: [UInt8], path: String) throws {
        guard extensions["fsync@openssh.com"] != nil else { return }
        try expectOK(try extended("fsync@openssh.com") { $0.string(handle) }, "sync", path)
    }

    /// Free bytes for an unprivileged user on the file system of `path` (statvfs@openssh.com), or nil.
    func freeSpace(_ path: String) throws -> Int? {
        guard extensions["statvfs@openssh.com"] != nil else { return nil }
        let reply = try extended("statvfs@openssh.com") { $0.string(path) }
        guard reply.type == SFTP.extendedReply else { throw unexpected(reply, "read the free space of", path) }
        var r = SFTPReader(reply.body)
        _ = try r.u64()                     // f_bsize
        let frsize = try r.u64()
        _ = try r.u64(); _ = try r.u64()    // f_blocks, f_bfree
        let avail = try r.u64()
        return Int(clamping: avail &* frsize)
    }

    /// Writes all of `bytes` at `offset` with up to `window` requests in flight, and waits for every reply.
    func write(_ handle: [UInt8], offset: Int, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var ids = try writeRequests(handle, offset: offset, bytes, path: path, pending: [])
        while !ids.isEmpty { try expectOK(try wait(ids.removeFirst()), "write", path) }
    }

    /// Sends WRITE requests for `bytes`, waiting only for the oldest replies when more than `window` of
    /// `pending` + new ones are in flight; returns the ids still in flight, oldest first.
    func writeRequests(_ handle: [UInt8], offset: Int, _ bytes: UnsafeRawBufferPointer, path: String,
                       pending: [UInt32]) throws -> [UInt32] {
        var ids = pending
        var off = 0
        while off < bytes.count {
            let n = min(maxWrite, bytes.count - off)
            while ids.count >= Self.window { try expectOK(try wait(ids.removeFirst()), "write", path) }
            var w = SFTPWriter(); w.string(handle); w.u64(UInt64(offset + off)); w.u32(UInt32(n))
            ids.append(try send(SFTP.write, w.bytes, payload: UnsafeRawBufferPointer(rebasing: bytes[off..<off + n])))
            off += n
        }
        return ids
    }

    /// Reads `length` bytes at `offset` with up to `window` requests in flight. Returns fewer bytes
    /// only when the file ends first.
    func read(_ handle: [UInt8], offset: Int, length: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        var next = 0          // the next byte to request
        var inFlight: [(id: UInt32, at: Int, count: Int)] = []
        var end = length      // lowered when the file ends early
        var holes: [(at: Int, count: Int)] = []   // short replies to ask again
        defer { for f in inFlight { ignore(f.id) } }
        while true {
            while inFlight.count < Self.window, let req = nextRequest(&holes, &next, end) {
                var w = SFTPWriter(); w.string(handle); w.u64(UInt64(offset + req.at)); w.u32(UInt32(req.count))
                inFlight.append((try send(SFTP.read, w.bytes), req.at, req.count))
            }
            guard !inFlight.isEmpty else { break }
            let f = inFlight.removeFirst()
            let reply = try wait(f.id)
            if reply.type == SFTP.data {
                var r = SFTPReader(reply.body)
                let data = try r.bytesField()
                let n = min(data.count, f.count)
                out.withUnsafeMutableBytes { dst in
                    data.withUnsafeBytes { src in dst.baseAddress!.advanced(by: f.at).copyMemory(from: src.baseAddress!, byteCount: n) }
                }
                if n < f.count { holes.append((f.at + n, f.count - n)) }
            } else if reply.type == SFTP.status, (try? { var r = SFTPReader(reply.body); return try r.u32() }()) == SFTP.eof {
                end = min(end, f.at)
            } else {
                throw unexpected(reply, "read", path)
            }
        }
        if end < length { out.removeLast(length - end) }
        return out
    }

    private func nextRequest(_ holes: inout [(at: Int, count: Int)], _ next: inout Int, _ end: Int) -> (at: Int, count: Int)? {
        while let h = holes.first {
            holes.removeFirst()
            if h.at < end { return (h.at, min(h.count, end - h.at, maxRead)) }
        }
        guard next < end else { return nil }
        let n = min(maxRead, end - next)
        defer { next += n }
        return (next, n)
    }
}
