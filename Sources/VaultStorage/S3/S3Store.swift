import Foundation
import VaultCore

/// A repository in an S3 bucket under a key prefix (`s3:http://host:port/bucket/prefix`), keys laid
/// out as restic does: `PREFIX/config`, `PREFIX/data/ab/abcd…`, `PREFIX/KIND/NAME`.
///
/// How it keeps the `BlobStore` contract:
/// - **atomic, durable save**: one PUT makes the object visible whole or not at all, and the server
///   answers only once it is stored; the body's SHA-256 is signed, so the server refuses a damaged
///   upload. Objects above `S3Config.multipartThreshold` go as a multipart upload, visible only
///   when it is completed (an interrupted one is aborted, or left to `removeStaleTemporaries`);
/// - **create-if-absent**: `PUT` with `If-None-Match: *` (Ceph RGW, SeaweedFS 3.8x and later, AWS):
///   the server lets exactly one of several concurrent creators win (`412` for the others);
/// - **pending files** are kept in memory and uploaded at `commit`; nothing exists before;
/// - **listing** uses ListObjectsV2 pages of 1,000 keys with continuation tokens;
/// - **ranged reads** of data packs: the second small read of one pack (trees, headers) fetches it
///   whole and keeps it (`S3PackCache`, packs never change); the runs of restore and check
///   (`loadRun`) are read exactly, one request per run, several at once (`concurrentReads`).
public final class S3Store: BlobStore, @unchecked Sendable {
    // @unchecked: every stored property is immutable (the client is thread-safe).
    let client: S3Client
    /// The key prefix with its trailing slash, or "" for the bucket root.
    let keyPrefix: String
    public let location: String
    /// Whole data packs recently read (see `S3PackCache`).
    let packs = S3PackCache(limit: 128 << 20)

    public init(_ config: S3Config) {
        client = S3Client(config)
        keyPrefix = config.location.prefix.isEmpty ? "" : config.location.prefix + "/"
        location = StoreLocation.s3(config.location).description
    }

    var bucket: String { client.config.location.bucket }

    func key(_ h: Handle) -> String {
        switch h.kind {
        case .config: return keyPrefix + "config"
        case .data: return keyPrefix + "data/" + String(h.name.prefix(2)) + "/" + h.name
        default: return keyPrefix + h.kind.rawValue + "/" + h.name
        }
    }

    func fail(_ r: S3Response, _ what: String) -> VaultError { S3Errors.error(r, what, client: client) }

    public func save(_ h: Handle, bytes: UnsafeRawBufferPointer) throws {
        if h.kind == .data { packs.drop(key(h)) }
        if bytes.count > client.config.multipartThreshold { return try S3Multipart(store: self, key: key(h)).upload(bytes) }
        let r = try client.send("PUT", key: key(h), body: Data(bytes))
        guard r.status == 200 else { throw fail(r, "saving \(h)") }
    }

    public func createIfAbsent(_ h: Handle, bytes: UnsafeRawBufferPointer) throws -> Bool {
        let body = Data(bytes)
        // 409 ConditionalRequestConflict: another conditional write to the key is in progress; ask again.
        for attempt in 0..<20 {
            let r = try client.send("PUT", key: key(h), headers: ["if-none-match": "*"], body: body)
            switch r.status {
            case 200: return true
            case 412: return false
            case 409 where attempt < 19: usleep(UInt32(20_000 * (attempt + 1)))
            default: throw fail(r, "creating \(h)")
            }
        }
        throw VaultError(.transient, "creating \(h) at \(location) kept conflicting with other writers")
    }

    public func load(_ h: Handle) throws -> [UInt8] {
        let r = try client.send("GET", key: key(h))
        guard r.status == 200 else { throw fail(r, "reading \(h)") }
        if let len = r.headers["content-length"].flatMap(Int.init), len != r.body.count {
            throw VaultError(.transient, "reading \(h) from \(location) gave \(r.body.count) of \(len) bytes")
        }
        return [UInt8](r.body)
    }

    public func load(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        guard length > 0 else {
            guard try stat(h).size >= offset else { throw short(h, offset: offset, length: length) }
            return []
        }
        if h.kind == .data {
            let k = key(h)
            var whole = packs.get(k)
            if whole == nil && packs.shouldFetchWhole(k) {
                whole = try load(h)
                packs.put(k, whole!)
            }
            if let whole {
                guard offset + length <= whole.count else { throw short(h, offset: offset, length: length) }
                return Array(whole[offset..<(offset + length)])
            }
        }
        return try ranged(h, offset: offset, length: length)
    }

    /// A run of a pack read by `PackRuns` (restore, `check --read-data`): exactly the range, one
    /// request, never through the pack cache (the run is most of what the reader wants of the pack;
    /// fetching the pack whole on top of it would download it twice). A cached pack still serves it.
    public func loadRun(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        guard length > 0 else { return try load(h, offset: offset, length: length) }
        if h.kind == .data, let whole = packs.get(key(h)) {
            guard offset + length <= whole.count else { throw short(h, offset: offset, length: length) }
            return Array(whole[offset..<(offset + length)])
        }
        return try ranged(h, offset: offset, length: length)
    }

    /// Readers keep this many requests in flight (`S3Config.concurrentReads`).
    public var concurrentReads: Int { client.config.concurrentReads }
    public var readRunSize: Int { 16 << 20 }

