import Foundation
import VaultCore

/// A multipart upload of one large object: parts of `S3Config.partSize` sent several at once, then
/// completed in one request, which makes the object visible whole. A failure aborts the upload.
struct S3Multipart {
    let store: S3Store
    let key: String
    /// Parts in flight at once for one object.
    static let parallelParts = 4

    func upload(_ bytes: UnsafeRawBufferPointer) throws {
        let client = store.client
        let start = try client.send("POST", key: key, query: [("uploads", "")])
        guard start.status == 200 else { throw store.fail(start, "starting a multipart upload of \(key)") }
        guard let id = S3XML.value(start.body, at: ["InitiateMultipartUploadResult", "UploadId"]), !id.isEmpty else {
            throw VaultError(.transient, "the S3 server at \(client.origin) started a multipart upload of \(key) without an id")
        }
        do {
            let etags = try uploadParts(bytes, id: id)
            var xml = "<CompleteMultipartUpload>"
            for (i, etag) in etags.enumerated() {
                xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(S3XML.escape(etag))</ETag></Part>"
            }
            xml += "</CompleteMultipartUpload>"
            let done = try client.send("POST", key: key, query: [("uploadId", id)], headers: ["content-type": "application/xml"],
                                       body: Data(xml.utf8))
            // A completion can fail with status 200 and an <Error> body.
            guard done.status == 200, S3XML.error(done.body) == nil else { throw store.fail(done, "completing the upload of \(key)") }
        } catch {
            _ = try? client.send("DELETE", key: key, query: [("uploadId", id)])
            throw error
        }
    }

    private func uploadParts(_ bytes: UnsafeRawBufferPointer, id: String) throws -> [String] {
        let client = store.client
        let size = client.config.partSize
        let count = (bytes.count + size - 1) / size
        let results = PartResults(count)
        let shared = SharedBytes(bytes: bytes)
        DispatchQueue.concurrentPerform(iterations: min(Self.parallelParts, count)) { worker in
            let bytes = shared.bytes
            for part in stride(from: worker, to: count, by: Self.parallelParts) where !results.failed {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[(part * size)..<min(bytes.count, (part + 1) * size)])
                do {
                    let r = try client.send("PUT", key: key, query: [("partNumber", String(part + 1)), ("uploadId", id)],
                                            body: Data(slice))
                    guard r.status == 200, let etag = r.headers["etag"] else { throw store.fail(r, "uploading part \(part + 1) of \(key)") }
                    results.set(part, etag)
                } catch { results.fail(error) }
            }
        }
        return try results.all()
    }

    /// Aborts the multipart uploads under the store's prefix begun more than `olderThan` seconds before `now`.
    static func abortStale(store: S3Store, olderThan: Double, now: Double) throws -> Int {
        let client = store.client
        var aborted = 0
        var markers: (String, String)?
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        repeat {
            var q = [("uploads", ""), ("prefix", store.keyPrefix)]
            if let (k, u) = markers { q += [("key-marker", k), ("upload-id-marker", u)] }
            let r = try client.send("GET", key: nil, query: q)
            guard r.status == 200 else { throw store.fail(r, "listing unfinished uploads") }
            let page = S3XML.uploads(r.body)
            for u in page.uploads where u.key.hasPrefix(store.keyPrefix) {
                guard let started = iso.date(from: u.initiated) ?? plain.date(from: u.initiated),
                      now - started.timeIntervalSince1970 > olderThan else { continue }
                let d = try client.send("DELETE", key: u.key, query: [("uploadId", u.id)])
                if d.status == 204 || d.status == 200 { aborted += 1 }
                else if d.status != 404 { throw store.fail(d, "aborting an unfinished upload of \(u.key)") }
            }
            markers = page.truncated ? page.nextKey.flatMap { k in page.nextID.map { (k, $0) } } : nil
        } while markers != nil
        return aborted
    }
}

/// The ETags of the parts uploaded so far, or the first failure.
private final class PartResults: @unchecked Sendable {
    // @unchecked: every field is only touched under `lock`.
    private let lock = Mutex()
    private var etags: [String?]
    private var error: Error?
    init(_ count: Int) { etags = Array(repeating: nil, count: count) }
    var failed: Bool { lock.withLock { error != nil } }
    func set(_ i: Int, _ etag: String) { lock.withLock { etags[i] = etag } }
    func fail(_ e: Error) { lock.withLock { if error == nil { error = e } } }
    func all() throws -> [String] {
        try lock.withLock {
            if let error { throw error }
            return etags.map { $0 ?? "" }
        }
    }
}

/// The caller's bytes, read (never written) by the part uploaders while `concurrentPerform` runs:
/// the buffer outlives them.
private struct SharedBytes: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
}
