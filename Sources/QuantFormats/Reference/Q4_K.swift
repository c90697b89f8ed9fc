/// Q4_K: super-blocks of 256 weights in 8 sub-blocks of 32, each value 4 bits;
/// x ≈ d·sc·q − dmin·m.
///
/// Layout per block (144 bytes): d (f16) | dmin (f16) | scales[12] | qs[128].
/// - `scales`: eight 6-bit scales `sc` and mins `m` (see `KQuantHelpers.scaleMinK4`).
/// - `qs`: for each 64-value chunk c, bytes 32c + l hold value 64c + l (low nibble) and
///   value 64c + 32 + l (high nibble).
/// Decoding: value i of sub-block j is `(d·sc_j)·q_i − dmin·m_j`.
///
/// Quantization without importance weights (`quantize_row_q4_K_ref`): per sub-block weights
/// wᵢ = √(mean x²) + |xᵢ|, fit by `make_qkx2_quants(32, 15, −1, 0.1, 20)`; scales and mins are
/// rounded to 6 bits against their maxima; values re-quantized with the rounded scales.
/// With importance weights (`quantize_row_q4_K_impl`): σ² = 2·mean(x²) over the super-block,
/// wᵢ = impᵢ·√(σ² + xᵢ²), fit by `make_qkx3_quants(32, 15, −0.9, 0.05, 36)`; scales and mins
/// by `make_qp_quants(8, 63)` weighted by the sub-block weight sums.
enum Q4_K {
    static let qk = 256
    static let blockBytes = 144

    /// Re-quantizes the values with the stored scales and mins into `L` (0…nmax), for
    /// Q4_K and Q5_K alike (`s` is the 12 scale bytes, `dmin` follows `d`).
    static func requantize(_ x: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<UInt8>, _ nmax: Int) {
        let dAll = KQuantHelpers.loadF16(yb)
        let mAll = KQuantHelpers.loadF16(yb + 2)
        for j in 0 ..< 8 {
            let (sc, m) = KQuantHelpers.scaleMinK4(j, yb + 4)
            let d = dAll * Float(sc)
            if d == 0 { continue }
            let dm = mAll * Float(m)
            for ii in 0 ..< 32 {
                let l = KQuantHelpers.nearestInt((x[32 * j + ii] + dm) / d)
                L[32 * j + ii] = UInt8(truncatingIfNeeded: KQuantHelpers.cMax(0, KQuantHelpers.cMin(nmax, l)))
            }
        }
    }

