import VaultCore

/// A repository in a folder on an SFTP server, reached through OpenSSH's `ssh -s sftp` (see
/// `SSHCommand`): the user's ssh config, keys, agent and known hosts apply, host keys are checked,
/// and nothing ever prompts. The layout is `LocalStore`'s (`data/00`…`data/ff`).
///
/// How it keeps the `BlobStore` contract:
/// - `save` and `PendingFile.commit`: a temporary `.tmp-…` file in the target folder, written with
///   many requests in flight, flushed with `fsync@openssh.com`, then renamed over the name with
///   `posix-rename@openssh.com` (atomic replace). SFTP cannot sync a folder, so the rename's own
///   durability is the server file system's (journaled file systems commit it shortly after).
/// - `createIfAbsent`: a durable temporary file hard-linked to its name (`hardlink@openssh.com`,
///   refused by the server when the name exists), so exactly one creator wins and no reader sees a
///   partial file; servers without the extension get an exclusive create (`SSH_FXF_EXCL`).
/// - Errors: a missing file is `.notFound`; a lost session (ssh exited, no answer for `ioTimeout`
///   seconds) is `.transient`, and the next call opens a new one; permission problems are `.io`; a
///   failed write on a server whose free space (`statvfs@openssh.com`) is nearly gone is `.noSpace`.
///
/// Thread-safe: calls share a few sessions (`sessions`), each carrying many requests at once.
public final class SFTPStore: BlobStore, @unchecked Sendable {
    // @unchecked: `channels` and `turn` are only touched under `lock`; channels are thread-safe.
    public let location: String
    /// The repository folder on the server (relative paths are relative to the login's home).
    let root: String
    let server: String
    let command: SSHCommand
    let ioTimeout: Double
    private let lock = Mutex()
    private var channels: [SFTPChannel?]
    private var turn = 0
    let readHandles = SFTPReadHandles()

    /// A store for `location`, run by `command` (the standard `ssh` command line when nil) over
    /// `sessions` SSH sessions. Nothing is started until the first call.
    public init(_ location: StoreLocation.SFTPLocation, command: SSHCommand? = nil, sessions: Int = 2,
                ioTimeout: Double = 300) throws {
        self.location = StoreLocation.sftp(location).description
        var r = location.path
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        root = r
        server = (location.user.map { $0 + "@" } ?? "") + location.host + (location.port.map { ":\($0)" } ?? "")
        self.command = try command ?? SSHCommand.standard(for: location)
        self.ioTimeout = ioTimeout
        channels = Array(repeating: nil, count: max(1, sessions))
    }

    /// A live session, taking turns among `sessions`; a lost one is replaced here. Missing sessions
    /// are all started at once, so their SSH handshakes overlap.
    func channel() throws -> SFTPChannel {
        let c: SFTPChannel = try lock.withLock {
            turn = (turn + 1) % channels.count
            if let c = channels[turn], !c.isDead { return c }
            for i in channels.indices where channels[i] == nil || channels[i]!.isDead {
                channels[i] = nil
                channels[i] = try SFTPChannel(command: command, server: server, ioTimeout: ioTimeout)
            }
            return channels[turn]!
        }
        try c.ready()
        return c
    }

    public func path(_ h: Handle) -> String { RepositoryLayout.path(root, h) }

    func dir(_ h: Handle) -> String {
        let p = path(h)
        return String(p[..<p.lastIndex(of: "/")!])
    }

