import CZstd
import VaultCore

/// zstd compression with reusable contexts (one per concurrent caller, pooled).
public final class Compressor: @unchecked Sendable {
    // @unchecked: the context pools are guarded by `mutex`; a context is used by one caller at a time.
    private let mutex = Mutex()
    private var cctxs: [OpaquePointer] = []
    private var dctxs: [OpaquePointer] = []
    public let level: Int32

    public init(level: Int32 = 3) { self.level = level }

    deinit {
        for c in cctxs { ZSTD_freeCCtx(c) }
        for d in dctxs { ZSTD_freeDCtx(d) }
    }

    /// Compresses `input`; returns nil when the result would not be smaller (store it raw then).
    /// Large inputs are probed first: when 64 KiB from their middle do not shrink, the whole is
    /// taken as incompressible (random, already compressed or encrypted data) and not compressed.
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        if input.count >= 512 << 10 {
            let mid = input.count / 2
            let probe = UnsafeRawBufferPointer(rebasing: input[mid..<mid + (64 << 10)])
            if compressWhole(probe) == nil { return nil }
        }
        return compressWhole(input)
    }

    func compressWhole(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        let ctx: OpaquePointer = mutex.withLock { cctxs.popLast() } ?? {
            let c = ZSTD_createCCtx()!
            ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
            return c
        }()
        defer { mutex.withLock { cctxs.append(ctx) } }
        let bound = input.count - input.count / 32   // must save at least ~3% to be worth it
        guard bound > 16 else { return nil }
        var ok = false
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buf, count in
            let n = ZSTD_compress2(ctx, buf.baseAddress, bound, input.baseAddress, input.count)
            if ZSTD_isError(n) != 0 { count = 0; return }
            ok = true
            count = n
        }
        return ok ? out : nil
    }

    /// Decompresses a zstd frame whose original size is `rawLength`.
    public func decompress(_ input: UnsafeRawBufferPointer, rawLength: Int, what: String) throws -> [UInt8] {
        let ctx: OpaquePointer = mutex.withLock { dctxs.popLast() } ?? ZSTD_createDCtx()!
        defer { mutex.withLock { dctxs.append(ctx) } }
        var err: String?
        let out = [UInt8](unsafeUninitializedCapacity: rawLength) { buf, count in
            let n = ZSTD_decompressDCtx(ctx, buf.baseAddress, rawLength, input.baseAddress, input.count)
            if ZSTD_isError(n) != 0 { err = String(cString: ZSTD_getErrorName(n)); count = 0; return }
            count = n
            if n != rawLength { err = "size \(n) instead of \(rawLength)" }
        }
        if let err { throw VaultError(.corrupt, "\(what) does not decompress: \(err)") }
        return out
    }
}
