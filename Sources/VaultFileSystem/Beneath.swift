#if canImport(Glibc)
import Glibc
#endif
import CLinux
import VaultCore

/// Opens folders below an already open folder without ever following a symlink, so a path that is
/// changed meanwhile (a folder swapped for a symlink) cannot lead outside it. Uses `openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has it (Linux 5.6+), else opens one
/// component at a time with `O_NOFOLLOW | O_DIRECTORY`.
public enum Beneath {
    /// Opens the folder `components` (names, no "/" inside, no "." or "..") below `root`. An empty
    /// list opens `root` itself again. Returns the descriptor, or -1 with errno set (ELOOP or
    /// ENOTDIR when a component is a symlink or not a folder, EXDEV when it would leave `root`).
    /// `openat2: false` (tests) takes the per-component walk that older kernels get.
    public static func openDirectory(_ root: Int32, _ components: [[UInt8]], openat2: Bool = true) -> Int32 {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        if components.contains(where: { $0.isEmpty || $0 == [46] || $0 == [46, 46] || $0.contains(47) || $0.contains(0) }) {
            errno = EINVAL; return -1
        }
        let relative = components.isEmpty ? FilePath(".") : FilePath(Array(components.joined(separator: [47])))
        if openat2 {
            let fd = relative.withCString {
                sitevault_openat2(root, $0, UInt64(flags), UInt64(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS))
            }
            if fd >= 0 || (errno != ENOSYS && errno != EPERM) { return fd }
        }
        // No openat2 (old kernel, or refused by a seccomp filter): one component at a time.
        var current = openat(root, ".", flags)
        for name in components where current >= 0 {
            let next = FilePath(name).withCString { openat(current, $0, flags) }
            let e = errno
            close(current)
            current = next
            errno = e
        }
        return current
    }

    /// The path of `name` inside the open folder `dir` through /proc, for the calls that have no
    /// `…at` form (`lsetxattr`): the folder is the one already open, the last component is not followed.
    public static func procPath(_ dir: Int32, _ name: [UInt8]) -> FilePath {
        FilePath(Array("/proc/self/fd/\(dir)/".utf8) + name)
    }
}
