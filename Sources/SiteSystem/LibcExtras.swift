#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// GNU extensions the Swift Glibc module does not import (it is built without _GNU_SOURCE),
/// looked up once at run time. Each falls back, or reports absence, when libc lacks it.
enum LibcExtras {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static func lookup(_ name: String) -> UnsafeMutableRawPointer? {
        guard let handle = dlopen(nil, RTLD_NOW) else { return nil }
        return dlsym(handle, name)
    }

    private static let pipe2Fn: Pipe2? = lookup("pipe2").map { unsafeBitCast($0, to: Pipe2.self) }
    private static let addChdirFn: AddChdir? = lookup("posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    private static let addClosefromFn: AddClosefrom? = lookup("posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddClosefrom.self) }

    /// A pipe whose two ends are close-on-exec: (read end, write end).
    /// Uses pipe2(O_CLOEXEC) when present, else pipe + FD_CLOEXEC (racy against other threads' forks).
    static func cloexecPipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        let rc: Int32
        if let pipe2Fn {
            rc = fds.withUnsafeMutableBufferPointer { pipe2Fn($0.baseAddress!, O_CLOEXEC) }
        } else {
            rc = pipe(&fds)
            if rc == 0 { for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
        }
        guard rc == 0 else { throw VaultError.posix("cannot create", path: "pipe", errno: errno) }
        return (fds[0], fds[1])
    }

    /// Adds a chdir to the spawn file actions: its result code, or nil when libc has no such action.
    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32? {
        guard let addChdirFn else { return nil }
        return path.withCString { addChdirFn(actions, $0) }
    }

    /// Closes every fd from `lowest` up in the child, when libc supports it (glibc ≥ 2.34).
    static func addClosefrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) {
        _ = addClosefromFn?(actions, lowest)
    }
}
