/// Keeps the first `limit` bytes appended (standard output of a captured run).
struct HeadBuffer {
    let limit: Int
    private(set) var bytes: [UInt8] = []
    private(set) var truncated = false

    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        let room = limit - bytes.count
        if chunk.count <= room {
            bytes.append(contentsOf: chunk)
        } else {
            if room > 0 { bytes.append(contentsOf: chunk.prefix(room)) }
            if chunk.count > 0 { truncated = true }
        }
    }
}

/// Keeps the last `limit` bytes appended (standard error: the end says what went wrong).
struct TailBuffer {
    let limit: Int
    private var storage: [UInt8] = []
    private var dropped = false

    init(limit: Int) { self.limit = max(0, limit) }

    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if chunk.count >= limit {
            if chunk.count > limit || !storage.isEmpty { dropped = true }
            storage = Array(chunk.suffix(limit))
            return
        }
        storage.append(contentsOf: chunk)
        // Trim in batches so appending stays linear.
        if storage.count > 2 * limit {
            storage.removeFirst(storage.count - limit)
            dropped = true
        }
    }

    var bytes: [UInt8] { storage.count > limit ? Array(storage.suffix(limit)) : storage }
    var truncated: Bool { dropped || storage.count > limit }
}
