import QKCore

/// Reads little-endian values from a byte range, checking every read against its end.
///
/// Every failure names the file and the offset, so a truncated or hostile file gives a clear
/// error instead of a crash. Nothing is ever allocated from a length the file claims before
/// that length has been checked against the bytes actually left.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    var remaining: Int { bytes.count - offset }

    func fail(_ what: String) -> QuantKitError {
        QuantKitError(what, path: path)
    }

    func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw fail("truncated: \(what()) at offset \(offset) needs \(n) bytes, only \(remaining) left in the file")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    /// A GGUF string: u64 length + UTF-8 bytes (validated, kept exactly as stored).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let len = try read(UInt64.self, "length of \(what())")
        guard len <= UInt64(remaining) else {
            throw fail("truncated: \(what()) claims a length of \(len) bytes at offset \(offset - 8), only \(remaining) left in the file")
        }
        let n = Int(len)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + n])
        guard let s = String(validating: slice.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw fail("\(what()): invalid UTF-8 in string at offset \(offset)")
        }
        offset += n
        return s
    }

    /// `count` fixed-size little-endian values (integers, or floats by bit pattern) copied in bulk (count already checked against
    /// the bytes left by the caller, checked again here).
    mutating func readArray<T: BitwiseCopyable>(_: T.Type, count: Int, _ what: @autoclosure () -> String) throws -> [T] {
        let (n, o) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !o else { throw fail("truncated: \(what()) at offset \(offset): \(count) elements cannot fit in the file") }
        try need(n, what())
        let src = bytes.baseAddress.map { $0 + offset }
        let out = [T](unsafeUninitializedCapacity: count) { buf, initialized in
            if n > 0, let src { UnsafeMutableRawPointer(buf.baseAddress!).copyMemory(from: src, byteCount: n) }
            initialized = count
        }
        offset += n
        return out
    }
}
