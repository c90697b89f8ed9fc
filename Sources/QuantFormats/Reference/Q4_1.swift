/// Q4_1: blocks of 32 weights, an F16 scale `d`, an F16 minimum `m` and 32 unsigned nibbles;
/// x ≈ d·q + m.
///
/// Layout per block (20 bytes): d (f16) | m (f16) | qs[16]. Byte j holds value j in its low
/// nibble and value j+16 in its high nibble.
///
/// Quantization without importance weights (`quantize_row_q4_1_ref`): m = min x,
/// d = (max − min)/15, q = min(15, trunc((x − m)/d + 0.5)).
/// With importance weights (`quantize_row_q4_1_impl`): per row σ² = mean(x²); per block
/// weights wᵢ = impᵢ·√(σ² + xᵢ²) and `make_qkx3_quants(32, 15, −0.9, 0.05, 36)` fits d and m.
enum Q4_1 {
    static let blockSize = 32
    static let blockBytes = 20

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let xb = x + i * blockSize
            let yb = y + i * blockBytes
            var min = Float.greatestFiniteMagnitude
            var max = -Float.greatestFiniteMagnitude
            for j in 0 ..< blockSize {
                let v = xb[j]
                if v < min { min = v }
                if v > max { max = v }
            }
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            KQuantHelpers.storeF16(d, yb)
            KQuantHelpers.storeF16(min, yb + 2)
            for j in 0 ..< blockSize / 2 {
                let x0 = (xb[j] - min) * id
                let x1 = (xb[blockSize / 2 + j] - min) * id
                let xi0 = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(15, Int(Int8(truncatingIfNeeded: KQuantHelpers.cvtt(x0 + 0.5)))))
                let xi1 = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(15, Int(Int8(truncatingIfNeeded: KQuantHelpers.cvtt(x1 + 0.5)))))
                yb[4 + j] = xi0 | (xi1 << 4)
            }
        }
    }

    static func quantizeRowWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int,
                                    _ qw: UnsafePointer<Float>) {
        var sumX2: Float = 0
        for j in 0 ..< n { sumX2 += x[j] * x[j] }
        let sigma2 = sumX2 / Float(n)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blockSize) { weight in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * blockSize) { bytes in
                let weight = weight.baseAddress!, L = bytes.baseAddress!, laux = L + blockSize
                for ib in 0 ..< n / blockSize {
                    let xb = x + blockSize * ib
                    let w = qw + blockSize * ib
                    let yb = y + ib * blockBytes
                    for j in 0 ..< blockSize { weight[j] = w[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    var min: Float = 0
                    let d = KQuantFast.makeQkx3Quants(blockSize, 15, xb, weight, L, &min, laux, -0.9, 0.05, 36)
                    KQuantHelpers.storeF16(d, yb)
                    KQuantHelpers.storeF16(-min, yb + 2)
                    for j in 0 ..< 16 { yb[4 + j] = L[j] | (L[j + 16] << 4) }
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb)
            let m = KQuantHelpers.loadF16(yb + 2)
            let xb = x + i * blockSize
            for j in 0 ..< blockSize / 2 {
                xb[j] = Float(yb[4 + j] & 0x0f) * d + m
                xb[j + blockSize / 2] = Float(yb[4 + j] >> 4) * d + m
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            let y = dst.assumingMemoryBound(to: UInt8.self)
            if let w { quantizeRowWeighted(src, y, n, w) } else { LegacyFast.q4_1(src, y, n) }
        },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
