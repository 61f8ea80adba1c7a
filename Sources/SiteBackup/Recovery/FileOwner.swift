#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Owner, group and mode of a file or folder, recorded at backup (in the manifest) so that a
/// recovery puts them back: an application running as its own user fails on a database that came
/// back owned by root. Names are kept beside the numbers: on a rebuilt machine the user may have
/// another id, and the name wins when it exists.
public struct FileOwner: Sendable, Codable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Permission bits (with setuid/setgid/sticky), without the file type.
    public var mode: UInt32
    public var user: String?
    public var group: String?

    public init(uid: UInt32, gid: UInt32, mode: UInt32, user: String? = nil, group: String? = nil) {
        self.uid = uid; self.gid = gid; self.mode = mode; self.user = user; self.group = group
    }

    /// What `path` has now (nil when it cannot be read).
    public static func of(_ path: String) -> FileOwner? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileOwner(uid: st.st_uid, gid: st.st_gid, mode: UInt32(st.st_mode) & 0o7777,
                         user: getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) },
                         group: getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) })
    }

    /// The ids to give on this machine: the recorded names when they exist here, else the numbers.
    public var localIDs: (uid: uid_t, gid: gid_t) {
        let u = user.flatMap { n in getpwnam(n).map { $0.pointee.pw_uid } } ?? uid
        let g = group.flatMap { n in getgrnam(n).map { $0.pointee.gr_gid } } ?? gid
        return (u, g)
    }

    /// Gives `path` this owner (when running as root) and mode; never follows a symbolic link.
    public func apply(to path: String) throws {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw VaultError.posix("cannot open", path: path, errno: errno) }
        defer { close(fd) }
        if geteuid() == 0 {
            let ids = localIDs
            guard fchown(fd, ids.uid, ids.gid) == 0 else { throw VaultError.posix("cannot give \(description) to", path: path, errno: errno) }
        }
        guard fchmod(fd, mode_t(mode)) == 0 else { throw VaultError.posix("cannot set mode \(String(mode, radix: 8)) on", path: path, errno: errno) }
    }

    public var description: String {
        "\(user ?? String(uid)):\(group ?? String(gid)) \(String(mode, radix: 8))"
    }
}
