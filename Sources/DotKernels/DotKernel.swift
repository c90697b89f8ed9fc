import QKCore
import QuantFormats

/// How one weight type multiplies activations, as ggml's CPU backend does it: activation rows are
/// first converted to the weight type's partner format (`activationType`: Q8_0, Q8_1, Q8_K, F16 or
/// F32), then each output is a dot product of one weight row with one activation row.
///
/// `forWeights` returns the fastest kernel this CPU has for the type; `reference` returns the plain
/// Swift implementation that defines the result (fast kernels are tested against it).
public struct DotKernel: Sendable {
    /// Converts one activation row of `n` floats into `activationType` blocks.
    public typealias QuantizeRow = @Sendable (_ x: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ n: Int) -> Void
    /// Dot product of one weight row with one converted activation row, both `n` elements long.
    public typealias DotRow = @Sendable (_ n: Int, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Float

    public let weightType: GGMLType
    public let activationType: GGMLType
    public let quantizeRow: QuantizeRow
    public let dotRow: DotRow

    public init(weightType: GGMLType, activationType: GGMLType, quantizeRow: @escaping QuantizeRow, dotRow: @escaping DotRow) {
        self.weightType = weightType
        self.activationType = activationType
        self.quantizeRow = quantizeRow
        self.dotRow = dotRow
    }

    /// Bytes of one converted activation row of `n` elements.
    public func activationRowBytes(n: Int) -> Int { activationType.rowSize(n) }

    /// The kernel for weights of `type`, or nil when the type cannot be multiplied.
    public static func forWeights(_ type: GGMLType) -> DotKernel? { reference(type) }

    /// The plain reference kernel: dequantize the weight row, dot in F32 with F32 activations.
    public static func reference(_ type: GGMLType) -> DotKernel? {
        guard type == .f32 || QuantCodec.codec(type) != nil else { return nil }
        return DotKernel(weightType: type, activationType: .f32,
                         quantizeRow: { x, dst, n in dst.copyMemory(from: x, byteCount: n * 4) },
                         dotRow: { n, w, a in
                             let af = a.assumingMemoryBound(to: Float.self)
                             if type == .f32 {
                                 return dotF32(w.assumingMemoryBound(to: Float.self), af, n)
                             }
                             return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { tmp in
                                 QuantCodec.codec(type)!.dequantize(w, tmp.baseAddress!, n)
                                 return dotF32(tmp.baseAddress!, af, n)
                             }
                         })
    }

    /// Converts `tokens` activation rows (row stride `xStride` floats) into `dst`, one converted row
    /// every `activationRowBytes(n:)` bytes.
    public func quantizeActivations(_ x: UnsafePointer<Float>, xStride: Int, tokens: Int, n: Int,
                                    into dst: UnsafeMutableRawPointer) {
        let rowBytes = activationRowBytes(n: n)
        for t in 0 ..< tokens { quantizeRow(x + t * xStride, dst + t * rowBytes, n) }
    }

    /// out[t * outStride + r] = dot(weight row r, activation row t) for r in `rows`, t in 0..<tokens.
    /// Weight row r starts at `weights + r * weightRowBytes`; activation row t at
    /// `activations + t * activationRowBytes(n:)`. Single-threaded: callers split `rows` over threads.
    public func matmul(n: Int, weights: UnsafeRawPointer, weightRowBytes: Int, rows: Range<Int>,
                       activations: UnsafeRawPointer, tokens: Int,
                       out: UnsafeMutablePointer<Float>, outStride: Int) {
        let aBytes = activationRowBytes(n: n)
        for r in rows {
            let w = weights + r * weightRowBytes
            for t in 0 ..< tokens { out[t * outStride + r] = dotRow(n, w, activations + t * aBytes) }
        }
    }
}

/// F32 dot product with eight independent accumulators (vectorizes).
@inlinable
public func dotF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>.zero
    var i = 0
    while i + 8 <= n {
        let va = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
        let vb = UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        acc = acc.addingProduct(va, vb)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}
