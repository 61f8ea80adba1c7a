#if canImport(Glibc)
import Glibc
#endif
import VaultCore
import VaultFileSystem

/// A folder being restored, held open (`O_DIRECTORY | O_NOFOLLOW`) so that everything inside it is
/// created relative to this descriptor: swapping the folder's path for a symlink cannot redirect a
/// write. Counts what is still to be done inside it (the walk of its tree, files being written,
/// sub-folders); when the count reaches zero its metadata is set through the descriptor and it is
/// closed, then its parent is told — so folders get their times after everything in them, deepest first.
final class RestoreFolder: @unchecked Sendable {
    // @unchecked: `pending` and `fd` change only under `mutex`; the rest is set once in init.
    let fd: Int32
    /// Where the folder is (for messages) and its components below the target (to reopen it).
    let path: FilePath
    let inner: [[UInt8]]
    /// The snapshot node (nil for the target itself, whose metadata is left alone).
    let node: Node?
    let parent: RestoreFolder?
    /// Called once when everything inside is done, with the still open descriptor.
    private let finish: (RestoreFolder) -> Void
    private let mutex = Mutex()
    private var pending = 1
    private var closed = false

    init(fd: Int32, path: FilePath, inner: [[UInt8]], node: Node?, parent: RestoreFolder?, finish: @escaping (RestoreFolder) -> Void) {
        self.fd = fd; self.path = path; self.inner = inner; self.node = node; self.parent = parent; self.finish = finish
        parent?.retain()
    }

    func retain() { mutex.withLock { pending += 1 } }

    /// One piece of work inside is done; the last one finishes the folder.
    func release() {
        let last: Bool = mutex.withLock { pending -= 1; return pending == 0 }
        guard last else { return }
        finish(self)
        mutex.withLock { if !closed { closed = true; close(fd) } }
        parent?.release()
    }

    deinit { if !closed { close(fd) } }
}
