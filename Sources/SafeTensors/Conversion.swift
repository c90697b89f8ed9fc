import Dispatch
import QKCore

/// Conversion of safetensors tensor data to F32, the input format of every quantizer.
///
/// F32 is a copy, F16/BF16 go through QKCore's vectorised `HalfFloat` loops, F64 rounds to
/// nearest even, the 8-bit float formats decode through 256-entry tables, and the integer and
/// bool types convert by value. Source data may sit at any byte offset (safetensors does not
/// promise alignment), so misaligned 16-bit data is staged through a small aligned buffer.
/// Large tensors can be split across threads (`parallel:`).
public enum SafeTensorsConversion {
    /// Elements per parallel work item (1 MiB of F32 output).
    static let chunk = 1 << 18

    /// Converts `source` (raw little-endian elements of `dtype`) into `destination`.
    ///
    /// `destination.count` must equal the number of elements in `source`; on mismatch this
    /// throws (naming `path` and `tensor` when given) and writes nothing.
    /// - Parameter parallel: split large tensors over Dispatch's worker threads. Off by default:
    ///   conversion runs near memory speed on one core, and callers usually parallelise
    ///   across tensors or rows already.
    public static func toF32(_ source: UnsafeRawBufferPointer, dtype: SafeTensorsDType,
                             into destination: UnsafeMutableBufferPointer<Float>,
                             path: String? = nil, tensor: String? = nil, parallel: Bool = false) throws {
        let n = destination.count
        let (need, o) = n.multipliedReportingOverflow(by: dtype.byteSize)
        guard !o, need == source.count else {
            let which = tensor.map { "tensor '\(JSONParser.printable($0))': " } ?? ""
            throw QuantKitError("\(which)cannot convert \(source.count) bytes of \(dtype) into \(n) F32 values", path: path)
        }
        guard n > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let items = (n + chunk - 1) / chunk
        if parallel && items > 1 {
            // Addresses cross into the workers as integers: the buffers outlive the call.
            let s = Int(bitPattern: src), d = Int(bitPattern: dst)
            DispatchQueue.concurrentPerform(iterations: items) { i in
                let start = i * chunk
                let count = min(chunk, n - start)
                convert(UnsafeRawPointer(bitPattern: s)! + start * dtype.byteSize, dtype,
                        UnsafeMutablePointer<Float>(bitPattern: d)! + start, count)
            }
        } else {
            convert(src, dtype, dst, n)
        }
    }

    /// Converts `n` elements serially. No checks: callers guarantee the sizes.
    static func convert(_ src: UnsafeRawPointer, _ dtype: SafeTensorsDType, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        switch dtype {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
        case .f16:
            half(src, dst, n, HalfFloat.convertF16ToF32)
        case .bf16:
            half(src, dst, n, HalfFloat.convertBF16ToF32)
        case .f64:
            for i in 0..<n { dst[i] = Float(src.loadUnaligned(fromByteOffset: i * 8, as: Double.self)) }
        case .f8E4M3:
            table(src, dst, n, Tables.e4m3)
        case .f8E5M2:
            table(src, dst, n, Tables.e5m2)
        case .f8E8M0:
            table(src, dst, n, Tables.e8m0)
        case .bool:
            let p = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { dst[i] = p[i] != 0 ? 1 : 0 }
        case .u8:
            let p = src.assumingMemoryBound(to: UInt8.self)
            for i in 0..<n { dst[i] = Float(p[i]) }
        case .i8:
            let p = src.assumingMemoryBound(to: Int8.self)
            for i in 0..<n { dst[i] = Float(p[i]) }
        case .i16: ints(src, dst, n, Int16.self)
        case .u16: ints(src, dst, n, UInt16.self)
        case .i32: ints(src, dst, n, Int32.self)
        case .u32: ints(src, dst, n, UInt32.self)
        case .i64: ints(src, dst, n, Int64.self)
        case .u64: ints(src, dst, n, UInt64.self)
        }
    }

    /// 16-bit floats: direct when 2-byte aligned, else through an aligned staging buffer.
    @inline(__always)
    private static func half(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
                             _ body: (UnsafePointer<UInt16>, UnsafeMutablePointer<Float>, Int) -> Void) {
        if Int(bitPattern: src) & 1 == 0 {
            body(src.assumingMemoryBound(to: UInt16.self), dst, n)
            return
        }
        let stage = 4096
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: stage) { tmp in
            var done = 0
            while done < n {
                let k = min(stage, n - done)
                UnsafeMutableRawPointer(tmp.baseAddress!).copyMemory(from: src + done * 2, byteCount: k * 2)
                body(tmp.baseAddress!, dst + done, k)
                done += k
            }
        }
    }

    @inline(__always)
    private static func table(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _ t: [Float]) {
        let p = src.assumingMemoryBound(to: UInt8.self)
        t.withUnsafeBufferPointer { lut in
            let l = lut.baseAddress!
            for i in 0..<n { dst[i] = l[Int(p[i])] }
        }
    }

    @inline(__always)
    private static func ints<T: BinaryInteger & FixedWidthInteger>(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int, _: T.Type) {
        let size = MemoryLayout<T>.size
        for i in 0..<n { dst[i] = Float(T(littleEndian: src.loadUnaligned(fromByteOffset: i * size, as: T.self))) }
    }

    /// Decodes one F8_E4M3 (OCP "E4M3FN": bias 7, no infinities, S.1111.111 is NaN) byte.
    public static func f32(e4m3 b: UInt8) -> Float { Tables.e4m3[Int(b)] }
    /// Decodes one F8_E5M2 (bias 15, IEEE-like with infinities and NaNs) byte.
    public static func f32(e5m2 b: UInt8) -> Float { Tables.e5m2[Int(b)] }
    /// Decodes one F8_E8M0 (exponent only, 2^(b−127); 0xFF is NaN) byte.
    public static func f32(e8m0 b: UInt8) -> Float { Tables.e8m0[Int(b)] }

    enum Tables {
        static let e4m3: [Float] = (0..<256).map { i in
            let b = UInt8(i)
            let sign: Float = b & 0x80 != 0 ? -1 : 1
            let e = Int((b >> 3) & 0xF), m = Float(b & 7)
            if e == 15 && b & 7 == 7 { return .nan }
            if e == 0 { return sign * m / 8 * Float(sign: .plus, exponent: -6, significand: 1) }
            return sign * (1 + m / 8) * Float(sign: .plus, exponent: e - 7, significand: 1)
        }
        // E5M2 is the top byte of an IEEE half.
        static let e5m2: [Float] = (0..<256).map { HalfFloat.f32(f16: UInt16($0) << 8) }
        static let e8m0: [Float] = (0..<256).map { $0 == 255 ? .nan : Float(sign: .plus, exponent: $0 - 127, significand: 1) }
    }
}
