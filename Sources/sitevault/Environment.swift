import Foundation
import SiteBackup
import VaultCore
import VaultCrypto
import VaultFileSystem
import VaultRepository
import VaultStorage
#if canImport(Glibc)
import Glibc
#endif

/// Options every command that touches a repository takes.
import ArgumentParser

struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: """
        Repository location: a folder, or sftp:user@host:/path (ssh runs with your keys and config; \
        $SITEVAULT_SFTP_COMMAND replaces the ssh command line) (default: $SITEVAULT_REPOSITORY).
        """)
    var repo: String?

    @Option(name: .long, help: "File holding the repository password (default: $SITEVAULT_PASSWORD_FILE, then $SITEVAULT_PASSWORD).")
    var passwordFile: String?

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    @Flag(name: [.short, .long], help: "Print only errors.")
    var quiet = false

    @Option(name: .long, help: "Seconds to wait for a conflicting lock to go away (default 0: fail at once).")
    var retryLock: Double = 0

    @Option(name: .long, help: "Limit uploads to the repository to this many KiB/s (default: unlimited).")
    var limitUpload: Int?

    @Option(name: .long, help: "Limit downloads from the repository to this many KiB/s (default: unlimited).")
    var limitDownload: Int?

    @Flag(name: .long, help: "Log every storage call on standard error (also SITEVAULT_DEBUG_STORE=1).")
    var debugStore = false

    func validate() throws {
        for (name, v) in [("--limit-upload", limitUpload), ("--limit-download", limitDownload)] {
            if let v, v <= 0 { throw ValidationError("\(name) takes a positive number of KiB/s") }
        }
    }
}

/// `--no-lock`, on the commands that only read.
struct ReadLockOptions: ParsableArguments {
    @Flag(name: .long, help: ArgumentHelp(
        "Read without taking a lock (for a read-only or full repository; ls, snapshots, diff and stats never take one).",
        discussion: "Without it, a lock that cannot be written because the repository is read-only or full is skipped with a warning."))
    var noLock = false
}

/// The process environment, read once by the executable and passed down as values.
struct Context {
    let options: GlobalOptions
    let env: [String: String]
    let hostname: String
    let username: String
    let clock: VaultClock = SystemClock()
    var output: Output

    init(_ options: GlobalOptions) {
        self.options = options
        env = ProcessInfo.processInfo.environment
        (hostname, username) = hostAndUser()
        output = Output(json: options.json, quiet: options.quiet)
    }

    var repositoryPath: String {
        get throws {
            guard let r = options.repo ?? env["SITEVAULT_REPOSITORY"], !r.isEmpty else {
                throw VaultError(.invalidArgument, "no repository given: pass --repo PATH or set SITEVAULT_REPOSITORY")
            }
            return r
        }
    }

    /// KDF cost: the standard one, unless the test suite asks for a cheap one explicitly.
    var kdf: KDFParameters {
        env["SITEVAULT_INSECURE_TEST_KDF"] == "1" ? .insecureForTests() : .standard()
    }

    func password(confirm: Bool = false) throws -> [UInt8] {
        if let f = options.passwordFile ?? env["SITEVAULT_PASSWORD_FILE"] {
            return try Password.fromFile(f)
        }
        if let p = env["SITEVAULT_PASSWORD"] { return Array(p.utf8) }
        if isatty(0) == 1 { return try Password.prompt("Repository password: ", confirm: confirm) }
        throw VaultError(.invalidArgument, "no password given: use --password-file, SITEVAULT_PASSWORD_FILE or SITEVAULT_PASSWORD")
    }

    /// How stores are opened, from the global options and the environment.
    var storeOptions: StoreOptions {
        var o = sitevault.storeOptions(env, debug: options.debugStore)
        o.limitUploadKiB = options.limitUpload
        o.limitDownloadKiB = options.limitDownload
        let out = output
        o.onRetry = { out.warn("warning: " + $0) }
        return o
    }

    /// The store of `--repo`, wrapped as the options ask (see `StoreFactory`); nothing is created.
    func openStore() throws -> BlobStore {
        try StoreFactory.open(try repositoryPath, options: storeOptions)
    }

    func openRepository() throws -> Repository {
        let store = try openStore()
        let config = try Repository.readConfig(store)   // missing repository / unknown version: before any password prompt
        let repo = try Repository.open(store: store, config: config, password: try password(), clock: clock)
        let out = output
        repo.setWarningHandler { out.warn("warning: " + $0) }
        return repo
    }

    /// The test hook of `testCommitGate(_:)`, from this environment.
    func testCommitGate() -> (@Sendable () throws -> Void)? { sitevault.testCommitGate(env) }

    /// The test hook of `testReadGate(_:)`, from this environment.
    func testReadGate() -> (@Sendable (String, Int) -> Void)? { sitevault.testReadGate(env) }

