/// Q4_0: blocks of 32 weights, one F16 scale `d` and 32 unsigned nibbles; x ≈ d·(q − 8).
///
/// Layout per block (18 bytes): d (f16) | qs[16]. Byte j holds value j in its low nibble and
/// value j+16 in its high nibble.
///
/// Quantization without importance weights (`quantize_row_q4_0_ref`): the value of largest
/// magnitude `max` maps to −8, d = max / −8, q = min(15, trunc(x/d + 8.5)).
/// With importance weights (`quantize_row_q4_0_impl`): per row σ² = mean(x²); per block
/// weights wᵢ = impᵢ·√(σ² + xᵢ²) and `make_qx_quants(32, 8, rmse_type 1)` picks d.
enum Q4_0 {
    static let blockSize = 32
    static let blockBytes = 18

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let xb = x + i * blockSize
            let yb = y + i * blockBytes
            var amax: Float = 0
            var max: Float = 0
            for j in 0 ..< blockSize where amax < abs(xb[j]) {
                amax = abs(xb[j])
                max = xb[j]
            }
            let d = max / -8
            let id: Float = d != 0 ? 1 / d : 0
            KQuantHelpers.storeF16(d, yb)
            for j in 0 ..< blockSize / 2 {
                let x0 = xb[j] * id
                let x1 = xb[blockSize / 2 + j] * id
                let xi0 = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(15, Int(Int8(truncatingIfNeeded: KQuantHelpers.cvtt(x0 + 8.5)))))
                let xi1 = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(15, Int(Int8(truncatingIfNeeded: KQuantHelpers.cvtt(x1 + 8.5)))))
                yb[2 + j] = xi0 | (xi1 << 4)
            }
        }
    }

    static func quantizeRowWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int,
                                    _ qw: UnsafePointer<Float>) {
        var sumX2: Float = 0
        for j in 0 ..< n { sumX2 += x[j] * x[j] }
        let sigma2 = sumX2 / Float(n)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blockSize) { weight in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: blockSize) { L in
                let weight = weight.baseAddress!, L = L.baseAddress!
                for ib in 0 ..< n / blockSize {
                    let xb = x + blockSize * ib
                    let w = qw + blockSize * ib
                    let yb = y + ib * blockBytes
                    for j in 0 ..< blockSize { weight[j] = w[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    let d = KQuantHelpers.makeQxQuants(blockSize, 8, xb, L, weight)
                    KQuantHelpers.storeF16(d, yb)
                    for j in 0 ..< 16 {
                        yb[2 + j] = UInt8(bitPattern: L[j]) | (UInt8(bitPattern: L[j + 16]) << 4)
                    }
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb)
            let xb = x + i * blockSize
            for j in 0 ..< blockSize / 2 {
                xb[j] = Float(Int(yb[2 + j] & 0x0f) - 8) * d
                xb[j + blockSize / 2] = Float(Int(yb[2 + j] >> 4) - 8) * d
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            let y = dst.assumingMemoryBound(to: UInt8.self)
            if let w { quantizeRowWeighted(src, y, n, w) } else { LegacyFast.q4_0(src, y, n) }
        },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
