import QKCore

/// Reads little-endian values from a byte range, checking every read against its end.
///
/// Every failure names the file and the offset, so a truncated or hostile file gives a clear
/// error instead of a crash.
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

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw fail("truncated: \(what()) at offset \(offset) needs \(n) bytes, \(remaining) left")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    /// A GGUF string: u64 length + UTF-8 bytes (validated).
    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let len = try read(UInt64.self, what())
        guard len <= UInt64(remaining) else {
            throw fail("\(what()): string length \(len) at offset \(offset - 8) exceeds the \(remaining) bytes left in the file")
        }
        let n = Int(len)
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + n])
        guard let s = String(validating: slice.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw fail("\(what()): invalid UTF-8 in string at offset \(offset)")
        }
        offset += n
        return s
    }
}
