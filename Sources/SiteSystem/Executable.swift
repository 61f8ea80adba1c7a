#if canImport(Glibc)
import Glibc
#endif

/// Finds programs the way the process runner will when it starts them.
public enum Executable {
    /// The path `name` would be run from (searched in `searchPath`, default this process's PATH),
    /// nil when nothing runnable is found.
    public static func find(_ name: String, searchPath: String? = nil) -> String? {
        let path = searchPath ?? getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        guard let p = try? Spawner.resolve(name, searchPath: path) else { return nil }
        return access(p, X_OK) == 0 ? p : nil
    }
}
