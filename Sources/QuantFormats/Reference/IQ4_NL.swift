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

    /// The codebook as floats (exact), for arithmetic.
    static let kvaluesF: [Float] = kvalues.map { Float($0) }

    /// `best_index_int8(16, values, x)`: the index of the codebook entry nearest to `x`
    /// (binary search; ties go to the upper entry). `bestIndices32` is the fast equivalent.
    @inline(__always) static func bestIndex(_ val: UnsafePointer<Float>, _ x: Float) -> Int {
        if x <= val[0] { return 0 }
        if x >= val[15] { return 15 }
        var ml = 0, mu = 15
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < val[mav] { mu = mav } else { ml = mav }
        }
        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu
    }

    /// `bestIndex(val, s·x[j])` for j in 0..<32. Release builds use `bestIndicesSIMD`, which
    /// gives the same indices; debug builds (where generic SIMD code is ~100× slower) use the
    /// scalar search. `IQ4Tests` checks the two agree on every boundary case.
    @inline(__always) static func bestIndices32(_ val: UnsafePointer<Float>, _ s: Float, _ x: UnsafePointer<Float>,
                                                _ out: UnsafeMutablePointer<UInt8>) {
        #if DEBUG
        for j in 0 ..< 32 { out[j] = UInt8(truncatingIfNeeded: bestIndex(val, s * x[j])) }
        #else
        bestIndicesSIMD(val, s, x, out)
        #endif
    }

    /// `bestIndex(val, s·x[j])` for j in 0..<32, eight lanes at a time and branch-free, with the
    /// same result: the binary search ends at mu = c, the number of entries ≤ s·x (16 for NaN,
    /// whose comparisons all fail), and picks c − 1 or c by the same float comparison.
    @inline(__always) static func bestIndicesSIMD(_ val: UnsafePointer<Float>, _ s: Float, _ x: UnsafePointer<Float>,
                                                _ out: UnsafeMutablePointer<UInt8>) {
        let raw = UnsafeRawPointer(x)
        let one = SIMD8<Int32>(repeating: 1)
        for g in 0 ..< 4 {
            let al = SIMD8<Float>(repeating: s) * raw.loadUnaligned(fromByteOffset: 32 * g, as: SIMD8<Float>.self)
            var count = SIMD8<Int32>()
            var lo = SIMD8<Float>(repeating: val[0])
            var hi = SIMD8<Float>(repeating: val[15])
            for k in 0 ..< 16 {
                let vk = SIMD8<Float>(repeating: val[k])
                let below = al .< vk
                count &+= one.replacing(with: 0, where: below)
                lo.replace(with: vk, where: .!below)
            }
            for kk in 0 ..< 16 {
                let vk = SIMD8<Float>(repeating: val[15 - kk])
                hi.replace(with: vk, where: al .< vk)
            }
            // count − 1 where the lower neighbour is nearer. Below the table that gives −1 and
            // at or above its top (or NaN) 16: clamping gives the scalar early exits' 0 and 15.
            let idx = count &- one.replacing(with: 0, where: .!((al - lo) .< (hi - al)))
            for l in 0 ..< 8 {
                let i = idx[l]
                out[8 * g + l] = UInt8(truncatingIfNeeded: i < 0 ? 0 : i > 15 ? 15 : i)
            }
        }
    }

    /// `quantize_row_iq4_nl_impl(superBlockSize, 32, …, kvalues_iq4nl, qw, ntry = 7)` for
    /// IQ4_NL (superBlockSize 32) and IQ4_XS (256). Writes the F16 super-scale to `dh`, the
    /// packed indices to `q4`, and for IQ4_XS the 6-bit sub-block scales to `scalesH`/`scalesL`.
    /// `values` is the codebook as floats; `scales` (superBlockSize/32 floats), `weight`
    /// (32 floats) and `L` (superBlockSize + 32 bytes) are scratch.
    static func quantizeSuperBlock(_ superBlockSize: Int, _ x: UnsafePointer<Float>, _ dh: UnsafeMutablePointer<UInt8>,
                                   _ q4: UnsafeMutablePointer<UInt8>, _ scalesH: UnsafeMutablePointer<UInt8>?,
                                   _ scalesL: UnsafeMutablePointer<UInt8>?, _ scales: UnsafeMutablePointer<Float>,
                                   _ weight: UnsafeMutablePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                                   _ values: UnsafePointer<Float>, _ qw: UnsafePointer<Float>?) {
        let blockSize = 32
        let ntry = 7
        let Lt = L + superBlockSize
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
            var d = -max / values[0]  // ntry > 0
            var id = 1 / d
            var sumqx: Float = 0, sumq2: Float = 0
            bestIndices32(values, id, xb, Lb)
            for j in 0 ..< blockSize {
                let q = values[Int(Lb[j])]
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
                bestIndices32(values, id, xb, Lt)
                for j in 0 ..< blockSize {
                    let q = values[Int(Lt[j])]
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
                bestIndices32(values, idl, x + ib * blockSize, L + ib * blockSize)
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
            for j in stride(from: 0, to: superBlockSize, by: 32) { bestIndices32(values, id, x + j, L + j) }
        }

        for i in 0 ..< superBlockSize / 32 {
            for j in 0 ..< 16 {
                q4[16 * i + j] = L[32 * i + j] | (L[32 * i + 16 + j] << 4)
            }
        }
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int, _ qw: UnsafePointer<Float>?) {
        kvaluesF.withUnsafeBufferPointer { kv in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 33) { fs in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * blockSize) { bs in
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
        kvaluesF.withUnsafeBufferPointer { kv in
            for i in 0 ..< n / blockSize {
                let yb = y + i * blockBytes
                let d = KQuantHelpers.loadF16(yb)
                let xb = x + i * blockSize
                for j in 0 ..< 16 {
                    xb[j] = d * kv[Int(yb[2 + j] & 0xf)]
                    xb[j + 16] = d * kv[Int(yb[2 + j] >> 4)]
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n, w) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
