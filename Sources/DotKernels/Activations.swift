import QKCore

/// Plain Swift conversion of activation rows into the formats ggml's CPU backend multiplies
/// quantized weights with (the weight type's `vec_dot_type`). These are the specification; the
/// AVX2 conversions in CKernels are byte-identical with them (tested), and both are byte-identical
/// with what ggml produces on an x86 machine with AVX2:
///
/// - Q8_0, Q8_1 follow ggml's AVX2 `quantize_row_q8_0/1`, which differ from `quantize_row_q8_0_ref`:
///   the values are round(x · (127 / max|x|)) rounded to nearest *even* (the _ref computes
///   round(x · (1/d)) with d = max|x|/127, halves away from zero). Q8_1's s = d·Σq is rounded to F16.
/// - Q8_K is `quantize_row_q8_K_ref` (ggml uses it on x86): scale −127/x_max, x_max the first value
///   of largest magnitude, values nearest-even, capped at 127; d = 1/scale; bsums per 16 values.
///   An all-zero block stores d = 0 and zero bsums (the reference leaves bsums unwritten).
/// - F16 and BF16 round to nearest even (BF16 keeps NaNs quiet), F32 is a copy.
public enum Activations {
    /// Converts one row of `n` floats into `type` (Q8_0, Q8_1, Q8_K, F16, BF16 or F32).
    /// Returns false for other types.
    @discardableResult
    public static func quantizeRow(_ type: GGMLType, _ x: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ n: Int) -> Bool {
        switch type {
        case .q8_0: q8_0(x, dst, n)
        case .q8_1: q8_1(x, dst, n)
        case .q8_K: q8_K(x, dst, n)
        case .f16: HalfFloat.convertF32ToF16(x, dst.assumingMemoryBound(to: UInt16.self), n)
        case .bf16: HalfFloat.convertF32ToBF16(x, dst.assumingMemoryBound(to: UInt16.self), n)
        case .f32: dst.copyMemory(from: x, byteCount: n * 4)
        default: return false
        }
        return true
    }

    /// Converts a converted activation row back to floats (Q8_0, Q8_1, Q8_K: d·q; F16, BF16, F32).
    public static func dequantizeRow(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        switch type {
        case .q8_0, .q8_1:
            let bsz = type.typeSize, off = bsz - 32
            for b in 0 ..< n / 32 {
                let d = HalfFloat.f32(f16: src.loadUnaligned(fromByteOffset: b * bsz, as: UInt16.self))
                for j in 0 ..< 32 { dst[32 * b + j] = d * Float(src.load(fromByteOffset: b * bsz + off + j, as: Int8.self)) }
            }
        case .q8_K:
            for b in 0 ..< n / 256 {
                let blk = src + b * 292
                let d = blk.loadUnaligned(as: Float.self)
                for j in 0 ..< 256 { dst[256 * b + j] = d * Float(blk.load(fromByteOffset: 4 + j, as: Int8.self)) }
            }
        case .f16: HalfFloat.convertF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
        case .bf16: HalfFloat.convertBF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: n)
        default: preconditionFailure("\(type) is not an activation type")
        }
    }

    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int) {
        for b in 0 ..< n / 32 { q8Block(x + 32 * b, y + 34 * b, withSum: false) }
    }

    static func q8_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int) {
        for b in 0 ..< n / 32 { q8Block(x + 32 * b, y + 36 * b, withSum: true) }
    }

    /// One Q8_0 (34 bytes) or Q8_1 (36 bytes) block, as ggml's AVX2 quantizer computes it.
    @inline(__always)
    static func q8Block(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, withSum: Bool) {
        var amax: Float = 0
        for j in 0 ..< 32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = amax != 0 ? 127 / amax : 0
        let qs = y + (withSum ? 4 : 2)
        var sum = 0
        for j in 0 ..< 32 {
            let q = Int8((x[j] * id).rounded(.toNearestOrEven))
            sum += Int(q)
            qs.storeBytes(of: q, toByteOffset: j, as: Int8.self)
        }
        y.storeBytes(of: HalfFloat.f16Bits(d), as: UInt16.self)
        if withSum { y.storeBytes(of: HalfFloat.f16Bits(d * Float(sum)), toByteOffset: 2, as: UInt16.self) }
    }

    /// `quantize_row_q8_K_ref`: per 256 values d (f32) | qs[256] (i8) | bsums[16] (i16).
    static func q8_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int) {
        for b in 0 ..< n / 256 {
            let xb = x + 256 * b, yb = y + 292 * b
            var amax: Float = 0, xmax: Float = 0
            for j in 0 ..< 256 where abs(xb[j]) > amax {
                amax = abs(xb[j])
                xmax = xb[j]
            }
            if amax == 0 {
                yb.initializeMemory(as: UInt8.self, repeating: 0, count: 292)
                continue
            }
            let iscale = -127 / xmax
            for g in 0 ..< 16 {
                var s = 0
                for j in 16 * g ..< 16 * g + 16 {
                    let v = min(127, Int((iscale * xb[j]).rounded(.toNearestOrEven)))
                    s += v
                    yb.storeBytes(of: Int8(v), toByteOffset: 4 + j, as: Int8.self)
                }
                yb.storeBytes(of: Int16(s), toByteOffset: 260 + 2 * g, as: Int16.self)
            }
            yb.storeBytes(of: 1 / iscale, as: Float.self)
        }
    }
}
