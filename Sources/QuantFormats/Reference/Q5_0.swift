/// Q5_0: blocks of 32 weights, one F16 scale `d` and 32 unsigned 5-bit values;
/// x ≈ d·(q − 16).
///
/// Layout per block (22 bytes): d (f16) | qh (u32, little-endian) | qs[16]. Byte j of qs holds
/// the low 4 bits of value j (low nibble) and of value j+16 (high nibble); bit j of qh is the
/// fifth bit of value j (for j = 0..<32).
///
/// Quantization without importance weights (`quantize_row_q5_0_ref`): the value of largest
/// magnitude `max` maps to −16, d = max / −16, q = min(31, trunc(x/d + 16.5)).
/// With importance weights (`quantize_row_q5_0_impl`): per row σ² = mean(x²); per block
/// weights wᵢ = impᵢ·√(σ² + xᵢ²) and `make_qx_quants(32, 16, rmse_type 1)` picks d.
enum Q5_0 {
    static let blockSize = 32
    static let blockBytes = 22

    @inline(__always) static func store(_ xi0: UInt8, _ xi1: UInt8, _ j: Int, _ yb: UnsafeMutablePointer<UInt8>, _ qh: inout UInt32) {
        yb[6 + j] = (xi0 & 0x0f) | ((xi1 & 0x0f) << 4)
        qh |= (UInt32(xi0 & 0x10) >> 4) << UInt32(j)
        qh |= (UInt32(xi1 & 0x10) >> 4) << UInt32(j + 16)
    }

    @inline(__always) static func storeQh(_ qh: UInt32, _ yb: UnsafeMutablePointer<UInt8>) {
        for k in 0 ..< 4 { yb[2 + k] = UInt8(truncatingIfNeeded: qh >> (8 * UInt32(k))) }
    }

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
            let d = max / -16
            let id: Float = d != 0 ? 1 / d : 0
            KQuantHelpers.storeF16(d, yb)
            var qh: UInt32 = 0
            for j in 0 ..< blockSize / 2 {
                let x0 = xb[j] * id
                let x1 = xb[blockSize / 2 + j] * id
                let xi0 = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(31, Int(Int8(truncatingIfNeeded: KQuantHelpers.cvtt(x0 + 16.5)))))
                let xi1 = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(31, Int(Int8(truncatingIfNeeded: KQuantHelpers.cvtt(x1 + 16.5)))))
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
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: blockSize) { L in
                let weight = weight.baseAddress!, L = L.baseAddress!
                for ib in 0 ..< n / blockSize {
                    let xb = x + blockSize * ib
                    let w = qw + blockSize * ib
                    let yb = y + ib * blockBytes
                    for j in 0 ..< blockSize { weight[j] = w[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    let d = KQuantHelpers.makeQxQuants(blockSize, 16, xb, L, weight)
                    KQuantHelpers.storeF16(d, yb)
                    var qh: UInt32 = 0
                    for j in 0 ..< 16 { store(UInt8(bitPattern: L[j]), UInt8(bitPattern: L[j + 16]), j, yb, &qh) }
                    storeQh(qh, yb)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / blockSize {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb)
            let qh = UInt32(yb[2]) | UInt32(yb[3]) << 8 | UInt32(yb[4]) << 16 | UInt32(yb[5]) << 24
            let xb = x + i * blockSize
            for j in 0 ..< blockSize / 2 {
                let xh0 = UInt8(truncatingIfNeeded: (qh >> UInt32(j)) << 4) & 0x10
                let xh1 = UInt8(truncatingIfNeeded: qh >> UInt32(j + 12)) & 0x10
                xb[j] = Float(Int((yb[6 + j] & 0x0f) | xh0) - 16) * d
                xb[j + blockSize / 2] = Float(Int((yb[6 + j] >> 4) | xh1) - 16) * d
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            let y = dst.assumingMemoryBound(to: UInt8.self)
            if let w { quantizeRowWeighted(src, y, n, w) } else { LegacyFast.q5_0(src, y, n) }
        },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
