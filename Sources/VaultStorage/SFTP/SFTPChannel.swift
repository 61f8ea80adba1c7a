#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// One SFTP session over one `ssh -s sftp` child, shared by many threads: requests carry ids, any
/// number may be in flight, and a dedicated reader thread hands each reply to the thread waiting
/// for it. The reader always drains the child's output, so a thread sending many requests never
/// blocks the others. When ssh exits or stops answering for `ioTimeout` seconds, every waiting and
/// later call throws `.transient` (the store then opens a new session).
final class SFTPChannel: @unchecked Sendable {
    // @unchecked: shared state lives in `inbox` (behind its monitor); sends are serialized by `sendLock`.
    let server: String
    private let process: SSHProcess
    private let inbox: SFTPInbox
    private let sendLock = Mutex()
    /// The server's extensions (name → version), from its VERSION reply.
    private(set) var extensions: [String: String] = [:]
    /// The largest read and write payloads to ask for.
    private(set) var maxRead = 32 * 1024
    private(set) var maxWrite = 32 * 1024

    private let readyLock = Mutex()
    private var handshake: Result<Void, VaultError>?

    /// Starts ssh and sends the SFTP INIT; `ready()` waits for the server's answer, so several
    /// sessions can be set up at the same time.
    init(command: SSHCommand, server: String, ioTimeout: Double) throws {
        self.server = server
        process = try SSHProcess.spawn(command)
        inbox = SFTPInbox(process: process, server: server, ioTimeout: ioTimeout)
        inbox.startReader()
        var w = SFTPWriter()
        w.u32(5); w.u8(SFTP.initMsg); w.u32(3)
        _ = w.bytes.withUnsafeBytes { process.send($0) }
    }

    /// Completes the SFTP version 3 handshake (once). Throws a named error (from ssh's messages)
    /// when the session could not start.
    func ready() throws {
        try readyLock.withLock {
            if handshake == nil {
                do { try completeHandshake(); handshake = .success(()) } catch let e as VaultError { handshake = .failure(e) }
            }
            try handshake!.get()
        }
    }

    private func completeHandshake() throws {
        let version = try inbox.waitVersion()
        var r = SFTPReader(version)
        let v = try r.u32()
        guard v == 3 else { throw VaultError(.io, "the SFTP server \(server) speaks protocol version \(v), not 3") }
        while !r.atEnd { extensions[try r.string()] = try r.string() }
        if extensions["limits@openssh.com"] != nil { try readLimits() }
    }

    deinit { inbox.finish(input: process.input) }

    var isDead: Bool { inbox.isDead }

    private func readLimits() throws {
        var w = SFTPWriter(); w.string("limits@openssh.com")
        let reply = try wait(try send(SFTP.extended, w.bytes))
        guard reply.type == SFTP.extendedReply else { return }
        var r = SFTPReader(reply.body)
        _ = try r.u64()
        let read = Int(try r.u64()), write = Int(try r.u64())
        if read > 0 { maxRead = min(read, 256 * 1024) }
        if write > 0 { maxWrite = min(write, 256 * 1024) }
    }

    /// Sends one request (`body` then `payload`, which must already include its length field if it is
    /// a string) and returns its id.
    func send(_ type: UInt8, _ body: [UInt8], payload: UnsafeRawBufferPointer? = nil) throws -> UInt32 {
        let id = try inbox.allocate()
        var head = SFTPWriter()
        head.u32(UInt32(1 + 4 + body.count + (payload?.count ?? 0)))
        head.u8(type)
        head.u32(id)
        head.bytes += body
        let sent = sendLock.withLock {
            head.bytes.withUnsafeBytes { process.send($0) } && (payload.map { process.send($0) } ?? true)
        }
        if !sent { throw inbox.lost("the SFTP connection to \(server) was lost while sending") }
        return id
    }

    /// The reply to request `id` (waits for it).
    func wait(_ id: UInt32) throws -> SFTPReply { try inbox.wait(id) }

    /// Drops the reply to `id` when it comes (a close nobody waits for).
    func ignore(_ id: UInt32) { inbox.ignore(id) }

    /// Sends a request and waits for its reply.
    func call(_ type: UInt8, _ body: [UInt8]) throws -> SFTPReply { try wait(try send(type, body)) }
}
