import CKernels
import QKCore
import QuantFormats

/// How one weight type multiplies activations, as ggml's CPU backend does it: activation rows are
/// first converted to the weight type's partner format (`activationType`: Q8_0, Q8_1, Q8_K, F16,
/// BF16 or F32 — ggml's `vec_dot_type`), then each output is a dot product of one weight row with
/// one converted activation row.
///
/// `forWeights` returns the fastest kernel this CPU has for the type (AVX2 C kernels when the CPU
/// has AVX2, FMA and F16C; otherwise the Swift reference); `reference` returns the plain Swift
/// implementation that defines the result (the fast kernels are tested against it). Both use the
/// same activation format, byte for byte, so their activation rows are interchangeable.
///
/// Threading: every method is single-threaded and reentrant; the engine splits `matmul` rows over
/// threads (each thread passes its own row range and shares the converted activations).
public struct DotKernel: Sendable {
    /// Converts one activation row of `n` floats into `activationType` blocks.
    public typealias QuantizeRow = @Sendable (_ x: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ n: Int) -> Void
    /// Dot product of one weight row with one converted activation row, both `n` elements long.
    public typealias DotRow = @Sendable (_ n: Int, _ weights: UnsafeRawPointer, _ activations: UnsafeRawPointer) -> Float
    /// `matmul`'s implementation (see `matmul` for the meaning of the arguments).
    public typealias MatMul = @Sendable (_ n: Int, _ weights: UnsafeRawPointer, _ weightRowBytes: Int, _ rows: Range<Int>,
                                         _ activations: UnsafeRawPointer, _ tokens: Int,
                                         _ out: UnsafeMutablePointer<Float>, _ outStride: Int) -> Void

    /// Which implementation a kernel is.
    public enum Implementation: String, Sendable {
        /// AVX2/FMA/F16C C kernels (CKernels).
        case avx2
        /// The plain Swift reference (also the portable fallback).
        case reference
        /// Dequantize the weight row, dot in F32 with F32 activations (`dequantizing(_:)`).
        case dequantizing
    }

    public let weightType: GGMLType
    public let activationType: GGMLType
    public let quantizeRow: QuantizeRow
    public let dotRow: DotRow
    public let implementation: Implementation
    let matmulImpl: MatMul?

    public init(weightType: GGMLType, activationType: GGMLType, quantizeRow: @escaping QuantizeRow, dotRow: @escaping DotRow) {
        self.init(weightType: weightType, activationType: activationType, implementation: .reference,
                  quantizeRow: quantizeRow, dotRow: dotRow, matmul: nil)
    }

    init(weightType: GGMLType, activationType: GGMLType, implementation: Implementation,
         quantizeRow: @escaping QuantizeRow, dotRow: @escaping DotRow, matmul: MatMul?) {
        self.weightType = weightType
        self.activationType = activationType
        self.implementation = implementation
        self.quantizeRow = quantizeRow
        self.dotRow = dotRow
        self.matmulImpl = matmul
    }

    /// Bytes of one converted activation row of `n` elements.
    public func activationRowBytes(n: Int) -> Int { activationType.rowSize(n) }

    /// True when this CPU runs the AVX2 kernels (AVX2 + FMA + F16C, detected at run time).
    public static let hasAVX2: Bool = qk_cpu_has_avx2() != 0

    /// The kernel for weights of `type`, or nil when the type cannot be multiplied: the AVX2 C
    /// kernel when the CPU has one, else the Swift reference.
    public static func forWeights(_ type: GGMLType) -> DotKernel? {
        if hasAVX2, let k = avx2(type) { return k }
        return reference(type)
    }

