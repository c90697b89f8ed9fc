/// Q3_K: super-blocks of 256 weights in 16 sub-blocks of 16, each value 3 bits, symmetric;
/// x ≈ d·(s − 32)·(q − 4).
///
/// Layout per block (110 bytes): hmask[32] | qs[64] | scales[12] | d (f16).
/// - `qs`: the low 2 bits of each value, packed as in Q2_K (for half h, byte 32h + l holds
///   values 128h + l + 32s in bits 2s…2s+1).
/// - `hmask`: the third bit; value i's is bit ⌊i/32⌋ of byte i mod 32 (set means q ≥ 4).
/// - `scales`: 16 six-bit scales s_j: low nibble in byte j (j < 8) or the high nibble of byte
///   j−8 (j ≥ 8); top 2 bits at bits 2⌊j/4⌋ of byte 8 + j mod 4.
/// Decoding: value i of sub-block j is `(d·(s_j − 32))·(q_i − 4)`.
///
/// Quantization without importance weights (`quantize_row_q3_K_ref`): each sub-block fitted by
/// `make_q3_quants(16, 4, rmse)`; the scales are quantized to 6 bits against the one of
/// largest magnitude (d = that/−32); values are re-quantized with the rounded scales.
/// With importance weights (`quantize_row_q3_K_impl`): σ² = 2·mean(x²), wᵢ = impᵢ·√(σ² + xᵢ²);
/// sub-blocks by `make_qx_quants(16, 4, w)`, the scales by `make_qx_quants(16, 32, Σw)`.
enum Q3_K {
    static let qk = 256
    static let blockBytes = 110

    /// Re-quantizes the values with the stored scales, then packs high bits and low bits.
    /// `L` holds offsets 0…7 on entry (sub-blocks with a zero scale keep theirs).
    private static func finish(_ x: UnsafePointer<Float>, _ yb: UnsafeMutablePointer<UInt8>, _ L: UnsafeMutablePointer<Int8>) {
        let s = yb + 96
        let dAll = KQuantHelpers.loadF16(yb + 108)
        for j in 0 ..< 16 {
            var sc = j < 8 ? s[j] & 0xf : s[j - 8] >> 4
            sc = (sc | (((s[8 + j % 4] >> UInt8(2 * (j / 4))) & 3) << 4))
            let d = dAll * Float(Int(sc) - 32)
            if d == 0 { continue }
            for ii in 0 ..< 16 {
                let l = KQuantHelpers.nearestInt(x[16 * j + ii] / d)
                L[16 * j + ii] = Int8(truncatingIfNeeded: KQuantHelpers.cMax(-4, KQuantHelpers.cMin(3, l)) + 4)
            }
        }
        for m in 0 ..< 32 { yb[m] = 0 }
        var m = 0
        var hm: UInt8 = 1
        for j in 0 ..< qk {
            if L[j] > 3 {
                yb[m] |= hm
                L[j] -= 4
            }
            m += 1
            if m == 32 {
                m = 0
                hm <<= 1
            }
        }
        L.withMemoryRebound(to: UInt8.self, capacity: qk) { KQuantHelpers.pack2Bit256($0, yb + 32) }
    }

    /// Stores 6-bit scale `l` (0…63) of sub-block j into the 12 scale bytes (zeroed beforehand).
    @inline(__always) private static func putScale(_ j: Int, _ l: Int, _ s: UnsafeMutablePointer<UInt8>) {
        let lb = UInt8(truncatingIfNeeded: l)
        if j < 8 { s[j] = lb & 0xf } else { s[j - 8] |= (lb & 0xf) << 4 }
        s[j % 4 + 8] |= UInt8(truncatingIfNeeded: (l >> 4) << (2 * (j / 4)))
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { fs in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: qk) { bs in
                let scales = fs.baseAddress!, L = bs.baseAddress!
                for i in 0 ..< n / qk {
                    let xb = x + i * qk
                    let yb = y + i * blockBytes
                    var maxScale: Float = 0
                    var amax: Float = 0
                    for j in 0 ..< 16 {
                        scales[j] = KQuantHelpers.makeQ3Quants(16, 4, xb + 16 * j, L + 16 * j, true)
                        let scale = abs(scales[j])
                        if scale > amax {
                            amax = scale
                            maxScale = scales[j]
                        }
                    }
                    let s = yb + 96
                    for k in 0 ..< 12 { s[k] = 0 }
                    if maxScale != 0 {
                        let iscale = -32 / maxScale
                        for j in 0 ..< 16 {
                            // C: int8_t l = nearest_int(...); l = MAX(-32, MIN(31, l)) + 32
                            let l8 = Int(Int8(truncatingIfNeeded: KQuantHelpers.nearestInt(iscale * scales[j])))
                            let l = Int(Int8(truncatingIfNeeded: KQuantHelpers.cMax(-32, KQuantHelpers.cMin(31, l8)) + 32))
                            putScale(j, l, s)
                        }
                        KQuantHelpers.storeF16(1 / iscale, yb + 108)
                    } else {
                        KQuantHelpers.storeF16(0, yb + 108)
                    }
                    finish(xb, yb, L)
                }
            }
        }
    }

    static func quantizeRowWeighted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int,
                                    _ qw: UnsafePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 48) { fs in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: qk + 16) { bs in
                let scales = fs.baseAddress!, weight = scales + 16, sw = weight + 16
                let L = bs.baseAddress!, Ls = L + qk
                for i in 0 ..< n / qk {
                    let xb = x + i * qk
                    let yb = y + i * blockBytes
                    var sumX2: Float = 0
                    for j in 0 ..< qk { sumX2 += xb[j] * xb[j] }
                    let sigma2 = 2 * sumX2 / Float(qk)
                    for j in 0 ..< 16 {
                        let w = qw + qk * i + 16 * j
                        for l in 0 ..< 16 {
                            weight[l] = w[l] * (sigma2 + xb[16 * j + l] * xb[16 * j + l]).squareRoot()
                        }
                        var sumw: Float = 0
                        for l in 0 ..< 16 { sumw += weight[l] }
                        sw[j] = sumw
                        scales[j] = KQuantHelpers.makeQxQuants(16, 4, xb + 16 * j, L + 16 * j, weight)
                    }
                    let s = yb + 96
                    for k in 0 ..< 12 { s[k] = 0 }
                    let dBlock = KQuantHelpers.makeQxQuants(16, 32, scales, Ls, sw)
                    for j in 0 ..< 16 { putScale(j, Int(Ls[j]), s) }
                    KQuantHelpers.storeF16(dBlock, yb + 108)
                    finish(xb, yb, L)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let dAll = KQuantHelpers.loadF16(yb + 108)
            let hmask = yb, s = yb + 96
            var q = yb + 32
            var out = x + i * qk
            var m: UInt8 = 1
            var j = 0
            for _ in 0 ..< 2 {
                var shift: UInt8 = 0
                for _ in 0 ..< 4 {
                    for half in 0 ..< 2 {
                        let lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4
                        let sc = Int(lo | (((s[8 + j % 4] >> UInt8(2 * (j / 4))) & 3) << 4)) - 32
                        j += 1
                        let dl = dAll * Float(sc)
                        for l in 0 ..< 16 {
                            let k = l + 16 * half
                            out[l] = dl * Float(Int((q[k] >> shift) & 3) - (hmask[k] & m != 0 ? 0 : 4))
                        }
                        out += 16
                    }
                    shift += 2
                    m <<= 1
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
