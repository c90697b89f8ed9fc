import QKCore

/// Q8_0: blocks of 32 weights, one F16 scale `d` and 32 signed bytes; x ≈ d·q.
///
/// Layout per block (34 bytes): d (f16) | qs[32] (i8).
/// Quantization: d = max|x| / 127, q = round(x / d) (round half away from zero).
/// Importance weights are ignored, as in ggml.
enum Q8_0 {
    static let blockSize = 32
    static let blockBytes = 34

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let xb = x + i * blockSize
            let yb = y + i * blockBytes
            var amax: Float = 0
            for j in 0 ..< blockSize { amax = max(amax, abs(xb[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            yb.storeBytes(of: HalfFloat.f16Bits(d), as: UInt16.self)
            for j in 0 ..< blockSize {
                yb.storeBytes(of: Int8((xb[j] * id).rounded()), toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let yb = y + i * blockBytes
            let d = HalfFloat.f32(f16: yb.loadUnaligned(as: UInt16.self))
            for j in 0 ..< blockSize {
                x[i * blockSize + j] = Float(yb.load(fromByteOffset: 2 + j, as: Int8.self)) * d
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, _ in quantizeRow(src, dst, n) },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) })
}
