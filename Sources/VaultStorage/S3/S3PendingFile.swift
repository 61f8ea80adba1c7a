#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// A pack being written to S3: its bytes stay in memory (packs are a few MiB) and go in one upload
/// (or a multipart one) at `commit`, so nothing is visible, and nothing is left behind, before.
final class S3PendingFile: PendingFile, @unchecked Sendable {
    // @unchecked: `buffer` is only touched under `lock`.
    private let store: S3Store
    private let lock = Mutex()
    private var buffer: [UInt8] = []
    private var finished = false

    init(store: S3Store) { self.store = store }

    var size: Int { lock.withLock { buffer.count } }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        try lock.withLock {
            guard !finished else { throw VaultError(.invalidArgument, "append to a pending S3 object already committed or discarded") }
            buffer.append(contentsOf: bytes)
        }
    }

    func commit(as handle: Handle) throws {
        let bytes: [UInt8] = try lock.withLock {
            guard !finished else { throw VaultError(.invalidArgument, "a pending S3 object was committed or discarded already") }
            finished = true
            defer { buffer = [] }
            return buffer
        }
        // The bytes are still here, so a transient failure is retried (RetryingStore cannot retry a commit).
        var attempt = 0
        while true {
            do { return try store.save(handle, bytes: bytes) } catch where StoreErrorClass.of(error) == .transient && attempt < 4 {
                attempt += 1
                usleep(UInt32(250_000 << attempt))
            }
        }
    }

    func discard() { lock.withLock { finished = true; buffer = [] } }
}