    /// The reference (no importance) scale search shared with Q5_K: fits each sub-block with
    /// `make_qkx2_quants`, then stores d, dmin and the 6-bit scales/mins.
    static func fitRef(_ xb: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<UInt8>, _ nmax: Int, _ rmin: Float, _ nstep: Int,
                       _ L: UnsafeMutablePointer<UInt8>, _ laux: UnsafeMutablePointer<UInt8>, _ fs: UnsafeMutablePointer<Float>) {
        let weights = fs, mins = fs + 32, scales = mins + 8
        var maxScale: Float = 0
        var maxMin: Float = 0
        for j in 0 ..< 8 {
            var sumX2: Float = 0
            for l in 0 ..< 32 { sumX2 += xb[32 * j + l] * xb[32 * j + l] }
            let avX = (sumX2 / 32).squareRoot()
            for l in 0 ..< 32 { weights[l] = avX + abs(xb[32 * j + l]) }
            scales[j] = KQuantFast.makeQkx2Quants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], laux,
                                                     rmin, 0.1, nstep, false)
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        for j in 0 ..< 8 {
            var ls = UInt8(truncatingIfNeeded: KQuantHelpers.nearestInt(invScale * scales[j]))
            var lm = UInt8(truncatingIfNeeded: KQuantHelpers.nearestInt(invMin * mins[j]))
            ls = 63 < ls ? 63 : ls
            lm = 63 < lm ? 63 : lm
            KQuantHelpers.packScaleMinK4(j, ls, lm, yb + 4)
        }
        KQuantHelpers.storeF16(maxScale / 63, yb)
        KQuantHelpers.storeF16(maxMin / 63, yb + 2)
    }

    /// The importance-weighted scale search shared with Q5_K (`make_qkx3_quants` per
    /// sub-block, `make_qp_quants` for the scales and mins); `clampTo63` is Q5_K's extra MIN.
    static func fitWeighted(_ xb: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<UInt8>, _ nmax: Int, _ qw: UnsafePointer<Float>,
                            _ clampTo63: Bool, _ L: UnsafeMutablePointer<UInt8>, _ laux: UnsafeMutablePointer<UInt8>,
                            _ fs: UnsafeMutablePointer<Float>) {
        let weights = fs, mins = fs + 32, scales = mins + 8, sw = scales + 8
        let Ls = laux + 32, Lm = Ls + 8
        var sumX2: Float = 0
        for l in 0 ..< 256 { sumX2 += xb[l] * xb[l] }
        let sigma2 = 2 * sumX2 / 256
        for j in 0 ..< 8 {
            let w = qw + 32 * j
            for l in 0 ..< 32 { weights[l] = w[l] * (sigma2 + xb[32 * j + l] * xb[32 * j + l]).squareRoot() }
            var sumw: Float = 0
            for l in 0 ..< 32 { sumw += weights[l] }
            sw[j] = sumw
            scales[j] = KQuantFast.makeQkx3Quants(32, nmax, xb + 32 * j, weights, L + 32 * j, &mins[j], laux, -0.9, 0.05, 36)
        }
        let dBlock = KQuantHelpers.makeQpQuants(8, 63, scales, Ls, sw)
        let mBlock = KQuantHelpers.makeQpQuants(8, 63, mins, Lm, sw)
        for j in 0 ..< 8 {
            var ls = Ls[j], lm = Lm[j]
            if clampTo63 {
                ls = 63 < ls ? 63 : ls
                lm = 63 < lm ? 63 : lm
            }
            KQuantHelpers.packScaleMinK4(j, ls, lm, yb + 4)
        }
        KQuantHelpers.storeF16(dBlock, yb)
        KQuantHelpers.storeF16(mBlock, yb + 2)
    }

    private static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutablePointer<UInt8>) {
        var q = yb + 16
        for j in stride(from: 0, to: qk, by: 64) {
            for l in 0 ..< 32 { q[l] = L[j + l] | (L[j + l + 32] << 4) }
            q += 32
        }
    }

    /// Scratch for one row: 256 + 48 bytes, 56 floats.
    static func withScratch(_ body: (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>) -> Void) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 56) { fs in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 48) { bs in
                body(bs.baseAddress!, bs.baseAddress! + 256, fs.baseAddress!)
            }
        }
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int, _ qw: UnsafePointer<Float>?) {
        withScratch { L, laux, fs in
            for i in 0 ..< n / qk {
                let xb = x + i * qk
                let yb = y + i * blockBytes
                if let qw {
                    fitWeighted(xb, yb, 15, qw + qk * i, false, L, laux, fs)
                } else {
                    fitRef(xb, yb, 15, -1, 20, L, laux, fs)
                }
                requantize(xb, yb, L, 15)
                pack(L, yb)
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb)
            let min = KQuantHelpers.loadF16(yb + 2)
            var q = yb + 16
            var out = x + i * qk
            for c in 0 ..< 4 {
                let (sc1, m1b) = KQuantHelpers.scaleMinK4(2 * c, yb + 4)
                let d1 = d * Float(sc1), m1 = min * Float(m1b)
                let (sc2, m2b) = KQuantHelpers.scaleMinK4(2 * c + 1, yb + 4)
                let d2 = d * Float(sc2), m2 = min * Float(m2b)
                for l in 0 ..< 32 { out[l] = d1 * Float(q[l] & 0xf) - m1 }
                for l in 0 ..< 32 { out[32 + l] = d2 * Float(q[l] >> 4) - m2 }
                out += 64
                q += 32
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n, w) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
