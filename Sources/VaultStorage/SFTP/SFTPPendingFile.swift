import VaultCore

/// A pack being written to a temporary file on the server: appends go out as WRITE requests without
/// waiting for their replies (up to `SFTPChannel.window` in flight), so the writer never waits a
/// round trip per append; `commit` collects every reply, syncs, closes and renames into place.
final class SFTPPendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: the mutable fields are only touched under `lock`.
    let store: SFTPStore
    let channel: SFTPChannel
    let path: String
    private let lock = Mutex()
    private var handle: [UInt8]?
    private var inFlight: [UInt32] = []
    private var written = 0
    /// Committed or discarded: nothing left to remove.
    private var done = false

    init(store: SFTPStore, channel: SFTPChannel, handle: [UInt8], path: String) {
        self.store = store; self.channel = channel; self.handle = handle; self.path = path
    }

    deinit { discard() }

    var size: Int { lock.withLock { written } }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try lock.withLock {
            guard let handle else { throw VaultError(.io, "pending file \(path) was already closed") }
            do {
                inFlight = try channel.writeRequests(handle, offset: written, bytes, path: path, pending: inFlight)
            } catch {
                throw store.noSpaceIfFull(error, channel, need: bytes.count, path: path)
            }
            written += bytes.count
        }
    }

    func commit(as h: Handle) throws {
        do {
            try lock.withLock {
                guard let handle else { throw VaultError(.io, "pending file \(path) was already closed") }
                let final = store.path(h)
                do {
                    while !inFlight.isEmpty { try channel.expectOK(try channel.wait(inFlight.removeFirst()), "write", final) }
                    try channel.fsync(handle, path: final)
                    self.handle = nil
                    try channel.close(handle, path: final, wait: true)
                } catch {
                    throw store.noSpaceIfFull(error, channel, need: 0, path: final)
                }
                do { try channel.rename(path, to: final) } catch let e as VaultError where e.code == .notFound {
                    try channel.mkdir(store.dir(h))
                    try channel.rename(path, to: final)
                }
                done = true
                store.readHandles.drop(final)
            }
        } catch { discard(); throw error }
    }

    func discard() {
        let (h, ids, wasDone): ([UInt8]?, [UInt32], Bool) = lock.withLock {
            defer { handle = nil; inFlight = []; done = true }
            return (handle, inFlight, done)
        }
        if wasDone { return }
        for id in ids { channel.ignore(id) }
        // Waited for, so the space is free again when discard returns; errors are of no use here.
        if let h { try? channel.close(h, path: path, wait: true) }
        _ = try? channel.remove(path)
    }
}
