#if canImport(Glibc)
import Glibc
#endif
import VaultArchiver
import VaultCore
import VaultRepository
import VaultStorage

/// A failure of the run with its kind (exit code, status message) and what to do.
public struct RunFailure: Error, Sendable {
    public var kind: FailureKind
    public var message: String
    public var component: String?
    public init(_ kind: FailureKind, _ message: String, component: String? = nil) {
        self.kind = kind; self.message = message; self.component = component
    }
}

/// One repository a run writes to, opened, locked and checked before anything is frozen.
final class OpenDestination {
    let config: DestinationConfig
    let repository: Repository
    let lock: RepositoryLock
    let archiver: Archiver
    /// The previous site snapshot in this repository (its component trees serve as parents).
    let parentID: ID?
    let parentTree: Tree?

    /// Checks, in this order, with a precise failure for each: the folder exists, is a
    /// repository, can be written, has some free space; the password opens it; a lock is taken.
    init(_ d: DestinationConfig, site: String, hostname: String, username: String, tags: [String], clock: VaultClock, retryLock: Double,
         storeOptions: StoreOptions = StoreOptions(), beforeCommit: (@Sendable () throws -> Void)? = nil) throws {
        config = d
        let store: BlobStore
        do { store = try StoreFactory.open(d.path, options: d.storeOptions(storeOptions)) } catch let e as VaultError {
            throw RunFailure(.destinationMissing, "repository \(d.name): \(e.message)")
        }
        try Self.preflight(store, d)
        let password: [UInt8]
        do { password = try readPassword(d.passwordFile) } catch let e as VaultError {
            throw RunFailure(.wrongPassword, e.message)
        }
        do {
            let cfg = try Repository.readConfig(store)
            repository = try Repository.open(store: store, config: cfg, password: password, clock: clock)
        } catch let e as VaultError {
            switch e.code {
            case .wrongPassword: throw RunFailure(.wrongPassword, "the password in \(d.passwordFile) does not open repository \(d.name) at \(d.path)")
            case .repositoryNotFound: throw RunFailure(.destinationMissing, e.message)
            default: throw RunFailure(.repository, "repository \(d.name) at \(d.path): \(e.message)")
            }
        }
        do {
            lock = try RepositoryLock.acquire(repository, exclusive: false, operation: "site backup \(site)", hostname: hostname,
                                              username: username, wait: retryLock)
        } catch let e as VaultError where e.code == .locked {
            throw RunFailure(.locked, "repository \(d.name): \(e.message)")
        }
        // The index and the parent snapshot are read only once the lock is held: a prune that held
        // the repository while we waited may have repacked or deleted packs.
        do { try repository.loadIndex() } catch let e as VaultError {
            lock.release()
            throw RunFailure(.repository, "repository \(d.name) at \(d.path): \(e.message)")
        }
        var opts = BackupOptions(paths: [], hostname: hostname, username: username)
        opts.tags = tags
        opts.lock = lock
        opts.beforeCommit = beforeCommit
        archiver = Archiver(repository: repository, options: opts)
        let repo = repository
        let previous = try? repo.snapshots().last { $0.snapshot.tags.contains("site=\(site)") && $0.snapshot.hostname == hostname }
        parentID = previous?.id
        parentTree = previous.flatMap { try? repo.loadTree($0.snapshot.treeID!) }
    }

    /// Asks the store, in this order: the location exists, holds a repository, can be written and
    /// has at least 32 MiB free (when the store knows its free space).
    static func preflight(_ store: BlobStore, _ d: DestinationConfig) throws {
        do { try store.checkReachable() } catch let e as VaultError {
            // A remote store that answers but refuses (credentials, access) or cannot be reached: its own message.
            if e.code != .notFound && e.context["errno"] == nil {
                throw RunFailure(.destinationMissing, "repository \(d.name) at \(d.path) cannot be used: \(e.message)")
            }
            let reason = e.context["errno"].flatMap { Int32($0) }.map { String(cString: strerror($0)) } ?? e.message
            throw RunFailure(.destinationMissing, "repository \(d.name) at \(d.path) does not exist (\(reason)): "
                             + "mount the destination or create it with `sitevault init --repo \(d.path)`")
        }
        guard (try? store.exists(Handle(.config, ""))) == true else {
            throw RunFailure(.destinationMissing, "\(d.path) is not a sitevault repository (no config file): "
                             + "create it with `sitevault init --repo \(d.path)`")
        }
        let free: Int?
        do { free = try store.checkWritable() } catch let e as VaultError {
            if e.code == .noSpace {
                throw RunFailure(.destinationFull, "repository \(d.name) at \(d.path) is full: free some space (e.g. `sitevault forget --prune`)")
            }
            throw RunFailure(.destinationUnwritable, "repository \(d.name) at \(d.path) cannot be written (\(e.context["reason"] ?? e.message)): "
                             + "check that it is mounted read-write and owned by this user")
        }
        if let free, free < 32 << 20 {
            throw RunFailure(.destinationFull, "repository \(d.name) at \(d.path) has only \(free >> 20) MiB free: "
                             + "at least 32 MiB are needed; free some space first")
        }
    }

    /// The previous snapshot's tree for one component (nil when there is none).
    func parentTree(of component: String) -> Tree? {
        guard let n = parentTree?.nodes.first(where: { $0.name == Array(component.utf8) }), let sub = n.subtree else { return nil }
        return try? repository.loadTree(sub)
    }
}

/// Reads a password file; its trailing newline is not part of the password.
public func readPassword(_ path: String) throws -> [UInt8] {
    var b: [UInt8]
    do { b = try ControlFile.readWholeFile(path) } catch {
        throw VaultError(.invalidArgument, "cannot read password file \(path): check that it exists and is readable by this user")
    }
    while let last = b.last, last == 10 || last == 13 { b.removeLast() }
    guard !b.isEmpty else { throw VaultError(.invalidArgument, "password file \(path) is empty") }
    return b
}

/// Why a secret file is exposed to other users, or nil when it is not (or cannot be examined):
/// "readable by others (mode 644)". The remedy is `chmod 600 FILE`.
public func secretFileExposure(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0 else { return nil }
    guard st.st_mode & 0o004 != 0 else { return nil }
    return "readable by others (mode \(String(st.st_mode & 0o7777, radix: 8)))"
}

/// A file others can change: "writable by others (mode 666)", or nil.
public func writableByOthers(_ path: String) -> String? {
    var st = stat()
    guard stat(path, &st) == 0, st.st_mode & 0o002 != 0 else { return nil }
    return "writable by others (mode \(String(st.st_mode & 0o7777, radix: 8)))"
}
