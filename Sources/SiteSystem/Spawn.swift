#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import VaultCore

/// Starts a child with posix_spawn: its own process group, default signal handling, an empty
/// signal mask, pipes on 0/1/2 (or /dev/null on 0) and no other inherited descriptor.
enum Spawner {
    struct Spawned {
        var pid: pid_t
        var stdin: Int32?
        var stdout: Int32
        var stderr: Int32
    }

    /// Signals reset to their default action in the child (ignored ones would stay ignored across
    /// exec): every standard signal that can be changed. glibc keeps its internal real-time ones.
    static let defaultSignals: [Int32] = (1..<32).filter { $0 != SIGKILL && $0 != SIGSTOP }

    static func spawn(_ command: Command, withStdin: Bool) throws -> Spawned {
        guard let name = command.argv.first, !name.isEmpty else {
            throw VaultError(.invalidArgument, "cannot run an empty command")
        }
        let env = environment(for: command)
        if command.argv.contains(where: { $0.utf8.contains(0) })
            || env.contains(where: { $0.key.isEmpty || $0.key.utf8.contains(0) || $0.key.contains("=") || $0.value.utf8.contains(0) }) {
            throw VaultError(.invalidArgument, "cannot run '\(name)': an argument or environment variable contains a NUL byte or a bad name",
                             context: ["command": name])
        }
        let executable = try resolve(name, searchPath: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        if let dir = command.workingDirectory { try checkDirectory(dir, for: name) }

        var opened: [Int32] = []
        var spawned = false
        defer { if !spawned { for fd in opened { close(fd) } } }
        func pipePair() throws -> (read: Int32, write: Int32) {
            let p = try LibcExtras.cloexecPipe()
            opened.append(p.read); let r = opened.count - 1
            opened.append(p.write); let w = opened.count - 1
            opened[r] = try aboveStdio(opened[r])
            opened[w] = try aboveStdio(opened[w])
            return (opened[r], opened[w])
        }
        let inPipe = withStdin ? try pipePair() : nil
        let outPipe = try pipePair()
        let errPipe = try pipePair()
        #if os(Linux)
        // A 1 MiB stdout pipe (F_SETPIPE_SZ; best effort) moves big dumps with fewer wake-ups.
        _ = fcntl(outPipe.read, 1031, Int32(1 << 20))
        #endif

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let inPipe {
            posix_spawn_file_actions_adddup2(&actions, inPipe.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe.write, 2)
        LibcExtras.addClosefrom(&actions, 3)
        if let dir = command.workingDirectory {
            guard let rc = LibcExtras.addChdir(&actions, dir) else {
                throw VaultError(.invalidArgument, "cannot run '\(name)' in \(dir): this C library cannot set a spawned process's working directory",
                                 context: ["command": name])
            }
            if rc != 0 { throw VaultError.posix("cannot run '\(name)' in", path: dir, errno: rc) }
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in defaultSignals { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)

        var pid: pid_t = 0
        let envStrings = env.keys.sorted().map { "\($0)=\(env[$0]!)" }
        let rc = withCStrings(command.argv) { argv in
            withCStrings(envStrings) { envp in
                posix_spawn(&pid, executable, &actions, &attr, argv, envp)
            }
        }
        guard rc == 0 else { throw cannotRun(name, errno: rc) }
        spawned = true
        // The child's ends belong to the child now.
        for fd in [outPipe.write, errPipe.write] + (inPipe.map { [$0.read] } ?? []) { close(fd) }
        return Spawned(pid: pid, stdin: inPipe?.write, stdout: outPipe.read, stderr: errPipe.read)
    }

    /// The error for a program that cannot be started: "cannot run 'foo': No such file or directory".
    static func cannotRun(_ name: String, errno e: Int32) -> VaultError {
        VaultError(e == ENOENT ? .notFound : .io, "cannot run '\(name)': \(String(cString: strerror(e)))",
                   context: ["command": name, "errno": String(e)])
    }

    /// The child's environment: the given one or ours, with the extra variables on top, without
    /// `Command.withheldVariables` (whatever the caller passed).
    static func environment(for command: Command) -> [String: String] {
        var env = command.environment ?? currentEnvironment()
        for (k, v) in command.extraEnvironment { env[k] = v }
        for k in Command.withheldVariables { env[k] = nil }
        return env
    }

    /// This process's environment now.
    static func currentEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        guard var p = start else { return env }
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                let key = String(s[..<eq])
                if !key.isEmpty && env[key] == nil { env[key] = String(s[s.index(after: eq)...]) }
            }
            p += 1
        }
        return env
    }

    /// The path to run for `name`: itself when it has a slash, else the first executable regular
    /// file of that name in `searchPath` (like execvp, an empty entry means the current directory).
    static func resolve(_ name: String, searchPath: String) throws -> String {
        if name.contains("/") { return name }
        var sawDenied = false
        for dir in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = dir.isEmpty ? name : "\(dir)/\(name)"
            var st = stat()
            guard stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            sawDenied = true
        }
        throw cannotRun(name, errno: sawDenied ? EACCES : ENOENT)
    }

    static func checkDirectory(_ dir: String, for name: String) throws {
        var st = stat()
        if stat(dir, &st) != 0 {
            throw VaultError.posix("cannot run '\(name)': working directory", path: dir, errno: errno)
        }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            throw VaultError.posix("cannot run '\(name)': working directory", path: dir, errno: ENOTDIR)
        }
    }

    /// Moves a descriptor to 3 or above (closing the original), so dup2 onto 0/1/2 in the child can
    /// never clobber another pipe end (possible when this process runs with a standard fd closed).
    static func aboveStdio(_ fd: Int32) throws -> Int32 {
        guard fd < 3 else { return fd }
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
        guard moved >= 0 else { throw VaultError.posix("cannot duplicate", path: "pipe", errno: errno) }
        close(fd)
        return moved
    }

    /// Calls `body` with a NULL-terminated C array of copies of `strings`.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeMutableBufferPointer { body(UnsafePointer($0.baseAddress!)) }
    }
}
