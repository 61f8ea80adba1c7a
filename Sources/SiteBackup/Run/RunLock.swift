#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Makes sure two runs of the same site never overlap: an flock on `run.lock` in the state folder,
/// released by the kernel when the process ends, however it ends.
final class RunLock {
    let fd: Int32

    /// `run.lock` is held by backups and recoveries; drills hold `drill.lock`.
    init(stateDir: String, name: String = "run.lock", what: String = "run") throws {
        try makeFolder(stateDir)
        let path = stateDir + "/" + name
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.posix("cannot open", path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, buf.count, 0)
            let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingChars(" \n") : "?"
            close(fd)
            throw RunFailure(.alreadyRunning, "another \(what) of this site is active (process \(holder)); \(what)s of one site never overlap")
        }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) }
    }

    deinit { flock(fd, LOCK_UN); close(fd) }
}
