#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file mapped read-only into memory: zero-copy, bounds-checked access to its bytes.
///
/// Large models are never read into RAM; pages come in as tensors are touched and the
/// kernel drops them under pressure.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with (used in error messages).
    public let path: String
    /// Size of the file in bytes.
    public let count: Int
    /// Start of the mapping (nil for an empty file).
    public let base: UnsafeRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw QuantKitError("cannot open: \(String(cString: strerror(errno)))", path: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw QuantKitError("cannot stat: \(String(cString: strerror(errno)))", path: path) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw QuantKitError("not a regular file", path: path) }
        count = Int(st.st_size)
        if count == 0 { base = nil; return }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw QuantKitError("cannot map: \(String(cString: strerror(errno)))", path: path) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The bytes `offset ..< offset + length`, or an error naming the file when they lie
    /// (even partly) outside it.
    public func bytes(at offset: Int, count length: Int) throws -> UnsafeRawBufferPointer {
        guard offset >= 0, length >= 0, offset <= count, length <= count - offset else {
            throw QuantKitError("range \(offset)..<\(offset &+ length) lies outside the file (\(count) bytes)", path: path)
        }
        guard let base else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + offset, count: length)
    }

    /// Advises the kernel that a range will be read sequentially soon (prefetch).
    public func adviseSequential(offset: Int, count length: Int) {
        guard let base, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset / page * page
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), min(count - start, length + offset - start), MADV_WILLNEED)
    }

    /// Drops the resident pages wholly inside `range`, which must lie in this mapping: they
    /// are read from the file again if touched later.
    public func dropPages(in range: UnsafeRawBufferPointer) {
        guard let base, let p = range.baseAddress, p >= base, p + range.count <= base + count else { return }
        dropPages(offset: p - base, count: range.count)
    }

    /// Tells the kernel a range is no longer needed, so resident memory stays bounded
    /// while streaming through a file larger than RAM.
    public func dropPages(offset: Int, count length: Int) {
        guard let base, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page
        let end = (offset + length) / page * page
        if end > start { _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED) }
    }
}
