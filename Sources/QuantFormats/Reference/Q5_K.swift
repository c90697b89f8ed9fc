/// Q5_K: super-blocks of 256 weights in 8 sub-blocks of 32, each value 5 bits;
/// x ≈ d·sc·q − dmin·m.
///
/// Layout per block (176 bytes): d (f16) | dmin (f16) | scales[12] | qh[32] | qs[128].
/// - `scales`: eight 6-bit scales and mins, packed as in Q4_K (`KQuantHelpers.scaleMinK4`).
/// - `qs`: the low 4 bits, packed as in Q4_K (64-value chunk c: byte 32c + l holds values
///   64c + l and 64c + 32 + l).
/// - `qh`: the fifth bit; value 64c + l is bit 2c of byte l, value 64c + 32 + l bit 2c + 1.
/// Decoding: value i of sub-block j is `(d·sc_j)·q_i − dmin·m_j`.
///
/// Quantization follows Q4_K with nmax = 31: without importance weights
/// `make_qkx2_quants(32, 31, −0.5, 0.1, 15)` per sub-block; with them the Q4_K importance path
/// (`make_qkx3_quants`, `make_qp_quants(8, 63)`), plus ggml's clamp of the 6-bit codes to 63.
enum Q5_K {
    static let qk = 256
    static let blockBytes = 176

    private static func pack(_ L: UnsafePointer<UInt8>, _ yb: UnsafeMutablePointer<UInt8>) {
        let qh = yb + 16
        var ql = yb + 48
        for j in 0 ..< 32 { qh[j] = 0 }
        var m1: UInt8 = 1, m2: UInt8 = 2
        for n in stride(from: 0, to: qk, by: 64) {
            for j in 0 ..< 32 {
                var l1 = L[n + j]
                if l1 > 15 {
                    l1 -= 16
                    qh[j] |= m1
                }
                var l2 = L[n + j + 32]
                if l2 > 15 {
                    l2 -= 16
                    qh[j] |= m2
                }
                ql[j] = l1 | (l2 << 4)
            }
            m1 <<= 2
            m2 <<= 2
            ql += 32
        }
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int, _ qw: UnsafePointer<Float>?) {
        Q4_K.withScratch { L, laux, fs in
            for i in 0 ..< n / qk {
                let xb = x + i * qk
                let yb = y + i * blockBytes
                if let qw {
                    Q4_K.fitWeighted(xb, yb, 31, qw + qk * i, true, L, laux, fs)
                } else {
                    Q4_K.fitRef(xb, yb, 31, -0.5, 15, L, laux, fs)
                }
                Q4_K.requantize(xb, yb, L, 31)
                pack(L, yb)
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb)
            let min = KQuantHelpers.loadF16(yb + 2)
            let qh = yb + 16
            var ql = yb + 48
            var out = x + i * qk
            var u1: UInt8 = 1, u2: UInt8 = 2
            for c in 0 ..< 4 {
                let (sc1, m1b) = KQuantHelpers.scaleMinK4(2 * c, yb + 4)
                let d1 = d * Float(sc1), m1 = min * Float(m1b)
                let (sc2, m2b) = KQuantHelpers.scaleMinK4(2 * c + 1, yb + 4)
                let d2 = d * Float(sc2), m2 = min * Float(m2b)
                for l in 0 ..< 32 { out[l] = d1 * Float(Int(ql[l] & 0xf) + (qh[l] & u1 != 0 ? 16 : 0)) - m1 }
                for l in 0 ..< 32 { out[32 + l] = d2 * Float(Int(ql[l] >> 4) + (qh[l] & u2 != 0 ? 16 : 0)) - m2 }
                out += 64
                ql += 32
                u1 <<= 2
                u2 <<= 2
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n, w) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
