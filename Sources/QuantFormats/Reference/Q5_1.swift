/// Q5_1: blocks of 32 weights, an F16 scale `d`, an F16 minimum `m` and 32 unsigned 5-bit
/// values; x ≈ d·q + m.
///
/// Layout per block (24 bytes): d (f16) | m (f16) | qh (u32, little-endian) | qs[16]. Byte j
/// of qs holds the low 4 bits of value j (low nibble) and of value j+16 (high nibble); bit j
/// of qh is the fifth bit of value j.
///
/// Quantization without importance weights (`quantize_row_q5_1_ref`): m = min x,
/// d = (max − min)/31, q = trunc((x − m)/d + 0.5) (no clamp, as in ggml).
/// With importance weights (`quantize_row_q5_1_impl`): per row σ² = mean(x²); per block
/// weights wᵢ = impᵢ·√(σ² + xᵢ²) and `make_qkx3_quants(32, 31, −0.9, 0.05, 36)` fits d and m.
enum Q5_1 {
    static let blockSize = 32
    static let blockBytes = 24

    @inline(__always) static func store(_ xi0: UInt8, _ xi1: UInt8, _ j: Int, _ yb: UnsafeMutablePointer<UInt8>, _ qh: inout UInt32) {
        yb[8 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4)
        qh |= (UInt32(xi0 & 0x10) >> 4) << UInt32(j)
        qh |= (UInt32(xi1 & 0x10) >> 4) << UInt32(j + 16)
    }

    @inline(__always) static func storeQh(_ qh: UInt32, _ yb: UnsafeMutablePointer<UInt8>) {
        for k in 0 ..< 4 { yb[4 + k] = UInt8(truncatingIfNeeded: qh >> (8 * UInt32(k))) }
    }

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
            let d = (max - min) / 31
            let id: Float = d != 0 ? 1 / d : 0
            KQuantHelpers.storeF16(d, yb)
            KQuantHelpers.storeF16(min, yb + 2)
            var qh: UInt32 = 0
            for j in 0 ..< blockSize / 2 {
                let x0 = (xb[j] - min) * id
                let x1 = (xb[blockSize / 2 + j] - min) * id
                let xi0 = UInt8(truncatingIfNeeded: KQuantHelpers.cvtt(x0 + 0.5))
                let xi1 = UInt8(truncatingIfNeeded: KQuantHelpers.cvtt(x1 + 0.5))
                store(xi0, xi1, j, yb, &qh)
            }
            storeQh(qh, yb)
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
                    let d = KQuantFast.makeQkx3Quants(blockSize, 31, xb, weight, L, &min, laux, -0.9, 0.05, 36)
                    KQuantHelpers.storeF16(d, yb)
                    KQuantHelpers.storeF16(-min, yb + 2)
                    var qh: UInt32 = 0
                    for j in 0 ..< 16 { store(L[j], L[j + 16], j, yb, &qh) }
                    storeQh(qh, yb)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb)
            let m = KQuantHelpers.loadF16(yb + 2)
            let qh = UInt32(yb[4]) | UInt32(yb[5]) << 8 | UInt32(yb[6]) << 16 | UInt32(yb[7]) << 24
            let xb = x + i * blockSize
            for j in 0 ..< blockSize / 2 {
                let xh0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
                let xh1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
                xb[j] = Float((yb[8 + j] & 0x0f) | xh0) * d + m
                xb[j + blockSize / 2] = Float((yb[8 + j] >> 4) | xh1) * d + m
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            let y = dst.assumingMemoryBound(to: UInt8.self)
            if let w { quantizeRowWeighted(src, y, n, w) } else { LegacyFast.q5_1(src, y, n) }
        },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
