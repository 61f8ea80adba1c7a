import ArgumentParser
import Foundation
import SiteConsole
import VaultCore
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Manage the web console's users and its metrics token (the console runs inside `sitevault service --listen`).",
        subcommands: [ConsolePasswdCommand.self, ConsoleTokenCommand.self]
    )
}

struct ConsoleDirOption: ParsableArguments {
    @Option(name: .long, help: "The console's state folder (default /var/lib/sitevault/console as root, else ~/.local/state/sitevault/console).")
    var consoleDir: String?

    var path: String { consoleDir ?? ConsoleSettings.defaultStateDir(env: ProcessInfo.processInfo.environment) }
}

struct ConsolePasswdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Add a console user or set its password (scrypt hash in users.json, mode 0600).",
        discussion: """
        The password is asked on the terminal (twice), or read as the first line of standard input when \
        that is not a terminal; never from an argument. A running console sees the change at the next login.
        """
    )
    @Option(name: .long, help: "The user name.") var user = "admin"
    @Flag(name: .long, help: "The user may look but not run actions (backup, drill, thaw, acknowledge).") var readOnly = false
    @OptionGroup var dir: ConsoleDirOption

    func validate() throws {
        guard !user.isEmpty, user.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }) else {
            throw ValidationError("--user takes letters, digits and . _ - @")
        }
    }

    func run() async throws {
        let password: [UInt8]
        if isatty(0) == 1 {
            password = try Password.prompt("Console password for \(user): ", confirm: true)
        } else {
            password = Array((readLine(strippingNewline: true) ?? "").utf8)
        }
        guard password.count >= 8 else { throw ValidationError("the password must have at least 8 characters") }
        let env = ProcessInfo.processInfo.environment
        let kdf: KDFParameters = env["SITEVAULT_INSECURE_TEST_KDF"] == "1" ? .insecureForTests() : .standard()
        do {
            var users = try ConsoleUsers.load(stateDir: dir.path)
            try users.set(name: user, password: password, role: readOnly ? .readOnly : .admin, kdf: kdf)
            try users.save(stateDir: dir.path)
        } catch let e as VaultError {
            Output(json: false, quiet: false).warn("error: " + e.message)
            throw ExitCodeError(Exit.failure)
        }
        printLine("console user \(user) (\(readOnly ? "read-only" : "admin")) saved in \(ConsoleUsers.path(stateDir: dir.path))")
    }
}

struct ConsoleTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create the bearer token /metrics asks of other machines (metrics.token, mode 0600).",
        discussion: "The token is written to the file, not printed: give Prometheus the file (bearer_token_file / authorization.credentials_file)."
    )
    @OptionGroup var dir: ConsoleDirOption

    func run() async throws {
        let path = dir.path + "/metrics.token"
        if mkdir(dir.path, 0o700) != 0 && errno != EEXIST { throw VaultError.posix("cannot create", path: dir.path, errno: errno) }
        let token = Data(randomBytes(32)).map { String(format: "%02x", $0) }.joined()
        let tmp = path + ".tmp"
        unlink(tmp)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.posix("cannot write", path: tmp, errno: errno) }
        let bytes = Array((token + "\n").utf8)
        let ok = write(fd, bytes, bytes.count) == bytes.count && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else { throw VaultError.posix("cannot write", path: path, errno: errno) }
        printLine("metrics token written to \(path) (mode 0600)")
    }
}
