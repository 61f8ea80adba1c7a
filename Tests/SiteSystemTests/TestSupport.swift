#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SiteSystem
import VaultCore

/// A fresh temporary directory, removed (with its files) by the returned cleanup.
func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/sitesystem-test-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(p != nil, "mkdtemp failed")
    return String(cString: template)
}

func removeTree(_ path: String) {
    _ = try? ProcessRunner().run(Command(["/bin/rm", "-rf", path]))
}

func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    precondition(fd >= 0, "cannot create \(path)")
    let bytes = Array(text.utf8)
    precondition(write(fd, bytes, bytes.count) == bytes.count)
    fchmod(fd, mode)
    close(fd)
}

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n <= 0 { return out }
        out += buf[0..<n]
    }
}

func readText(_ path: String) -> String? { readFile(path).map { String(decoding: $0, as: UTF8.self) } }

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// The state letter of a process from /proc (R, S, Z…), or nil when it is gone.
func processState(_ pid: pid_t) -> Character? {
    guard let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
    return stat[close...].dropFirst(2).first
}

/// True when the process is gone or only a zombie (an orphan waiting for init to reap it).
func isDead(_ pid: pid_t) -> Bool {
    guard let s = processState(pid) else { return true }
    return s == "Z" || s == "X"
}

/// Our direct children, with their /proc state letters.
func childProcesses() -> [(pid: pid_t, state: Character)] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var out: [(pid_t, Character)] = []
    let me = getpid()
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let pid = pid_t(name), let stat = readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { continue }
        let fields = stat[close...].dropFirst(2).split(separator: " ")
        if fields.count > 1, pid_t(fields[1]) == me, let state = fields[0].first { out.append((pid, state)) }
    }
    return out
}

/// Waits up to `seconds` for `condition`.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + seconds
    while monotonicSeconds() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// 64-bit FNV-1a, to compare big streams without keeping them.
struct FNV1a {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    var count = 0
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = hash
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        hash = h
        count += bytes.count
    }
}

func sh(_ script: String, timeout: Double? = nil, extra: [String: String] = [:]) -> Command {
    Command(["/bin/sh", "-c", script], extraEnvironment: extra, timeout: timeout)
}
