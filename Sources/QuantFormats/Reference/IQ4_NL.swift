/// IQ4_NL: blocks of 32 weights, one F16 scale `d` and 32 4-bit indices into a fixed
/// non-linear 16-entry codebook; x ≈ d·kvalues[q].
///
/// Layout per block (18 bytes): d (f16) | qs[16]. Byte j holds the index of value j in its low
/// nibble and of value j+16 in its high nibble.
///
/// Quantization (`quantize_row_iq4_nl_impl` with super-block = block = 32, ntry = 7, as
/// `quantize_iq4_nl` calls it with or without importance): weights wᵢ = impᵢ·√(σ² + xᵢ²) with
/// σ² = 2·mean(x²) over the block, or xᵢ² without importance; the scale is the best weighted
/// least-squares fit over 15 trial scales around max/−127, and each value takes the nearest
/// codebook entry (`best_index_int8`) at that scale.
enum IQ4_NL {
    static let blockSize = 32
    static let blockBytes = 18

    /// `kvalues_iq4nl`: the codebook, a format fact.
    static let kvalues: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    /// `best_index_int8(16, values, x)`: the index of the codebook entry nearest to `x`
    /// (binary search; ties go to the upper entry).
    @inline(__always) static func bestIndex(_ val: UnsafePointer<Int8>, _ x: Float) -> Int {
        if x <= Float(val[0]) { return 0 }
        if x >= Float(val[15]) { return 15 }
        var ml = 0, mu = 15
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < Float(val[mav]) { mu = mav } else { ml = mav }
        }
        return x - Float(val[mu - 1]) < Float(val[mu]) - x ? mu - 1 : mu
    }

    /// `quantize_row_iq4_nl_impl(superBlockSize, 32, …, kvalues_iq4nl, qw, ntry = 7)` for
    /// IQ4_NL (superBlockSize 32) and IQ4_XS (256). Writes the F16 super-scale to `dh`, the
    /// packed indices to `q4`, and for IQ4_XS the 6-bit sub-block scales to `scalesH`/`scalesL`.
    /// `scales` (superBlockSize/32 floats), `weight` (32 floats) and `L` (superBlockSize bytes)
    /// are scratch.
    static func quantizeSuperBlock(_ superBlockSize: Int, _ x: UnsafePointer<Float>, _ dh: UnsafeMutablePointer<UInt8>,
                                   _ q4: UnsafeMutablePointer<UInt8>, _ scalesH: UnsafeMutablePointer<UInt8>?,
                                   _ scalesL: UnsafeMutablePointer<UInt8>?, _ scales: UnsafeMutablePointer<Float>,
                                   _ weight: UnsafeMutablePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                                   _ values: UnsafePointer<Int8>, _ qw: UnsafePointer<Float>?) {
        let blockSize = 32
        let ntry = 7
        var sigma2: Float = 0
        for j in 0 ..< superBlockSize { sigma2 += x[j] * x[j] }
        sigma2 *= 2 / Float(superBlockSize)

        for j in 0 ..< superBlockSize / 2 { q4[j] = 0 }
        KQuantHelpers.storeF16(0, dh)

        var maxScale: Float = 0, amaxScale: Float = 0
        for ib in 0 ..< superBlockSize / blockSize {
            let xb = x + ib * blockSize
            let Lb = L + ib * blockSize
            if let qw {
                let w = qw + ib * blockSize
                for j in 0 ..< blockSize { weight[j] = w[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
            } else {
                for j in 0 ..< blockSize { weight[j] = xb[j] * xb[j] }
            }
            var amax: Float = 0, max: Float = 0
            for j in 0 ..< blockSize {
                let ax = abs(xb[j])
                if ax > amax {
                    amax = ax
                    max = xb[j]
                }
            }
            if amax < KQuantHelpers.groupMaxEps {
                scales[ib] = 0
                continue
            }
            let v0 = Float(values[0])
            var d = -max / v0  // ntry > 0
            var id = 1 / d
            var sumqx: Float = 0, sumq2: Float = 0
            for j in 0 ..< blockSize {
                let al = id * xb[j]
                let l = bestIndex(values, al)
                Lb[j] = UInt8(truncatingIfNeeded: l)
                let q = Float(values[l])
                let w = weight[j]
                sumqx += w * q * xb[j]
                sumq2 += w * q * q
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0
            var best = d * sumqx
            for itry in -ntry ... ntry {
                id = Float(itry + Int(values[0])) / max
                sumqx = 0
                sumq2 = 0
                for j in 0 ..< blockSize {
                    let al = id * xb[j]
                    let l = bestIndex(values, al)
                    let q = Float(values[l])
                    let w = weight[j]
                    sumqx += w * q * xb[j]
                    sumq2 += w * q * q
                }
                if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                    d = sumqx / sumq2
                    best = d * sumqx
                }
            }
            scales[ib] = d
            let absD = abs(d)
            if absD > amaxScale {
                amaxScale = absD
                maxScale = d
            }
        }

        if superBlockSize / blockSize > 1, let scalesH, let scalesL {
            let nb = superBlockSize / blockSize
            for k in 0 ..< 2 * ((nb + 7) / 8) { scalesH[k] = 0 }
            let d = -maxScale / 32
            KQuantHelpers.storeF16(d, dh)
            let id: Float = d != 0 ? 1 / d : 0
            for ib in 0 ..< nb {
                var l = KQuantHelpers.nearestInt(id * scales[ib])
                l = KQuantHelpers.cMax(-32, KQuantHelpers.cMin(31, l))
                let dl = d * Float(l)
                let idl: Float = dl != 0 ? 1 / dl : 0
                let Lb = L + ib * blockSize
                let xb = x + ib * blockSize
                for j in 0 ..< blockSize {
                    Lb[j] = UInt8(truncatingIfNeeded: bestIndex(values, idl * xb[j]))
                }
                l += 32
                let lLo = UInt8(truncatingIfNeeded: l & 0xf)
                let lHi = UInt16(truncatingIfNeeded: l >> 4)
                if ib % 2 == 0 { scalesL[ib / 2] = lLo } else { scalesL[ib / 2] |= lLo << 4 }
                // scales_h is a little-endian uint16 per 8 sub-blocks.
                let shifted = lHi << UInt16(2 * (ib % 8))
                scalesH[2 * (ib / 8)] |= UInt8(truncatingIfNeeded: shifted)
                scalesH[2 * (ib / 8) + 1] |= UInt8(truncatingIfNeeded: shifted >> 8)
            }
        } else {
            KQuantHelpers.storeF16(scales[0], dh)
            let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
            for j in 0 ..< superBlockSize {
                L[j] = UInt8(truncatingIfNeeded: bestIndex(values, id * x[j]))
            }
        }

        for i in 0 ..< superBlockSize / 32 {
            for j in 0 ..< 16 {
                q4[16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4)
            }
        }
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int, _ qw: UnsafePointer<Float>?) {
        kvalues.withUnsafeBufferPointer { kv in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 33) { fs in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blockSize) { bs in
                    let scale = fs.baseAddress!, weight = scale + 1, L = bs.baseAddress!
                    for ibl in 0 ..< n / blockSize {
                        let yb = y + ibl * blockBytes
                        quantizeSuperBlock(blockSize, x + blockSize * ibl, yb, yb + 2, nil, nil, scale, weight, L,
                                           kv.baseAddress!, qw.map { $0 + blockSize * ibl })
                    }
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        kvalues.withUnsafeBufferPointer { kv in
            for i in 0 ..< n / blockSize {
                let yb = y + i * blockBytes
                let d = KQuantHelpers.loadF16(yb)
                let xb = x + i * blockSize
                for j in 0 ..< 16 {
                    xb[j] = d * Float(kv[Int(yb[2 + j] & 0xf)])
                    xb[j + 16] = d * Float(kv[Int(yb[2 + j] >> 4)])
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n, w) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
