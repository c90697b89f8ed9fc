import QKCore

/// IQ1_S: 1.5625 bits per weight. Super-blocks of 256 weights: one F16 scale `d`; per group of 8
/// weights an 11-bit index into a ternary codebook; per 32 weights a 3-bit sub-scale and the
/// sign of a shift `δ = ±0.125`.
///
/// Layout per block (50 bytes): d (f16) | qs[32] (low 8 bits of the group indices) |
/// qh[8] (u16, little-endian), one per 32 weights: bits 3l…3l+2 are the high 3 bits of group l's
/// index, bits 12…14 the sub-scale `ls`, bit 15 set → δ = −0.125.
///
/// Decoding: `dl = d·(2·ls + 1)`, `x = dl · (grid[j] + δ)` with grid bytes ∈ {−1, 0, 1}
/// (`IQGrids.iq1s`).
///
/// Quantization (ggml's `quantize_row_iq1_s_impl`) needs importance weights. Per 32 weights the
/// values are sorted and every split into the three levels {−1, 0, 1} + δ is scored exactly
/// (both signs of δ); the best assignment is snapped to the grid, off-grid groups to their best
/// neighbour. The stored scale carries ggml's 1.125 fudge factor. The sort is stable (equal
/// values keep their order), as glibc's `qsort` is for arrays this small.
enum IQ1_S {
    static let blockBytes = 50
    static let delta: Float = 0.125  // IQ1S_DELTA

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>) {
        let index = IQGridIndex.iq1s
        let kgrid = index.grid, kmap = index.map
        let blockSize = 32
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(8, Float.self)
            let weight = s.take(32, Float.self)
            let sumx = s.take(33, Float.self)
            let sumw = s.take(33, Float.self)
            let sorted = s.take(32, Float.self)
            let idx = s.take(32, Int32.self)
            let L = s.take(32, Int8.self)
            let gindex = s.take(4, Int.self)
            let shifts = s.take(8, Int8.self)
            let xp = s.take(3, Float.self), xm = s.take(3, Float.self)
            xp[0] = -1 + delta; xp[1] = delta; xp[2] = 1 + delta
            xm[0] = -1 - delta; xm[1] = -delta; xm[2] = 1 - delta

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                yb.storeBytes(of: iqF16(0), as: UInt16.self)
                let qs = yb + 2, qh = yb + 34
                var maxScale: Float = 0

                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0 ..< 256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256

                for ib in 0 ..< 256 / blockSize {
                    let xb = xbl + blockSize * ib
                    let qw = quantWeights + 256 * ibl + blockSize * ib
                    for i in 0 ..< blockSize { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    var max = abs(xb[0])
                    for i in 1 ..< blockSize { max = iqMax(max, abs(xb[i])) }
                    if max < 1e-12 {  // GROUP_MAX_EPS_IQ1_S
                        scales[ib] = 0
                        shifts[ib] = 1
                        L.initialize(repeating: 1, count: blockSize)
                        continue
                    }
                    // Exact weighted least squares over the 3 levels: sort, prefix sums, try
                    // every pair of split points.
                    for j in 0 ..< blockSize { sorted[j] = xb[j]; idx[j] = Int32(j) }
                    iqStableSortPairs(sorted, idx, blockSize)
                    sumx[0] = 0; sumw[0] = 0
                    for j in 0 ..< blockSize {
                        let i = Int(idx[j])
                        sumx[j + 1] = sumx[j] + weight[i] * xb[i]
                        sumw[j + 1] = sumw[j] + weight[i]
                    }
                    var bestScore = -Float.greatestFiniteMagnitude, scale = max
                    var besti1 = -1, besti2 = -1, bestShift = 0
                    for i1 in 0 ... blockSize {
                        for i2 in i1 ... blockSize {
                            var sumqx = (sumx[i1] - sumx[0]) * xp[0] + (sumx[i2] - sumx[i1]) * xp[1]
                                + (sumx[blockSize] - sumx[i2]) * xp[2]
                            var sumq2 = (sumw[i1] - sumw[0]) * xp[0] * xp[0] + (sumw[i2] - sumw[i1]) * xp[1] * xp[1]
                                + (sumw[blockSize] - sumw[i2]) * xp[2] * xp[2]
                            if sumq2 > 0 && sumqx * sumqx > bestScore * sumq2 {
                                scale = sumqx / sumq2; bestScore = scale * sumqx
                                besti1 = i1; besti2 = i2; bestShift = 1
                            }
                            sumqx = (sumx[i1] - sumx[0]) * xm[0] + (sumx[i2] - sumx[i1]) * xm[1]
                                + (sumx[blockSize] - sumx[i2]) * xm[2]
                            sumq2 = (sumw[i1] - sumw[0]) * xm[0] * xm[0] + (sumw[i2] - sumw[i1]) * xm[1] * xm[1]
                                + (sumw[blockSize] - sumw[i2]) * xm[2] * xm[2]
                            if sumq2 > 0 && sumqx * sumqx > bestScore * sumq2 {
                                scale = sumqx / sumq2; bestScore = scale * sumqx
                                besti1 = i1; besti2 = i2; bestShift = -1
                            }
                        }
                    }
                    if besti1 < 0 || besti2 < 0 || bestShift == 0 {
                        scales[ib] = 0
                        shifts[ib] = 1
                        L.initialize(repeating: 1, count: blockSize)
                        continue
                    }
                    for j in 0 ..< besti1 { L[Int(idx[j])] = 0 }
                    for j in besti1 ..< besti2 { L[Int(idx[j])] = 1 }
                    for j in besti2 ..< blockSize { L[Int(idx[j])] = 2 }
                    if scale < 0 {
                        for j in 0 ..< blockSize { L[j] = 2 - L[j] }
                        scale = -scale; bestShift = -bestShift
                    }
                    var allOnGrid = true
                    let xx = bestShift == 1 ? xp : xm
                    for k in 0 ..< blockSize / 8 {
                        var u = 0
                        for j in 0 ..< 8 { u |= Int(L[8 * k + j]) << (2 * j) }
                        var gridIndex = Int(kmap[u])
                        if gridIndex < 0 {
                            allOnGrid = false
                            let at = 256 * ibl + blockSize * ib + 8 * k
                            gridIndex = index.bestNeighbour1(u, xb + 8 * k, n - at, weight + 8 * k, scale, xx, L + 8 * k)
                        }
                        gindex[k] = gridIndex
                    }
                    if !allOnGrid {
                        var sumqx: Float = 0, sumq2: Float = 0
                        for k in 0 ..< blockSize / 8 {
                            let pg = kgrid + gindex[k] * 8
                            for j in 0 ..< 8 {
                                let w = weight[8 * k + j]
                                let q = xx[Int((pg[j] - 1) / 2)]
                                sumqx += w * q * xb[8 * k + j]
                                sumq2 += w * q * q
                            }
                        }
                        if sumqx > 0 && sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    var h: UInt16 = 0
                    for k in 0 ..< blockSize / 8 {
                        qs.storeBytes(of: UInt8(gindex[k] & 255), toByteOffset: (blockSize / 8) * ib + k, as: UInt8.self)
                        h |= UInt16(gindex[k] >> 8) << (3 * k)
                    }
                    qh.storeBytes(of: h.littleEndian, toByteOffset: 2 * ib, as: UInt16.self)
                    scales[ib] = scale
                    shifts[ib] = Int8(bestShift)
                    maxScale = iqMax(maxScale, scale)
                }

                if maxScale == 0 { continue }
                let d = maxScale / 15
                yb.storeBytes(of: iqF16(d * 1.125), as: UInt16.self)
                let id = 1 / d
                for ib in 0 ..< 256 / blockSize {
                    var l = iqNearestInt(0.5 * (id * scales[ib] - 1))
                    l = iqMax(0, iqMin(7, l))
                    if shifts[ib] == -1 { l |= 8 }
                    let h = UInt16(littleEndian: qh.loadUnaligned(fromByteOffset: 2 * ib, as: UInt16.self))
                    qh.storeBytes(of: (h | UInt16(l) << 12).littleEndian, toByteOffset: 2 * ib, as: UInt16.self)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq1s.withUnsafeBytes { grid in
            var out = x
            for i in 0 ..< n / 256 {
                let yb = y + i * blockBytes
                let d = HalfFloat.f32(f16: UInt16(littleEndian: yb.loadUnaligned(as: UInt16.self)))
                let qs = yb + 2, qh = yb + 34
                for ib in 0 ..< 8 {
                    let h = Int(UInt16(littleEndian: qh.loadUnaligned(fromByteOffset: 2 * ib, as: UInt16.self)))
                    let dl = d * Float(2 * ((h >> 12) & 7) + 1)
                    let dlt: Float = h & 0x8000 != 0 ? -delta : delta
                    for l in 0 ..< 4 {
                        let g = (Int(qs.load(fromByteOffset: 4 * ib + l, as: UInt8.self)) | (((h >> (3 * l)) & 7) << 8)) * 8
                        for j in 0 ..< 8 {
                            out[j] = dl * (Float(Int8(bitPattern: grid[g + j])) + dlt)
                        }
                        out += 8
                    }
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            guard let w else { fatalError("IQ1_S requires importance weights") }
            quantizeRow(src, dst, n, w)
        },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) },
        requiresImportance: true)
}
