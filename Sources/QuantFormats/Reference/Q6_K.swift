/// Q6_K: super-blocks of 256 weights in 16 sub-blocks of 16, each value 6 bits, symmetric;
/// x ≈ d·s·(q − 32).
///
/// Layout per block (210 bytes): ql[128] | qh[64] | scales[16] (i8) | d (f16).
/// For each 128-value half h (ql + 64h, qh + 32h), l = 0…31:
/// - value 128h + l: low nibble of ql[l], bits 0–1 of qh[l];
/// - value 128h + 32 + l: low nibble of ql[32 + l], bits 2–3 of qh[l];
/// - value 128h + 64 + l: high nibble of ql[l], bits 4–5 of qh[l];
/// - value 128h + 96 + l: high nibble of ql[32 + l], bits 6–7 of qh[l].
/// Decoding: value i of sub-block j is `(d·s_j)·(q_i − 32)`.
///
/// Quantization: each sub-block fitted by `make_qx_quants(16, 32, rmse_type 1)`, weighted by
/// x² (`quantize_row_q6_K_ref`) or directly by the importance (`quantize_row_q6_K_impl`); the
/// scales are rounded to 8 bits against the one of largest magnitude (d = that/−128) and the
/// values re-quantized with the rounded scales. An all-(near-)zero super-block is all zeros.
enum Q6_K {
    static let qk = 256
    static let blockBytes = 210

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int, _ qw: UnsafePointer<Float>?) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { fs in
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: qk) { bs in
                let scales = fs.baseAddress!, L = bs.baseAddress!
                for i in 0 ..< n / qk {
                    let xb = x + i * qk
                    let yb = y + i * blockBytes
                    var maxScale: Float = 0
                    var maxAbsScale: Float = 0
                    for ib in 0 ..< 16 {
                        let scale = KQuantHelpers.makeQxQuants(16, 32, xb + 16 * ib, L + 16 * ib, qw.map { $0 + qk * i + 16 * ib })
                        scales[ib] = scale
                        let absScale = abs(scale)
                        if absScale > maxAbsScale {
                            maxAbsScale = absScale
                            maxScale = scale
                        }
                    }
                    if maxAbsScale < KQuantHelpers.groupMaxEps {
                        for k in 0 ..< blockBytes { yb[k] = 0 }
                        KQuantHelpers.storeF16(0, yb + 208)
                        continue
                    }
                    let iscale = -128 / maxScale
                    KQuantHelpers.storeF16(1 / iscale, yb + 208)
                    let sc = yb + 192
                    for ib in 0 ..< 16 {
                        sc[ib] = UInt8(truncatingIfNeeded: KQuantHelpers.cMin(127, KQuantHelpers.nearestInt(iscale * scales[ib])))
                    }
                    let dAll = KQuantHelpers.loadF16(yb + 208)
                    for j in 0 ..< 16 {
                        let d = dAll * Float(Int8(bitPattern: sc[j]))
                        if d == 0 { continue }
                        for ii in 0 ..< 16 {
                            let l = KQuantHelpers.nearestInt(xb[16 * j + ii] / d)
                            L[16 * j + ii] = Int8(truncatingIfNeeded: KQuantHelpers.cMax(-32, KQuantHelpers.cMin(31, l)) + 32)
                        }
                    }
                    L.withMemoryRebound(to: UInt8.self, capacity: qk) { L in
                        var ql = yb, qh = yb + 128
                        for j in stride(from: 0, to: qk, by: 128) {
                            for l in 0 ..< 32 {
                                let q1 = L[j + l] & 0xf
                                let q2 = L[j + l + 32] & 0xf
                                let q3 = L[j + l + 64] & 0xf
                                let q4 = L[j + l + 96] & 0xf
                                ql[l] = q1 | (q3 << 4)
                                ql[l + 32] = q2 | (q4 << 4)
                                qh[l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4)
                                    | ((L[j + l + 96] >> 4) << 6)
                            }
                            ql += 64
                            qh += 32
                        }
                    }
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb + 208)
            var ql = yb, qh = yb + 128, sc = yb + 192
            var out = x + i * qk
            for _ in 0 ..< 2 {
                for l in 0 ..< 32 {
                    let isc = l / 16
                    let q1 = Int((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32
                    let q2 = Int((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32
                    let q3 = Int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                    let q4 = Int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                    out[l] = d * Float(Int8(bitPattern: sc[isc])) * Float(q1)
                    out[l + 32] = d * Float(Int8(bitPattern: sc[isc + 2])) * Float(q2)
                    out[l + 64] = d * Float(Int8(bitPattern: sc[isc + 4])) * Float(q3)
                    out[l + 96] = d * Float(Int8(bitPattern: sc[isc + 6])) * Float(q4)
                }
                out += 128
                ql += 64
                qh += 32
                sc += 8
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n, w) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
