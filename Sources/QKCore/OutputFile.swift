#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written atomically: bytes go to a temporary file in the destination's directory,
/// which is renamed over the destination only by `commit()`.
///
/// If the writer is dropped without `commit()` (an error, a full disk, a cancelled job) the
/// temporary file is removed, so no half-written output is ever left behind.
public final class OutputFile {
    /// The final path.
    public let path: String
    /// The temporary path being written.
    public let tempPath: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0
    /// Bytes written so far (including buffered ones).
    public private(set) var offset: Int = 0
    private var committed = false

    /// Every temporary file still open, so a signal handler can remove them.
    nonisolated(unsafe) private static var live: Set<String> = []
    nonisolated(unsafe) private static let liveLock = PthreadLock()

    public init(path: String, bufferSize: Int = 4 << 20) throws {
        self.path = path
        let dir: String
        let base: String
        if let slash = path.lastIndex(of: "/") {
            dir = String(path[..<slash]).isEmpty ? "/" : String(path[..<slash])
            base = String(path[path.index(after: slash)...])
        } else { dir = "."; base = path }
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw QuantKitError("cannot create output in \(dir): \(String(cString: strerror(errno)))", path: path)
        }
        tempPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        _ = fchmod(fd, 0o644)
        capacity = bufferSize
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 64)
        Self.liveLock.locked { _ = Self.live.insert(tempPath) }
    }

    deinit {
        buffer.deallocate()
        if !committed {
            close(fd)
            unlink(tempPath)
        }
        let t = tempPath
        Self.liveLock.locked { _ = Self.live.remove(t) }
    }

    /// Removes every temporary output file still open (for use on SIGINT/SIGTERM).
    public static func removeAllTemporaries() {
        for p in live { unlink(p) }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        if used + bytes.count <= capacity {
            (buffer + used).copyMemory(from: src, byteCount: bytes.count)
            used += bytes.count
        } else {
            try flush()
            if bytes.count >= capacity { try writeAll(src, bytes.count) } else {
                buffer.copyMemory(from: src, byteCount: bytes.count)
                used = bytes.count
            }
        }
        offset += bytes.count
    }

    /// Appends the bytes of an array.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends `count` zero bytes (alignment padding).
    public func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try write([UInt8](repeating: 0, count: count))
    }

    /// Appends a little-endian fixed-width integer.
    public func write<T: FixedWidthInteger>(le value: T) throws {
        var v = value.littleEndian
        try withUnsafeBytes(of: &v) { try write($0) }
    }

    public func flush() throws {
        if used > 0 { try writeAll(buffer, used); used = 0 }
    }

    private func writeAll(_ p: UnsafeRawPointer, _ n: Int) throws {
        var done = 0
        while done < n {
            let r = sysWrite(fd, p + done, n - done)
            if r < 0 {
                if errno == EINTR { continue }
                let reason = errno == ENOSPC ? "disk full" : errno == EFBIG ? "file too large (size limit reached)" : String(cString: strerror(errno))
                throw QuantKitError("write failed: \(reason)", path: path)
            }
            done += r
        }
    }

    /// Flushes, syncs and renames the temporary file onto `path`.
    public func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw QuantKitError("sync failed: \(String(cString: strerror(errno)))", path: path) }
        close(fd)
        guard rename(tempPath, path) == 0 else {
            let e = String(cString: strerror(errno))
            unlink(tempPath)
            committed = true
            throw QuantKitError("cannot rename temporary file into place: \(e)", path: path)
        }
        committed = true
    }

    /// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
    /// Unlike Foundation's `.atomic` writes on Linux, it leaves no temporary directory behind.
    public static func write<C: Collection>(_ bytes: C, to path: String) throws where C.Element == UInt8 {
        let out = try OutputFile(path: path)
        try out.write(Array(bytes))
        try out.commit()
    }
}

@inline(__always) private func sysWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, p, n)
    #else
    return Darwin.write(fd, p, n)
    #endif
}
