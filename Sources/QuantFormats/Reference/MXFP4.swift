#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// MXFP4 (OCP microscaling FP4): blocks of 32 weights, one E8M0 power-of-two scale and 32 E2M1
/// (4-bit float) codes; x ≈ 2^(e − 128)·kvalues[q], where kvalues are the E2M1 values doubled
/// (hence the extra halving in the scale).
///
/// Layout per block (17 bytes): e (u8, E8M0) | qs[16]. Byte j holds the code of value j in its
/// low nibble and of value j+16 in its high nibble.
///
/// Quantization (`quantize_row_mxfp4_ref`; importance weights are ignored, as in ggml):
/// e = ⌊log2(max|x|)⌋ − 2 + 127 (0 for an all-zero block), and each value takes the code with
/// the smallest |kvalues[q]·d − x| (first one on ties), d = 2^(e − 128).
enum MXFP4 {
    static let blockSize = 32
    static let blockBytes = 17

    /// `kvalues_mxfp4`: E2M1 values ×2, a format fact.
    static let kvalues: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    /// `GGML_E8M0_TO_FP32_HALF`: 2^(e − 128), exactly (denormal for e < 2).
    @inline(__always) static func e8m0Half(_ e: UInt8) -> Float {
        e < 2 ? Float(bitPattern: UInt32(0x0020_0000) << UInt32(e)) : Float(bitPattern: UInt32(e - 1) << 23)
    }

    @inline(__always) static func bestIndex(_ kv: UnsafePointer<Int8>, _ x: Float, _ e: Float) -> UInt8 {
        var bestIndex = 0
        var bestErr = abs(Float(kv[0]) * e - x)
        for i in 1 ..< 16 {
            let err = abs(Float(kv[i]) * e - x)
            if err < bestErr {
                bestIndex = i
                bestErr = err
            }
        }
        return UInt8(truncatingIfNeeded: bestIndex)
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        kvalues.withUnsafeBufferPointer { kv in
            let kv = kv.baseAddress!
            for i in 0 ..< n / blockSize {
                let xb = x + i * blockSize
                let yb = y + i * blockBytes
                var amax: Float = 0
                for j in 0 ..< blockSize where amax < abs(xb[j]) { amax = abs(xb[j]) }
                // C: (uint8_t)(floorf(log2f(amax)) - 2 + 127), a float→int cast then truncation.
                let e: UInt8 = amax > 0 ? UInt8(truncatingIfNeeded: KQuantHelpers.cvtt(log2f(amax).rounded(.down) - 2 + 127)) : 0
                let d = e8m0Half(e)
                yb[0] = e
                for j in 0 ..< blockSize / 2 {
                    let x0 = bestIndex(kv, xb[j], d)
                    let x1 = bestIndex(kv, xb[blockSize / 2 + j], d)
                    yb[1 + j] = x0 | (x1 << 4)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        kvalues.withUnsafeBufferPointer { kv in
            for i in 0 ..< n / blockSize {
                let yb = y + i * blockBytes
                let d = e8m0Half(yb[0])
                let xb = x + i * blockSize
                for j in 0 ..< blockSize / 2 {
                    xb[j] = Float(kv[Int(yb[1 + j] & 0xf)]) * d
                    xb[j + blockSize / 2] = Float(kv[Int(yb[1 + j] >> 4)]) * d
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, _ in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