    func temporaryName(in folder: String) -> String {
        folder + "/.tmp-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
    }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        let ch = try channel()
        let tmp = try writeTemporary(ch, h, bytes: bytes)
        do { try ch.rename(tmp, to: path(h)) } catch { _ = try? ch.remove(tmp); throw error }
        if h.kind == .data { readHandles.drop(path(h)) }   // a cached handle would read the replaced file
    }

    /// Writes a durable temporary file in the folder of `h` (creating the folder if needed); returns its path.
    func writeTemporary(_ ch: SFTPChannel, _ h: Handle, bytes: UnsafeRawBufferPointer) throws -> String {
        let tmp = temporaryName(in: dir(h))
        let flags = SFTP.fWrite | SFTP.fCreate | SFTP.fExclusive
        let handle: [UInt8]
        do { handle = try ch.open(tmp, flags: flags, op: "create") } catch let e as VaultError where e.code == .notFound && h.kind != .config {
            try ch.mkdir(dir(h))
            handle = try ch.open(tmp, flags: flags, op: "create")
        }
        do {
            try ch.write(handle, offset: 0, bytes, path: path(h))
            try ch.fsync(handle, path: path(h))
            try ch.close(handle, path: path(h), wait: true)
        } catch {
            try? ch.close(handle, path: tmp, wait: false)
            _ = try? ch.remove(tmp)
            throw noSpaceIfFull(error, ch, need: bytes.count, path: path(h))
        }
        return tmp
    }

    /// A write failure on a server that is (nearly) out of space becomes `.noSpace`.
    func noSpaceIfFull(_ error: Error, _ ch: SFTPChannel, need: Int, path: String) -> Error {
        guard let e = error as? VaultError, e.code == .io, let free = try? ch.freeSpace(root), free < need + (4 << 20) else {
            return error
        }
        return VaultError(.noSpace, "cannot write \(path) on \(server): the server's disk is full (\(free) bytes free); "
                          + "free space there and run again (nothing committed was lost)",
                          context: ["server": server, "path": path], cause: e)
    }

    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        let ch = try channel()
        let final = path(h)
        let tmp = try writeTemporary(ch, h, bytes: bytes)
        defer { _ = try? ch.remove(tmp) }
        if let linked = try ch.hardlink(tmp, to: final) { return linked }
        // No hardlink@openssh.com: an exclusive create written in place.
        let handle: [UInt8]
        do { handle = try ch.open(final, flags: SFTP.fWrite | SFTP.fCreate | SFTP.fExclusive, op: "create") } catch let e as VaultError where e.code == .io {
            if (try? ch.stat(final)) != nil { return false }
            throw e
        }
        do {
            try ch.write(handle, offset: 0, bytes, path: final)
            try ch.fsync(handle, path: final)
            try ch.close(handle, path: final, wait: true)
        } catch {
            try? ch.close(handle, path: final, wait: false)
            _ = try? ch.remove(final)
            throw noSpaceIfFull(error, ch, need: bytes.count, path: final)
        }
        return true
    }

    public func load(_ h: Handle) throws -> [UInt8] {
        let ch = try channel()
        let p = path(h)
        // STAT and OPEN travel together: one round trip before the reads.
        var sw = SFTPWriter(); sw.string(p)
        let statID = try ch.send(SFTP.stat, sw.bytes)
        let handle: [UInt8]
        do { handle = try ch.open(p, flags: SFTP.fRead, op: "open") } catch { ch.ignore(statID); throw error }
        defer { try? ch.close(handle, path: p, wait: false) }
        let reply = try ch.wait(statID)
        guard reply.type == SFTP.attrs else { throw ch.unexpected(reply, "stat", p) }
        var r = SFTPReader(reply.body)
        let size = try r.attributes().size ?? 0
        return try ch.read(handle, offset: 0, length: size, path: p)
    }

    /// Restore and check keep this many reads in flight (each pipelines its own requests).
    public var concurrentReads: Int { 8 }
    public var readRunSize: Int { 16 << 20 }

    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        let p = path(h)
        let out: [UInt8]
        if h.kind == .data {
            let e = try readHandles.checkout(p) {
                let ch = try channel()
                return (ch, try ch.open(p, flags: SFTP.fRead, op: "open"))
            }
            defer { readHandles.checkin(e) }
            out = length == 0 ? [] : try e.channel.read(e.handle, offset: offset, length: length, path: p)
        } else {
            let ch = try channel()
            let handle = try ch.open(p, flags: SFTP.fRead, op: "open")
            defer { try? ch.close(handle, path: p, wait: false) }
            out = length == 0 ? [] : try ch.read(handle, offset: offset, length: length, path: p)
        }
        if out.count < length {
            throw VaultError(.corrupt, "\(p) on \(server) is truncated: wanted \(length) bytes at offset \(offset), found \(out.count)",
                             context: ["path": p, "server": server])
        }
        return out
    }

    public func stat(_ h: Handle) throws -> StoredFile {
        let a = try channel().stat(path(h))
        return StoredFile(name: h.kind == .config ? "config" : h.name, size: a.size ?? 0)
    }

    public func remove(_ h: Handle) throws {
        readHandles.drop(path(h))
        try channel().remove(path(h))
    }

    public func createPending(_ kind: FileKind) throws -> PendingFile {
        let ch = try channel()
        let tmp = temporaryName(in: root + "/" + kind.rawValue)
        let handle = try ch.open(tmp, flags: SFTP.fWrite | SFTP.fCreate | SFTP.fExclusive, op: "create")
        return SFTPPendingFile(store: self, channel: ch, handle: handle, path: tmp)
    }
}
