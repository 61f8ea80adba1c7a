#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The children this process started, found in /proc. Each was spawned as the leader of its own
/// process group (see Spawner), so signalling the group reaches what it started in turn.
public enum ChildProcesses {
    /// Sends SIGTERM to the process group of every child still running (on the way out after an
    /// interruption: a restore or probe command must not outlive the command that started it).
    public static func terminateAll() {
        let me = getpid()
        guard let dir = opendir("/proc") else { return }
        defer { closedir(dir) }
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid != me, parent(of: pid) == me else { continue }
            kill(-pid, SIGTERM)
            kill(pid, SIGTERM)
        }
    }

    static func parent(of pid: Int32) -> Int32? {
        ProcStat.fields(of: pid).flatMap { $0.count > 1 ? Int32($0[1]) : nil }
    }
}

/// /proc/PID/stat, split after the command name (which may hold spaces and parentheses):
/// field 0 is the state letter (R, S, D, T, Z…), field 1 the parent pid, and so on.
public enum ProcStat {
    public static func fields(of pid: Int32) -> [String]? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return nil }
        let s = String(decoding: buf[0..<n], as: UTF8.self)
        guard let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].split(separator: " ").map(String.init)
    }
}
