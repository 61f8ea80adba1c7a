import VaultCore

/// Message types, flags and status codes of SFTP version 3 (draft-ietf-secsh-filexfer-02).
enum SFTP {
    static let initMsg: UInt8 = 1, version: UInt8 = 2, open: UInt8 = 3, close: UInt8 = 4, read: UInt8 = 5
    static let write: UInt8 = 6, lstat: UInt8 = 7, fstat: UInt8 = 8, opendir: UInt8 = 11, readdir: UInt8 = 12
    static let remove: UInt8 = 13, mkdir: UInt8 = 14, stat: UInt8 = 17, rename: UInt8 = 18
    static let status: UInt8 = 101, handle: UInt8 = 102, data: UInt8 = 103, name: UInt8 = 104, attrs: UInt8 = 105
    static let extended: UInt8 = 200, extendedReply: UInt8 = 201

    static let fRead: UInt32 = 0x01, fWrite: UInt32 = 0x02, fCreate: UInt32 = 0x08
    static let fTruncate: UInt32 = 0x10, fExclusive: UInt32 = 0x20

    static let attrSize: UInt32 = 0x01, attrUIDGID: UInt32 = 0x02, attrPermissions: UInt32 = 0x04
    static let attrTimes: UInt32 = 0x08, attrExtended: UInt32 = 0x8000_0000

    static let ok: UInt32 = 0, eof: UInt32 = 1, noSuchFile: UInt32 = 2, permissionDenied: UInt32 = 3
    static let failure: UInt32 = 4, badMessage: UInt32 = 5, noConnection: UInt32 = 6, connectionLost: UInt32 = 7
    static let unsupported: UInt32 = 8
}

/// Big-endian fields of an SFTP request body.
struct SFTPWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    mutating func u64(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) } }
    mutating func string(_ s: String) { let u = Array(s.utf8); u32(UInt32(u.count)); bytes += u }
    mutating func string(_ b: [UInt8]) { u32(UInt32(b.count)); bytes += b }
    /// File attributes with only the permissions set (new files and folders: 0600 / 0700).
    mutating func permissions(_ mode: UInt32) { u32(SFTP.attrPermissions); u32(mode) }
    mutating func noAttributes() { u32(0) }
}

/// Reads big-endian fields of a reply body; a short body throws `.transient` (a broken session).
struct SFTPReader {
    let bytes: [UInt8]
    var pos = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { pos >= bytes.count }

    private func short() -> VaultError { VaultError(.transient, "SFTP: a reply from the server is cut short") }

    mutating func u32() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw short() }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[pos + i]) }
        pos += 4
        return v
    }

    mutating func u64() throws -> UInt64 { UInt64(try u32()) << 32 | UInt64(try u32()) }

    mutating func bytesField() throws -> ArraySlice<UInt8> {
        let n = Int(try u32())
        guard pos + n <= bytes.count else { throw short() }
        defer { pos += n }
        return bytes[pos..<pos + n]
    }

    mutating func string() throws -> String { String(decoding: try bytesField(), as: UTF8.self) }

    mutating func attributes() throws -> SFTPAttributes {
        let flags = try u32()
        var a = SFTPAttributes()
        if flags & SFTP.attrSize != 0 { a.size = Int(try u64()) }
        if flags & SFTP.attrUIDGID != 0 { _ = try u32(); _ = try u32() }
        if flags & SFTP.attrPermissions != 0 { a.permissions = try u32() }
        if flags & SFTP.attrTimes != 0 { _ = try u32(); a.mtime = Int(try u32()) }
        if flags & SFTP.attrExtended != 0 {
            let n = try u32()
            for _ in 0..<n { _ = try bytesField(); _ = try bytesField() }
        }
        return a
    }
}

/// What the store uses of a file's attributes.
struct SFTPAttributes {
    var size: Int?
    var permissions: UInt32?
    var mtime: Int?
    var isDirectory: Bool { (permissions ?? 0) & 0o170000 == 0o040000 }
    var isRegular: Bool { (permissions ?? 0o100000) & 0o170000 == 0o100000 }
}

/// One reply: its type and its body after the request id.
struct SFTPReply {
    let type: UInt8
    let body: [UInt8]
}
