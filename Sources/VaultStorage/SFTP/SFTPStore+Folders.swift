import VaultCore

/// Listing, layout and the destination checks of `SFTPStore`.
extension SFTPStore {
    /// The folders holding files of `kind` (the 256 `data/xx` folders for data).
    func folders(_ kind: FileKind) -> [String] {
        let base = root + "/" + kind.rawValue
        return kind == .data ? (0..<256).map { base + "/" + Hex.encode([UInt8($0)]) } : [base]
    }

    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        if kind == .config {
            if let f = try? stat(Handle(.config, "")) { _ = try body(f) }
            return
        }
        try readFolders(folders(kind)) { _, name, a in
            guard !name.hasPrefix("."), a.isRegular else { return true }
            return try body(StoredFile(name: name, size: a.size ?? 0))
        }
    }

    /// Calls `body` with every entry of `folders` (missing folders are skipped) until it returns false.
    /// Up to 16 folders are read at once, their OPENDIR and READDIR requests in flight together.
    func readFolders(_ folders: [String], _ body: (_ folder: String, _ name: String, SFTPAttributes) throws -> Bool) throws {
        let ch = try channel()
        for batch in stride(from: 0, to: folders.count, by: 16).map({ Array(folders[$0..<min($0 + 16, folders.count)]) }) {
            var open: [(path: String, handle: [UInt8])] = []
            defer { for o in open { try? ch.close(o.handle, path: o.path, wait: false) } }
            let ids = try batch.map { p -> UInt32 in var w = SFTPWriter(); w.string(p); return try ch.send(SFTP.opendir, w.bytes) }
            var failure: Error?
            for (p, id) in zip(batch, ids) {
                let reply = try ch.wait(id)
                if reply.type == SFTP.handle {
                    var r = SFTPReader(reply.body); open.append((p, Array(try r.bytesField())))
                } else {
                    let e = ch.unexpected(reply, "list", p)
                    if e.code != .notFound, failure == nil { failure = e }
                }
            }
            if let failure { throw failure }
            while !open.isEmpty {
                let reads = try open.map { o -> UInt32 in var w = SFTPWriter(); w.string(o.handle); return try ch.send(SFTP.readdir, w.bytes) }
                var still: [(path: String, handle: [UInt8])] = []
                for (i, o) in open.enumerated() {
                    let reply = try ch.wait(reads[i])
                    if reply.type == SFTP.name {
                        still.append(o)
                        var r = SFTPReader(reply.body)
                        for _ in 0..<(try r.u32()) {
                            let name = try r.string(); _ = try r.bytesField()
                            let a = try r.attributes()
                            if try !body(o.path, name, a) {
                                for id in reads[(i + 1)...] { ch.ignore(id) }
                                open = still + open[(i + 1)...]
                                return
                            }
                        }
                    } else {
                        var r = SFTPReader(reply.body)
                        let code = reply.type == SFTP.status ? try r.u32() : SFTP.failure
                        if code != SFTP.eof { throw ch.unexpected(reply, "list", o.path) }
                        try? ch.close(o.handle, path: o.path, wait: false)
                    }
                }
                open = still
            }
        }
    }

    /// Creates the repository folder (and its parents), the folder of each kind and `data/00`…`data/ff`.
    public func createLayout(kinds: [FileKind]) throws {
        let ch = try channel()
        if (try? ch.stat(root)) != nil {
            if (try? ch.stat(root + "/config")) != nil {
                throw VaultError(.repositoryExists, "a repository already exists at \(location)", context: ["location": location])
            }
        } else {
            try makeFolders(ch, root)
        }
        var dirs = kinds.filter { $0 != .config }.map { root + "/" + $0.rawValue }
        if kinds.contains(.data) { dirs += folders(.data) }
        for batch in stride(from: 0, to: dirs.count, by: 64).map({ Array(dirs[$0..<min($0 + 64, dirs.count)]) }) {
            let ids = try batch.map { d -> UInt32 in
                var w = SFTPWriter(); w.string(d); w.permissions(0o700); return try ch.send(SFTP.mkdir, w.bytes)
            }
            for (d, id) in zip(batch, ids) {
                if (try? ch.expectOK(try ch.wait(id), "create folder", d)) == nil { try ch.mkdir(d) }
            }
        }
    }

    /// mkdir -p.
    private func makeFolders(_ ch: SFTPChannel, _ path: String) throws {
        do { try ch.mkdir(path) } catch let e as VaultError where e.code == .notFound {
            guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { throw e }
            try makeFolders(ch, String(path[..<slash]))
            try ch.mkdir(path)
        }
    }

    public func checkReachable() throws {
        let ch = try channel()
        do {
            let a = try ch.stat(root)
            guard a.isDirectory else {
                throw VaultError(.io, "\(root) on \(server) is not a folder", context: ["location": location])
            }
        } catch let e as VaultError where e.code == .notFound {
            throw VaultError(.notFound, "the repository folder \(root) does not exist on \(server): check the path "
                             + "in the location (\(location)), or create the repository with init",
                             context: ["location": location], cause: e)
        }
    }

    /// Creates and removes a probe file in `locks/`, then asks the server for its free space.
    public func checkWritable() throws -> Int? {
        let ch = try channel()
        // `.probe-`, not `.tmp-`: a prune never mistakes it for a leftover save.
        let probe = root + "/locks/.probe-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
        do {
            let h = try ch.open(probe, flags: SFTP.fWrite | SFTP.fCreate | SFTP.fExclusive, op: "create a file in")
            try ch.close(h, path: probe, wait: true)
            try ch.remove(probe)
        } catch var e as VaultError {
            if e.code == .notFound { e.code = .io }
            throw e
        }
        let free = try? ch.freeSpace(root)
        if let free, free == 0 {
            throw VaultError(.noSpace, "the SFTP server \(server) has no free space for \(root): free space there and "
                             + "run again", context: ["location": location])
        }
        return free
    }

    /// Removes `.tmp-` files older than `olderThan` seconds (by their modification time on the server).
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        var folderList = [FileKind.snapshots, .index, .keys, .data].map { root + "/" + $0.rawValue }
        folderList += folders(.data)
        var stale: [String] = []
        try readFolders(folderList) { folder, name, a in
            if name.hasPrefix(".tmp-"), let m = a.mtime, now - Double(m) > olderThan { stale.append(folder + "/" + name) }
            return true
        }
        let ch = try channel()
        for p in stale { try ch.remove(p) }
        return stale.count
    }
}
