/// Q2_K: super-blocks of 256 weights in 16 sub-blocks of 16, each value 2 bits;
/// x ≈ d·sc·q − dmin·m.
///
/// Layout per block (84 bytes): scales[16] | qs[64] | d (f16) | dmin (f16).
/// - `scales[j]`: sub-block j's 4-bit scale `sc` (low nibble) and 4-bit min `m` (high nibble).
/// - `qs`: for half h ∈ {0, 1}, byte 32h + l holds the values 128h + l + 32s in bits 2s…2s+1
///   (s = 0…3).
/// Decoding: value i of sub-block j is `d·sc_j·q_i − dmin·m_j` (computed as (d·sc)·q − dmin·m).
///
/// Quantization without importance weights (`quantize_row_q2_K_ref`): each sub-block is fitted
/// by `make_qkx2_quants(16, 3, |x| weights, −0.5, 0.1, 15, mad)`; scales and mins are quantized
/// to 4 bits against their maxima; values are then re-quantized with the rounded scales.
/// With importance weights (`quantize_row_q2_K_impl`): σ² = mean(x²) over the super-block,
/// wᵢ = impᵢ·√(σ² + xᵢ²), sub-blocks fitted by `make_qkx3_quants(16, 3, −0.9, 0.05, 36)`,
/// scales and mins quantized by `make_qp_quants(16, 15)` weighted by the sub-block weight sums.
enum Q2_K {
    static let qk = 256
    static let blockBytes = 84

    /// Re-quantizes the values with the stored (rounded) scales, then packs `L` into `qs`.
    private static func finish(_ x: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>) {
        let dAll = KQuantHelpers.loadF16(yb + 80)
        let mAll = KQuantHelpers.loadF16(yb + 82)
        for j in 0 ..< 16 {
            let d = dAll * Float(yb[j] & 0xf)
            if d == 0 { continue }
            let dm = mAll * Float(yb[j] >> 4)
            for ii in 0 ..< 16 {
                let l = KQuantHelpers.nearestInt((x[16 * j + ii] + dm) / d)
                L[16 * j + ii] = UInt8(truncatingIfNeeded: KQuantHelpers.cMax(0, KQuantHelpers.cMin(3, l)))
            }
        }
        KQuantHelpers.pack2Bit256(L, yb + 16)
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        let q4scale: Float = 15
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 48) { fs in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: qk + 16) { bs in
                let weights = fs.baseAddress!, mins = weights + 16, scales = mins + 16
                let L = bs.baseAddress!, laux = L + qk
                for i in 0 ..< n / qk {
                    let xb = x + i * qk
                    let yb = y + i * blockBytes
                    var maxScale: Float = 0
                    var maxMin: Float = 0
                    for j in 0 ..< 16 {
                        for l in 0 ..< 16 { weights[l] = abs(xb[16 * j + l]) }
                        scales[j] = KQuantFast.makeQkx2Quants(16, 3, xb + 16 * j, weights, L + 16 * j, &mins[j], laux,
                                                                 -0.5, 0.1, 15, true)
                        if scales[j] > maxScale { maxScale = scales[j] }
                        if mins[j] > maxMin { maxMin = mins[j] }
                    }
                    if maxScale > 0 {
                        let iscale = q4scale / maxScale
                        for j in 0 ..< 16 {
                            yb[j] = UInt8(truncatingIfNeeded: KQuantHelpers.nearestInt(iscale * scales[j]))
                        }
                        KQuantHelpers.storeF16(maxScale / q4scale, yb + 80)
                    } else {
                        for j in 0 ..< 16 { yb[j] = 0 }
                        KQuantHelpers.storeF16(0, yb + 80)
                    }
                    if maxMin > 0 {
                        let iscale = q4scale / maxMin
                        for j in 0 ..< 16 {
                            let l = KQuantHelpers.nearestInt(iscale * mins[j])
                            yb[j] |= UInt8(truncatingIfNeeded: l << 4)
                        }
                        KQuantHelpers.storeF16(maxMin / q4scale, yb + 82)
                    } else {
                        KQuantHelpers.storeF16(0, yb + 82)
                    }
                    finish(xb, yb, L)
                }
            }
        }
    }

    static func quantizeRowWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int,
                                    _ qw: UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 64) { fs in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: qk + 48) { bs in
                let weight = fs.baseAddress!, mins = weight + 16, scales = mins + 16, sw = scales + 16
                let L = bs.baseAddress!, laux = L + qk, Ls = laux + 16, Lm = Ls + 16
                for i in 0 ..< n / qk {
                    let xb = x + i * qk
                    let yb = y + i * blockBytes
                    for j in 0 ..< 16 { sw[j] = 0 }
                    var sumX2: Float = 0
                    for j in 0 ..< qk { sumX2 += xb[j] * xb[j] }
                    let sigma2 = sumX2 / Float(qk)
                    for j in 0 ..< 16 {
                        let w = qw + qk * i + 16 * j
                        for l in 0 ..< 16 {
                            weight[l] = w[l] * (sigma2 + xb[16 * j + l] * xb[16 * j + l]).squareRoot()
                        }
                        for l in 0 ..< 16 { sw[j] += weight[l] }
                        scales[j] = KQuantFast.makeQkx3Quants(16, 3, xb + 16 * j, weight, L + 16 * j, &mins[j], laux,
                                                                 -0.9, 0.05, 36)
                    }
                    let dm = KQuantHelpers.makeQpQuants(16, 15, scales, Ls, sw)
                    let mm = KQuantHelpers.makeQpQuants(16, 15, mins, Lm, sw)
                    KQuantHelpers.storeF16(dm, yb + 80)
                    KQuantHelpers.storeF16(mm, yb + 82)
                    for j in 0 ..< 16 { yb[j] = Ls[j] | (Lm[j] << 4) }
                    finish(xb, yb, L)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb + 80)
            let min = KQuantHelpers.loadF16(yb + 82)
            var out = x + i * qk
            var q = yb + 16
            var sIdx = 0
            for _ in 0 ..< 2 {
                var shift: UInt8 = 0
                for _ in 0 ..< 4 {
                    for half in 0 ..< 2 {
                        let sc = yb[sIdx]
                        sIdx += 1
                        let dl = d * Float(sc & 0xf)
                        let ml = min * Float(sc >> 4)
                        for l in 0 ..< 16 { out[l] = dl * Float((q[l + 16 * half] >> shift) & 3) - ml }
                        out += 16
                    }
                    shift += 2
                }
                q += 32
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            let y = dst.assumingMemoryBound(to: UInt8.self)
            if let w { quantizeRowWeighted(src, y, n, w) } else { quantizeRow(src, y, n) }
        },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
