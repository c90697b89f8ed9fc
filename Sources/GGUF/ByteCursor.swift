import QKCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads little-endian values from a byte range, checking every read against its end.
///
/// Every failure names the file and the offset, so a truncated or hostile file gives a clear
/// error instead of a crash. Nothing is ever allocated from a length the file claims before
/// that length has been checked against the bytes actually left.
///
/// The hot paths (one call per vocabulary token) avoid generic code, so that parsing stays
/// quick even in unoptimised debug builds.
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

    /// Copies `n` bytes at the cursor into `dst` and advances (bounds checked by the caller).
    private mutating func take(_ dst: UnsafeMutableRawPointer, _ n: Int) {
        memcpy(dst, bytes.baseAddress! + offset, n)
        offset += n
    }

    mutating func u8(_ what: @autoclosure () -> String) throws -> UInt8 {
        try need(1, what())
        let v = bytes[offset]
        offset += 1
        return v
    }

    mutating func u16(_ what: @autoclosure () -> String) throws -> UInt16 {
        try need(2, what())
        var v: UInt16 = 0
        take(&v, 2)
        return UInt16(littleEndian: v)
    }

    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 {
        try need(4, what())
        var v: UInt32 = 0
        take(&v, 4)
        return UInt32(littleEndian: v)
    }

    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 {
        try need(8, what())
        var v: UInt64 = 0
        take(&v, 8)
        return UInt64(littleEndian: v)
    }

    /// A GGUF string: u64 length + UTF-8 bytes (validated, kept exactly as stored).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let len = try u64("length of \(what())")
        guard len <= UInt64(remaining) else {
            throw fail("truncated: \(what()) claims a length of \(len) bytes at offset \(offset - 8), only \(remaining) left in the file")
        }
        let n = Int(len)
        guard n > 0 else { return "" }
        let src = bytes.baseAddress! + offset
        guard isValidUTF8(src.assumingMemoryBound(to: UInt8.self), n) else {
            throw fail("\(what()): invalid UTF-8 in string at offset \(offset)")
        }
        offset += n
        return String(unsafeUninitializedCapacity: n) { buf in
            memcpy(buf.baseAddress!, src, n)
            return n
        }
    }

    /// `count` fixed-size little-endian values (integers, or floats by bit pattern) copied in
    /// bulk; the count is checked against the bytes left before anything is allocated.
    mutating func readArray<T: BitwiseCopyable>(_: T.Type, count: Int, _ what: @autoclosure () -> String) throws -> [T] {
        let (n, o) = count.multipliedReportingOverflow(by: MemoryLayout<T>.stride)
        guard !o else { throw fail("truncated: \(what()) at offset \(offset): \(count) elements cannot fit in the file") }
        try need(n, what())
        let src = bytes.baseAddress.map { $0 + offset }
        let out = [T](unsafeUninitializedCapacity: count) { buf, initialized in
            if n > 0, let src { memcpy(buf.baseAddress!, src, n) }
            initialized = count
        }
        offset += n
        return out
    }
}

/// Whether `n` bytes at `p` are well-formed UTF-8 (Unicode's Table 3-7: no overlong forms,
/// no surrogates, nothing above U+10FFFF), exactly what `String(validating:)` accepts.
func isValidUTF8(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        let b = p[i]
        if b < 0x80 { i += 1; continue }
        let len: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF // range of the second byte
        switch b {
        case 0xC2 ... 0xDF: len = 2
        case 0xE0: len = 3; lo = 0xA0
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: len = 3
        case 0xED: len = 3; hi = 0x9F
        case 0xF0: len = 4; lo = 0x90
        case 0xF1 ... 0xF3: len = 4
        case 0xF4: len = 4; hi = 0x8F
        default: return false
        }
        guard n - i >= len, p[i + 1] >= lo, p[i + 1] <= hi else { return false }
        var k = 2
        while k < len {
            guard p[i + k] & 0xC0 == 0x80 else { return false }
            k += 1
        }
        i += len
    }
    return true
}
