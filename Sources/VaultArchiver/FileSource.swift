#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Reads a regular file from an offset, skipping its holes: `lseek(SEEK_DATA / SEEK_HOLE)` finds
/// where data lies, and a hole is handed out as zeros without being read from disk. Reads to the
/// real end of the file even when it grows meanwhile. Pipes and file systems without hole support
/// are read with plain `read`.
struct FileSource {
    let fd: Int32
    let label: String
    /// Offset of the next byte handed out.
    private(set) var position: UInt64 = 0
    /// Bytes actually read from disk and bytes of holes handed out as zeros.
    private(set) var bytesRead: UInt64 = 0
    private(set) var bytesSkipped: UInt64 = 0
    private var seekable: Bool
    private var regionEnd: UInt64 = 0
    private var regionIsHole = false

    init(fd: Int32, label: String, seekable: Bool) {
        self.fd = fd; self.label = label; self.seekable = seekable
    }

    /// Starts again from the first byte (a second read of a file that changed while read).
    mutating func rewind() {
        position = 0; regionEnd = 0; regionIsHole = false
    }

    /// Fills up to `count` bytes at `into`; returns how many (0 at the end of the file) and whether
    /// they came from a hole (zeros, not read).
    mutating func next(into: UnsafeMutableRawPointer, count: Int) throws -> (Int, hole: Bool) {
        guard seekable else { return (try plainRead(into, count), false) }
        while true {
            if position < regionEnd {
                let n = Int(min(UInt64(count), regionEnd - position))
                if regionIsHole {
                    memset(into, 0, n)
                    position += UInt64(n); bytesSkipped += UInt64(n)
                    return (n, true)
                }
                let got = try positionedRead(into, n)
                if got == 0 { regionEnd = position; return (0, false) }   // shrank while read
                return (got, false)
            }
            guard try findRegion() else { return (0, false) }
        }
    }

    /// Sets the region starting at `position`; false at the end of the file. The size is taken
    /// before the seek: a hole is only ever what the kernel reported as one after that moment, so
    /// data written meanwhile is either found or shows up as a change of mtime/ctime afterwards.
    private mutating func findRegion() throws -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw error("cannot stat") }
        if st.st_size == 0 {
            // Empty, or a file that does not report its size (procfs, sysfs): read what comes.
            regionIsHole = false; regionEnd = UInt64.max
            return true
        }
        let data = lseek(fd, off_t(position), SEEK_DATA)
        if data < 0 {
            if errno == ENXIO {
                // No data at or after `position`: up to the size seen it is a hole; then the end.
                guard UInt64(st.st_size) > position else { return false }
                regionIsHole = true; regionEnd = UInt64(st.st_size)
                return true
            }
            // The file system cannot tell: read everything.
            regionIsHole = false; regionEnd = UInt64.max
            return true
        }
        if UInt64(data) > position {
            regionIsHole = true; regionEnd = UInt64(data)
            return true
        }
        let hole = lseek(fd, off_t(position), SEEK_HOLE)
        regionIsHole = false
        regionEnd = hole > data ? UInt64(hole) : UInt64.max
        return true
    }

    private mutating func positionedRead(_ p: UnsafeMutableRawPointer, _ n: Int) throws -> Int {
        while true {
            let got = pread(fd, p, n, off_t(position))
            if got < 0 { if errno == EINTR { continue }; throw error("cannot read") }
            position += UInt64(got); bytesRead += UInt64(got)
            return got
        }
    }

    private mutating func plainRead(_ p: UnsafeMutableRawPointer, _ n: Int) throws -> Int {
        while true {
            let got = read(fd, p, n)
            if got < 0 { if errno == EINTR { continue }; throw error("cannot read") }
            position += UInt64(got); bytesRead += UInt64(got)
            return got
        }
    }

    private func error(_ what: String) -> SourceError {
        SourceError(underlying: VaultError.posix(what, path: label, errno: errno))
    }
}

// Linux values (glibc defines them only under _GNU_SOURCE, which Swift's Glibc module does not set).
private let SEEK_DATA: Int32 = 3
private let SEEK_HOLE: Int32 = 4
