/// IQ4_XS: super-blocks of 256 weights in 8 sub-blocks of 32, 4-bit indices into the IQ4_NL
/// codebook with a 6-bit scale per sub-block; x ≈ d·(ls − 32)·kvalues[q].
///
/// Layout per block (136 bytes): d (f16) | scales_h (u16, little-endian) | scales_l[4] | qs[128].
/// - sub-block ib's 6-bit scale `ls`: low nibble of scales_l[ib/2] (ib even: bits 0–3, odd:
///   bits 4–7) and bits 2ib…2ib+1 of scales_h as its top two bits.
/// - `qs`: sub-block ib uses bytes 16ib…16ib+15; byte j holds the index of value j (low
///   nibble) and j+16 (high nibble).
/// Decoding: value j of sub-block ib is `(d·(ls_ib − 32))·kvalues[q_j]`.
///
/// Quantization (`quantize_iq4_xs` → `quantize_row_iq4_nl_impl(256, 32, ntry = 7)`): each
/// sub-block's scale is fitted as in IQ4_NL, the scales are rounded to 6 bits against
/// d = (largest-magnitude scale)/−32, and every value re-picks its nearest codebook entry at
/// the rounded scale.
enum IQ4_XS {
    static let qk = 256
    static let blockBytes = 136

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int, _ qw: UnsafePointer<Float>?) {
        IQ4_NL.kvalues.withUnsafeBufferPointer { kv in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 40) { fs in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: qk) { bs in
                    let scales = fs.baseAddress!, weight = scales + 8, L = bs.baseAddress!
                    for ibl in 0 ..< n / qk {
                        let yb = y + ibl * blockBytes
                        IQ4_NL.quantizeSuperBlock(qk, x + qk * ibl, yb, yb + 8, yb + 2, yb + 4, scales, weight, L,
                                                  kv.baseAddress!, qw.map { $0 + qk * ibl })
                    }
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQ4_NL.kvalues.withUnsafeBufferPointer { kv in
            for i in 0 ..< n / qk {
                let yb = y + i * blockBytes
                let d = KQuantHelpers.loadF16(yb)
                let scalesH = Int(yb[2]) | Int(yb[3]) << 8
                var qs = yb + 8
                var out = x + i * qk
                for ib in 0 ..< 8 {
                    let ls = ((Int(yb[4 + ib / 2]) >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4)
                    let dl = d * Float(ls - 32)
                    for j in 0 ..< 16 {
                        out[j] = dl * Float(kv[Int(qs[j] & 0xf)])
                        out[j + 16] = dl * Float(kv[Int(qs[j] >> 4)])
                    }
                    out += 32
                    qs += 16
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n, w) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