    private func ranged(_ h: Handle, offset: Int, length: Int) throws -> [UInt8] {
        let r = try client.send("GET", key: key(h), headers: ["range": "bytes=\(offset)-\(offset + length - 1)"])
        switch r.status {
        case 206, 200:
            // 200: the server ignored the range (an object of length bytes or fewer); cut it ourselves.
            let bytes = r.status == 206 ? [UInt8](r.body) : [UInt8](r.body.dropFirst(offset).prefix(length))
            guard bytes.count == length else { throw short(h, offset: offset, length: length) }
            return bytes
        case 416: throw short(h, offset: offset, length: length)
        default: throw fail(r, "reading \(h)")
        }
    }

    private func short(_ h: Handle, offset: Int, length: Int) -> VaultError {
        VaultError(.corrupt, "\(location)/\(h) is shorter than \(offset + length) bytes", context: ["path": "\(h)"])
    }

    public func stat(_ h: Handle) throws -> StoredFile {
        let r = try client.send("HEAD", key: key(h))
        guard r.status == 200 else { throw fail(r, "looking up \(h)") }
        guard let size = r.headers["content-length"].flatMap(Int.init) else {
            throw VaultError(.io, "the S3 server at \(client.origin) gave no size for \(h)")
        }
        return StoredFile(name: h.name, size: size)
    }

    public func list(_ kind: FileKind, _ body: (StoredFile) throws -> Bool) throws {
        if kind == .config {
            if let f = try? stat(Handle(.config, "")) { _ = try body(f) }
            return
        }
        let prefix = keyPrefix + kind.rawValue + "/"
        let depth = kind == .data ? 2 : 1
        var token: String?
        repeat {
            var q = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000")]
            if let token { q.append(("continuation-token", token)) }
            let r = try client.send("GET", key: nil, query: q)
            guard r.status == 200 else { throw fail(r, "listing \(kind)") }
            guard let page = S3XML.listPage(r.body) else {
                throw VaultError(.transient, "the S3 server at \(client.origin) sent a listing of \(kind) that is not XML")
            }
            for o in page.objects where o.key.hasPrefix(prefix) {
                let parts = o.key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == depth, let name = parts.last, !name.isEmpty, !name.hasPrefix(".") else { continue }
                if try !body(StoredFile(name: String(name), size: o.size)) { return }
            }
            token = page.truncated ? page.nextToken : nil
            if page.truncated && token == nil {
                throw VaultError(.io, "the S3 server at \(client.origin) cut a listing of \(kind) without a continuation token")
            }
        } while token != nil
    }

    public func remove(_ h: Handle) throws {
        if h.kind == .data { packs.drop(key(h)) }
        let r = try client.send("DELETE", key: key(h))
        guard r.status == 204 || r.status == 200 || r.status == 404 else { throw fail(r, "removing \(h)") }
        if r.status == 404, S3XML.error(r.body)?.code == "NoSuchBucket" { throw fail(r, "removing \(h)") }
    }

    public func createPending(_ kind: FileKind) throws -> PendingFile { S3PendingFile(store: self) }

    /// Makes the bucket when it is missing (an existing one, even made by another caller, is fine).
    /// There are no folders to make. Throws `.repositoryExists` when a config is there.
    public func createLayout(kinds: [FileKind]) throws {
        let head = try client.send("HEAD", key: nil)
        if head.status == 404 {
            let body = client.config.region == "us-east-1" ? nil : Data(("<CreateBucketConfiguration><LocationConstraint>"
                + S3XML.escape(client.config.region) + "</LocationConstraint></CreateBucketConfiguration>").utf8)
            let r = try client.send("PUT", key: nil, body: body)
            let code = S3XML.error(r.body)?.code
            guard r.status == 200 || code == "BucketAlreadyOwnedByYou" else { throw fail(r, "creating bucket \"\(bucket)\"") }
        } else if head.status != 200 {
            throw fail(head, "opening bucket \"\(bucket)\"")
        }
        if try exists(Handle(.config, "")) {
            throw VaultError(.repositoryExists, "a repository already exists at \(location)")
        }
    }

    /// Throws `.notFound` when the bucket does not exist (the prefix needs nothing: keys make it).
    /// A one-key listing rather than HEAD, so that a refusal comes with its S3 error code.
    public func checkReachable() throws {
        let r = try client.send("GET", key: nil, query: [("list-type", "2"), ("max-keys", "1"), ("prefix", keyPrefix)])
        if r.status == 200 { return }
        if r.status == 404 && (S3XML.error(r.body)?.code ?? "NoSuchBucket") == "NoSuchBucket" {
            throw VaultError(.notFound, "the bucket \"\(bucket)\" does not exist on the S3 server at \(client.origin)",
                             context: ["location": location])
        }
        throw fail(r, "opening bucket \"\(bucket)\"")
    }

    /// Stores and removes a probe object in `locks/`. S3 does not say how much space is left: nil.
    public func checkWritable() throws -> Int? {
        let probe = Handle(.locks, ".probe-" + Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) }))
        do { try save(probe, bytes: [UInt8]()) } catch var e as VaultError {
            e.context["reason"] = e.message
            throw e
        }
        try remove(probe)
        return nil
    }

    /// Aborts multipart uploads under the prefix begun more than `olderThan` seconds before `now`
    /// (interrupted large saves; their parts use space until then). Returns how many went.
    public func removeStaleTemporaries(olderThan: Double, now: Double) throws -> Int {
        try S3Multipart.abortStale(store: self, olderThan: olderThan, now: now)
    }
}
