#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore

/// Runs a writer's freeze and thaw actions (docs/control-file.md, [[writer]]).
enum WriterActions {
    /// Brings the writer's components to a consistent state. Throws with a message naming the writer.
    static func freeze(_ w: WriterConfig) throws {
        switch w.kind {
        case .service:
            try run(w, w.stop ?? ["systemctl", "stop", w.unit ?? ""], "stop")
        case .signal:
            let pid = try readPid(w)
            guard kill(pid, w.freezeSignal) == 0 else {
                throw VaultError.posix("writer '\(w.name)': cannot send signal \(w.freezeSignal) to process \(pid)", path: w.pidFile ?? "", errno: errno)
            }
            if w.freezeSignal == SIGSTOP_VALUE { try waitForState(pid, stopped: true, writer: w) }
        case .command:
            try run(w, w.freeze!, "freeze")
        case .fsfreeze:
            try run(w, ["fsfreeze", "--freeze", w.mount!], "freeze")
        }
    }

    /// Brings them back. Throws when the application may still be frozen.
    static func thaw(_ w: WriterConfig) throws {
        switch w.kind {
        case .service:
            try run(w, w.start ?? ["systemctl", "start", w.unit ?? ""], "start")
        case .signal:
            let pid = try readPid(w)
            if kill(pid, w.thawSignal) != 0 {
                // The process is gone: nothing is frozen any more.
                if errno == ESRCH { return }
                throw VaultError.posix("writer '\(w.name)': cannot send signal \(w.thawSignal) to process \(pid)", path: w.pidFile ?? "", errno: errno)
            }
            if w.thawSignal == SIGCONT_VALUE { try waitForState(pid, stopped: false, writer: w) }
        case .command:
            try run(w, w.thaw!, "thaw")
        case .fsfreeze:
            try run(w, ["fsfreeze", "--unfreeze", w.mount!], "thaw")
        }
    }

    /// What can be checked before anything is frozen.
    static func preflight(_ w: WriterConfig) throws {
        switch w.kind {
        case .signal:
            let pid = try readPid(w)
            // A zombie (dead, not yet reaped by its parent) answers kill(pid, 0) but runs nothing.
            if kill(pid, 0) != 0 && errno == ESRCH || processState(pid) == "Z" {
                throw VaultError(.notFound, "writer '\(w.name)': process \(pid) from \(w.pidFile!) is not running")
            }
        case .service, .command:
            // Both directions: a missing thaw program found only after freezing would leave the site stopped.
            let commands = w.kind == .service ? [w.stop ?? ["systemctl"], w.start ?? ["systemctl"]] : [w.freeze!, w.thaw!]
            for argv in commands where Executable.find(argv[0]) == nil {
                throw VaultError(.notFound, "writer '\(w.name)': command '\(argv[0])' not found (PATH=\(getenv("PATH").map { String(cString: $0) } ?? ""))")
            }
        case .fsfreeze:
            guard Executable.find("fsfreeze") != nil else { throw VaultError(.notFound, "writer '\(w.name)': fsfreeze is not installed (util-linux)") }
        }
    }

    static func run(_ w: WriterConfig, _ argv: [String], _ what: String) throws {
        let r = try ProcessRunner().run(Command(argv, timeout: w.timeout))
        guard r.succeeded else { throw VaultError(.io, "writer '\(w.name)': \(what) command \(argv.joined(separator: " ")) \(r.summary)") }
    }

    static func readPid(_ w: WriterConfig) throws -> pid_t {
        let path = w.pidFile!
        let bytes = (try? ControlFile.readWholeFile(path)) ?? []
        let text = String(decoding: bytes, as: UTF8.self).trimmingChars(" \n\t")
        guard let pid = pid_t(text), pid > 1 else {
            throw VaultError(.notFound, "writer '\(w.name)': pid file \(path) is missing or does not hold a process id")
        }
        return pid
    }

    /// Waits until /proc says the process is stopped (T) or running again, so the freeze is real.
    static func waitForState(_ pid: pid_t, stopped: Bool, writer w: WriterConfig) throws {
        let deadline = monotonicSeconds() + 5
        while monotonicSeconds() < deadline {
            guard let state = processState(pid) else { return }
            if (state == "T" || state == "t") == stopped { return }
            usleep(2_000)
        }
        throw VaultError(.io, "writer '\(w.name)': process \(pid) did not \(stopped ? "stop" : "resume") within 5 s")
    }

    /// The state letter of /proc/PID/stat (R, S, D, T, Z…), nil when the process does not exist.
    static func processState(_ pid: pid_t) -> Character? {
        ProcStat.fields(of: pid)?.first?.first
    }
}

extension String {
    func trimmingChars(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