    /// The AVX2 C kernel for `type` (nil when the CPU lacks AVX2/FMA/F16C or the type has none).
    public static func avx2(_ type: GGMLType) -> DotKernel? {
        guard hasAVX2, qk_supports_avx2(Int32(type.rawValue)) != 0,
              let act = ReferenceDot.activationType(for: type) else { return nil }
        let t = Int32(type.rawValue), at = Int32(act.rawValue)
        return DotKernel(
            weightType: type, activationType: act, implementation: .avx2,
            quantizeRow: { x, dst, n in _ = qk_quantize_row_avx2(at, x, dst, Int64(n)) },
            dotRow: { n, w, a in qk_dot_avx2(t, Int32(n), w, a) },
            matmul: { n, w, wrb, rows, a, tokens, out, os in
                qk_matmul_avx2(t, Int32(n), w, wrb, Int64(rows.lowerBound), Int64(rows.upperBound),
                               a, act.rowSize(n), Int32(tokens), out, os)
            })
    }

    /// The plain Swift reference kernel: ggml's activation conversion and generic integer dot
    /// products, block by block (`Activations`, `ReferenceDot`).
    public static func reference(_ type: GGMLType) -> DotKernel? {
        guard let act = ReferenceDot.activationType(for: type), let dot = ReferenceDot.dot(type) else { return nil }
        return DotKernel(weightType: type, activationType: act, implementation: .reference,
                         quantizeRow: { x, dst, n in Activations.quantizeRow(act, x, dst, n) },
                         dotRow: dot, matmul: nil)
    }

    /// Dequantizes each weight row (`QuantCodec`) and takes F32 dot products with F32 activations:
    /// no activation rounding at all. For any type QuantKit can dequantize.
    public static func dequantizing(_ type: GGMLType) -> DotKernel? {
        guard type == .f32 || QuantCodec.codec(type) != nil else { return nil }
        return DotKernel(weightType: type, activationType: .f32, implementation: .dequantizing,
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
                         }, matmul: nil)
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
    ///
    /// The AVX2 kernel multiplies one token (generation) with one tight dot product per row, and
    /// several tokens (prompt processing: from 3 for block-32 types, 6 for super-block types) tile
    /// by tile: 8 weight rows are decoded once into an interleaved integer panel and reused by every
    /// token of a block (sized to stay in L2), 4 tokens per pass. Float weights (F32/F16/BF16) use
    /// 4-row × 3-token register tiles for any token count. The result equals `dotRow` up to float
    /// summation order.
    public func matmul(n: Int, weights: UnsafeRawPointer, weightRowBytes: Int, rows: Range<Int>,
                       activations: UnsafeRawPointer, tokens: Int,
                       out: UnsafeMutablePointer<Float>, outStride: Int) {
        guard !rows.isEmpty, tokens > 0 else { return }
        if let m = matmulImpl {
            m(n, weights, weightRowBytes, rows, activations, tokens, out, outStride)
            return
        }
        let aBytes = activationRowBytes(n: n)
        // Swift fallback: one dot product per output.
        for r in rows {
            let w = weights + r * weightRowBytes
            for t in 0 ..< tokens { out[t * outStride + r] = dotRow(n, w, activations + t * aBytes) }
        }
    }

    /// `matmul` with the tiling decision forced (AVX2 kernels only; for tests and benchmarks):
    /// `tiled: true` uses the panel path for any token count, `false` one dot product per row.
    public func matmul(n: Int, weights: UnsafeRawPointer, weightRowBytes: Int, rows: Range<Int>,
                       activations: UnsafeRawPointer, tokens: Int,
                       out: UnsafeMutablePointer<Float>, outStride: Int, tiled: Bool) {
        guard implementation == .avx2 else {
            matmul(n: n, weights: weights, weightRowBytes: weightRowBytes, rows: rows, activations: activations,
                   tokens: tokens, out: out, outStride: outStride)
            return
        }
        qk_matmul_avx2_ex(Int32(weightType.rawValue), Int32(n), weights, weightRowBytes, Int64(rows.lowerBound),
                          Int64(rows.upperBound), activations, activationRowBytes(n: n), Int32(tokens), out, outStride,
                          tiled ? 1 : Int32.max)
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