    /// A shared lock for a reading command, or none (`--no-lock`, or a read-only or full repository:
    /// then a warning is printed).
    func readAccess(_ repo: Repository, operation: String, _ options: ReadLockOptions) throws -> ReadAccess {
        let access = try RepositoryLock.acquireForReading(repo, operation: operation, hostname: hostname, username: username,
                                                          wait: self.options.retryLock, noLock: options.noLock)
        if let w = access.warning { output.warn("warning: " + w) }
        return access
    }

    func lock(_ repo: Repository, exclusive: Bool, operation: String) throws -> RepositoryLock {
        try RepositoryLock.acquire(repo, exclusive: exclusive, operation: operation, hostname: hostname, username: username,
                                   wait: options.retryLock)
    }
}

/// Store options from the environment: the debug log of store calls on standard error with
/// `debug` (`--debug-store`) or SITEVAULT_DEBUG_STORE=1; the SFTP command from SITEVAULT_SFTP_COMMAND.
func storeOptions(_ env: [String: String], debug: Bool = false) -> StoreOptions {
    var o = StoreOptions()
    if let command = env["SITEVAULT_SFTP_COMMAND"], !command.isEmpty { o.sftpCommand = command }
    if debug || env["SITEVAULT_DEBUG_STORE"] == "1" {
        o.debugLog = { line in FileHandle.standardError.write(Data((TerminalText.escape(line) + "\n").utf8)) }
    }
    return o
}

/// Test hook: with SITEVAULT_TEST_COMMIT_GATE=PATH, a backup (or site backup) about to commit creates
/// PATH.waiting and waits (up to 10 minutes) until PATH exists, so a test can act at exactly that moment.
func testCommitGate(_ env: [String: String]) -> (@Sendable () throws -> Void)? {
    guard let gate = env["SITEVAULT_TEST_COMMIT_GATE"], !gate.isEmpty else { return nil }
    return {
        _ = FileManager.default.createFile(atPath: gate + ".waiting", contents: nil)
        for _ in 0..<6000 where !FileManager.default.fileExists(atPath: gate) { usleep(100_000) }
    }
}

/// Test hook (SITEVAULT_TEST_READ_GATE=G): after reading pass N of a file, the backup creates
/// `G.waiting-N` and waits (at most 60 s) until `G-N` exists, so a test can change the file between
/// reading it and checking it for changes. Each pass number waits once per run.
func testReadGate(_ env: [String: String]) -> (@Sendable (String, Int) -> Void)? {
    guard let gate = env["SITEVAULT_TEST_READ_GATE"], !gate.isEmpty else { return nil }
    return { _, pass in
        let open = gate + "-\(pass)"
        guard !FileManager.default.fileExists(atPath: open) else { return }
        _ = FileManager.default.createFile(atPath: gate + ".waiting-\(pass)", contents: nil)
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: open) { usleep(100_000) }
    }
}

/// Test hook (SITEVAULT_TEST_RESTORE_GATE=G): after creating the first folder, the restore writes
/// its path to `G.waiting` and waits (at most 60 s) until `G` exists, so a test can change the
/// target at that moment (swap the folder for a symlink).
func testRestoreGate(_ env: [String: String]) -> (@Sendable (FilePath) -> Void)? {
    guard let gate = env["SITEVAULT_TEST_RESTORE_GATE"], !gate.isEmpty else { return nil }
    return { path in
        guard !FileManager.default.fileExists(atPath: gate + ".waiting") else { return }
        _ = FileManager.default.createFile(atPath: gate + ".waiting", contents: Data(path.bytes))
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: gate) { usleep(100_000) }
    }
}

/// This machine's name and the user running the command.
func hostAndUser() -> (String, String) {
    var buf = [CChar](repeating: 0, count: 256)
    gethostname(&buf, 255)
    let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? String(geteuid())
    return (String(cString: buf), user)
}

enum Password {
    /// Reads the password; warns on standard error when other users can read the file too.
    static func fromFile(_ path: String) throws -> [UInt8] {
        if let why = secretFileExposure(path) {
            let text = "warning: password file \(path) is \(why): anyone on this machine can read the password; chmod 600 \(path)"
            FileHandle.standardError.write(Data("sitevault: \(TerminalText.escape(text))\n".utf8))
        }
        return try readPassword(path)
    }

    /// Reads a password from the terminal with echo off.
    static func prompt(_ text: String, confirm: Bool) throws -> [UInt8] {
        func readOne(_ label: String) -> [UInt8] {
            FileHandle.standardError.write(label.data(using: .utf8)!)
            var old = termios()
            tcgetattr(0, &old)
            var noEcho = old
            noEcho.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(0, TCSANOW, &noEcho)
            defer { tcsetattr(0, TCSANOW, &old); FileHandle.standardError.write("\n".data(using: .utf8)!) }
            return Array((readLine(strippingNewline: true) ?? "").utf8)
        }
        let p = readOne(text)
        if confirm {
            guard readOne("Repeat password: ") == p else { throw VaultError(.invalidArgument, "the passwords do not match") }
        }
        guard !p.isEmpty else { throw VaultError(.invalidArgument, "an empty password is not allowed") }
        return p
    }
}
