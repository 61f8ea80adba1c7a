#if canImport(Glibc)
import Glibc
#endif
import SiteTOML
import VaultCore
import VaultFileSystem

/// Reads and validates a site's control file (`site.toml`, documented in docs/control-file.md).
/// Every problem is reported with file, line, column and reason; a file with any problem is refused.
public enum ControlFile {
    /// Loads `path`. With `checkPaths`, paths that must exist are checked on this machine
    /// (`false` when reading a control file kept inside a snapshot, for recovery elsewhere).
    public static func load(path: String, checkPaths: Bool = true) throws -> SiteConfig {
        let abs = FilePath(path).absolute().description
        let bytes: [UInt8]
        do { bytes = try readWholeFile(abs) } catch let e as VaultError {
            throw VaultError(.invalidArgument, "cannot read control file \(abs): \(e.message)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ControlFileError(file: abs, problems: [ControlFileProblem(file: abs, line: 1, column: 1, message: "the file is not valid UTF-8")])
        }
        return try parse(text: text, file: abs, checkPaths: checkPaths)
    }

    public static func parse(text: String, file: String, checkPaths: Bool = true) throws -> SiteConfig {
        let problems = ProblemList(file: file)
        let root: TOMLTable
        do { root = try TOML.parse(text) } catch let e as TOMLError {
            problems.add(e.position, e.message)
            throw ControlFileError(file: file, problems: problems.problems)
        }
        let reader = ControlFileReader(file: file, text: text, root: root, problems: problems, checkPaths: checkPaths)
        let config = reader.read()
        if !problems.problems.isEmpty || config == nil {
            throw ControlFileError(file: file, problems: problems.problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) })
        }
        return config!
    }

    /// Refuses a control file (or a password file it names) that other users may change: they could
    /// change what runs, as whoever runs it; and a password file other users may read (also when the
    /// file was read without `checkPaths`, as recovery and drills do). `refusing` says what is refused,
    /// e.g. "the backup was not run".
    public static func checkFilePermissions(_ c: SiteConfig, refusing: String) throws {
        let secrets = c.destinations.values.map(\.passwordFile).sorted() + c.components.compactMap { $0.postgres?.passwordFile }
        for p in [c.file] + secrets {
            if let why = writableByOthers(p) {
                throw VaultError(.invalidArgument,
                                 "\(p) is \(why): anyone on this machine could change it; \(refusing); chmod o-w \(p)")
            }
        }
        for p in secrets {
            if let why = secretFileExposure(p) {
                throw VaultError(.invalidArgument, "password file \(p) is \(why): anyone on this machine can read the password; "
                                 + "\(refusing); chmod 600 \(p)")
            }
        }
    }

    static func readWholeFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw VaultError.posix("cannot open", path: path, errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n < 0 { if errno == EINTR { continue }; throw VaultError.posix("cannot read", path: path, errno: errno) }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

/// Names of sites, components, writers and destinations: letters, digits, '.', '_' and '-'.
func isValidName(_ s: String) -> Bool {
    guard let f = s.unicodeScalars.first, f.properties.isAlphabetic || ("0"..."9").contains(f) else { return false }
    return s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-" }
}

/// Signals by name ("STOP", "SIGCONT", "USR1") or number.
func signalNumber(_ s: String) -> Int32? {
    let names: [String: Int32] = ["HUP": 1, "INT": 2, "QUIT": 3, "USR1": 10, "USR2": 12, "TERM": 15, "CONT": 18, "STOP": 19, "TSTP": 20]
    let u = s.uppercased()
    if let n = names[u.hasPrefix("SIG") ? String(u.dropFirst(3)) : u] { return n }
    if let n = Int32(s), n > 0, n < 65 { return n }
    return nil
}
