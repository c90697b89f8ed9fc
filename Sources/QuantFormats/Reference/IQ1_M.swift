import QKCore

/// IQ1_M: 1.75 bits per weight. Super-blocks of 256 weights; per group of 8 weights an 11-bit
/// index into the ternary codebook (`IQGrids.iq1s`) and the sign of a shift `δ = ±0.125`; per 16
/// weights a 3-bit sub-scale; the F16 super-block scale is spread over the sub-scale words.
///
/// Layout per block (56 bytes): qs[32] (low 8 bits of the group indices) | qh[16] | sc[4] (u16,
/// little-endian), where
/// - `qh[m]` (m = 16-weight block) describes group 2m in its low nibble and group 2m+1 in its
///   high nibble: nibble bits 0…2 are the index's high 3 bits, bit 3 set → δ = −0.125;
/// - `sc[i]` bits 3m…3m+2 hold the sub-scale `ls` of 16-weight block 4i+m (m = 0…3), and bits
///   12…15 of sc[0…3] are, in order, the 4 nibbles of the F16 scale `d`.
///
/// Decoding: `dl = d·(2·ls + 1)`, `x = dl · (grid[j] + δ)` with grid bytes ∈ {−1, 0, 1}.
///
/// Quantization (ggml's `quantize_row_iq1_m_impl`): per 16 weights, the values are sorted and
/// every split into the three levels is scored exactly for all four δ-sign combinations of the
/// two 8-groups; the assignment is snapped to the grid (off-grid groups to their best
/// neighbour). The super-block scale is then refit over all sub-blocks and stored with ggml's
/// 1.1125 fudge factor. Without importance weights, w = x². (ggml itself accepts IQ1_M without
/// weights — `ggml_quantize_requires_imatrix` is false for it — although llama.cpp's model-level
/// quantizer insists on an imatrix for IQ1_M tensors other than token_embd/output.)
enum IQ1_M {
    static let blockBytes = 56
    static let delta: Float = 0.125  // IQ1M_DELTA

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>?) {
        let index = IQGridIndex.iq1s
        let kgrid = index.grid, kmap = index.map
        let blockSize = 16
        let masks: (UInt8, UInt8, UInt8, UInt8) = (0x00, 0x80, 0x08, 0x88)
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(16, Float.self)
            let weight = s.take(16, Float.self)
            let sorted = s.take(16, Float.self)
            let idx = s.take(16, Int32.self)
            let L = s.take(16, Int8.self)
            let gindex = s.take(2, Int.self)
            let shifts = s.take(16, Int8.self)
            let px = s.take(2 * 17, Float.self), pw = s.take(2 * 17, Float.self)  // [h][j]
            let xp = s.take(3, Float.self), xm = s.take(3, Float.self)
            xp[0] = -1 + delta; xp[1] = delta; xp[2] = 1 + delta
            xm[0] = -1 - delta; xm[1] = -delta; xm[2] = 1 - delta
            let p2 = xp[2], m2 = xm[2]
            let cp1 = xp[0] * xp[0] - xp[1] * xp[1]
            let cp2 = xp[1] * xp[1] - xp[2] * xp[2]
            let cm1 = xm[0] * xm[0] - xm[1] * xm[1]
            let cm2 = xm[1] * xm[1] - xm[2] * xm[2]
            /// The level values of group k (0 or 1) of a 16-block with shift combination `bestK`.
            @inline(__always) func levels(_ k: Int, _ bestK: Int) -> UnsafeMutablePointer<Float> {
                k == 0 ? (bestK < 2 ? xp : xm) : (bestK % 2 == 0 ? xp : xm)
            }

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                let qs = yb, qh = yb + 32, sc = yb + 48
                var maxScale: Float = 0

                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0 ..< 256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256

                for ib in 0 ..< 256 / blockSize {
                    let xb = xbl + blockSize * ib
                    if let quantWeights {
                        let qw = quantWeights + 256 * ibl + blockSize * ib
                        for i in 0 ..< blockSize { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0 ..< blockSize { weight[i] = xb[i] * xb[i] }
                    }
                    var max = abs(xb[0])
                    for i in 1 ..< blockSize { max = iqMax(max, abs(xb[i])) }
                    if max < 1e-7 {  // GROUP_MAX_EPS_IQ1_M
                        scales[ib] = 0
                        shifts[ib] = 0
                        L.initialize(repeating: 1, count: blockSize)
                        continue
                    }
                    for j in 0 ..< blockSize { sorted[j] = xb[j]; idx[j] = Int32(j) }
                    iqStableSortPairs(sorted, idx, blockSize)
                    var bestScore = -Float.greatestFiniteMagnitude, scale = max
                    var besti1 = -1, besti2 = -1, bestK = -1
                    // Prefix sums per half (each half may use its own δ sign): the 3-group sums
                    // for a split collapse to T·v[2] − px[i1] − px[i2].
                    px[0] = 0; px[17] = 0; pw[0] = 0; pw[17] = 0
                    for j in 0 ..< blockSize {
                        let i = Int(idx[j])
                        let h = i < blockSize / 2 ? 0 : 1
                        px[17 * h + j + 1] = px[17 * h + j] + weight[i] * xb[i]
                        px[17 * (1 - h) + j + 1] = px[17 * (1 - h) + j]
                        pw[17 * h + j + 1] = pw[17 * h + j] + weight[i]
                        pw[17 * (1 - h) + j + 1] = pw[17 * (1 - h) + j]
                    }
                    let txs0 = px[blockSize], txs1 = px[17 + blockSize]
                    let tws0 = pw[blockSize], tws1 = pw[17 + blockSize]
                    for i1 in 0 ... blockSize {
                        for i2 in i1 ... blockSize {
                            let sx0 = px[i1] + px[i2]
                            let qxp0 = txs0 * p2 - sx0, qxm0 = txs0 * m2 - sx0
                            let q2p0 = tws0 * p2 * p2 + pw[i1] * cp1 + pw[i2] * cp2
                            let q2m0 = tws0 * m2 * m2 + pw[i1] * cm1 + pw[i2] * cm2
                            let sx1 = px[17 + i1] + px[17 + i2]
                            let qxp1 = txs1 * p2 - sx1, qxm1 = txs1 * m2 - sx1
                            let q2p1 = tws1 * p2 * p2 + pw[17 + i1] * cp1 + pw[17 + i2] * cp2
                            let q2m1 = tws1 * m2 * m2 + pw[17 + i1] * cm1 + pw[17 + i2] * cm2
                            let sumqx = (qxp0 + qxp1, qxp0 + qxm1, qxm0 + qxp1, qxm0 + qxm1)
                            let sumq2 = (q2p0 + q2p1, q2p0 + q2m1, q2m0 + q2p1, q2m0 + q2m1)
                            for k in 0 ..< 4 {
                                let qx: Float, q2: Float
                                switch k {
                                case 0: (qx, q2) = (sumqx.0, sumq2.0)
                                case 1: (qx, q2) = (sumqx.1, sumq2.1)
                                case 2: (qx, q2) = (sumqx.2, sumq2.2)
                                default: (qx, q2) = (sumqx.3, sumq2.3)
                                }
                                if q2 > 0 && qx * qx > bestScore * q2 {
                                    scale = qx / q2; bestScore = scale * qx
                                    besti1 = i1; besti2 = i2; bestK = k
                                }
                            }
                        }
                    }
                    if besti1 < 0 || besti2 < 0 || bestK < 0 {
                        scales[ib] = 0
                        shifts[ib] = 0
                        L.initialize(repeating: 1, count: blockSize)
                        continue
                    }
                    for j in 0 ..< besti1 { L[Int(idx[j])] = 0 }
                    for j in besti1 ..< besti2 { L[Int(idx[j])] = 1 }
                    for j in besti2 ..< blockSize { L[Int(idx[j])] = 2 }
                    if scale < 0 {
                        for j in 0 ..< blockSize { L[j] = 2 - L[j] }
                        scale = -scale
                        bestK = 3 - bestK  // 0↔3, 1↔2
                    }
                    var allOnGrid = true
                    for k in 0 ..< blockSize / 8 {
                        let xx = levels(k, bestK)
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
                        var sumqxF: Float = 0, sumq2F: Float = 0
                        for k in 0 ..< blockSize / 8 {
                            let xx = levels(k, bestK)
                            let pg = kgrid + gindex[k] * 8
                            for j in 0 ..< 8 {
                                let w = weight[8 * k + j]
                                let q = xx[Int((pg[j] - 1) / 2)]
                                sumqxF += w * q * xb[8 * k + j]
                                sumq2F += w * q * q
                            }
                        }
                        if sumqxF > 0 && sumq2F > 0 { scale = sumqxF / sumq2F }
                    }
                    qs.storeBytes(of: UInt8(gindex[0] & 255), toByteOffset: 2 * ib + 0, as: UInt8.self)
                    qs.storeBytes(of: UInt8(gindex[1] & 255), toByteOffset: 2 * ib + 1, as: UInt8.self)
                    qh.storeBytes(of: UInt8((gindex[0] >> 8) | ((gindex[1] >> 8) << 4)), toByteOffset: ib, as: UInt8.self)
                    scales[ib] = scale
                    shifts[ib] = Int8(bestK)
                    maxScale = iqMax(maxScale, scale)
                }

                if maxScale == 0 { continue }
                var d = maxScale / 15
                let id = 1 / d
                var sumqxF: Float = 0, sumq2F: Float = 0
                for ib in 0 ..< 256 / blockSize {
                    var l = iqNearestInt(0.5 * (id * scales[ib + 0] - 1))
                    l = iqMax(0, iqMin(7, l))
                    let w16 = UInt16(littleEndian: sc.loadUnaligned(fromByteOffset: 2 * (ib / 4), as: UInt16.self))
                    sc.storeBytes(of: (w16 | UInt16(l << (3 * (ib % 4)))).littleEndian, toByteOffset: 2 * (ib / 4), as: UInt16.self)
                    let mask: UInt8
                    switch shifts[ib] {
                    case 0: mask = masks.0
                    case 1: mask = masks.1
                    case 2: mask = masks.2
                    default: mask = masks.3
                    }
                    let qhb = qh.load(fromByteOffset: ib, as: UInt8.self) | mask
                    qh.storeBytes(of: qhb, toByteOffset: ib, as: UInt8.self)
                    let xb = xbl + blockSize * ib
                    if let quantWeights {
                        let qw = quantWeights + 256 * ibl + blockSize * ib
                        for i in 0 ..< blockSize { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0 ..< blockSize { weight[i] = xb[i] * xb[i] }
                    }
                    for k in 0 ..< blockSize / 8 {
                        let xx = levels(k, Int(shifts[ib]))
                        let g = Int(qs.load(fromByteOffset: 2 * ib + k, as: UInt8.self)) + ((Int(qhb) << (8 - 4 * k)) & 0x700)
                        let pg = kgrid + g * 8
                        for j in 0 ..< 8 {
                            let w = weight[8 * k + j]
                            let q = xx[Int((pg[j] - 1) / 2)] * Float(2 * l + 1)
                            sumqxF += w * q * xb[8 * k + j]
                            sumq2F += w * q * q
                        }
                    }
                }
                if sumq2F > 0 { d = sumqxF / sumq2F }
                let s16 = iqF16(d * 1.1125)
                for i in 0 ..< 4 {
                    let w16 = UInt16(littleEndian: sc.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    let nibble = (s16 >> (4 * i)) & 0xf
                    sc.storeBytes(of: (w16 | nibble << 12).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq1s.withUnsafeBytes { grid in
            var out = x
            for i in 0 ..< n / 256 {
                let yb = y + i * blockBytes
                var sc: (UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0)
                withUnsafeMutableBytes(of: &sc) { $0.copyMemory(from: UnsafeRawBufferPointer(start: yb + 48, count: 8)) }
                sc = (UInt16(littleEndian: sc.0), UInt16(littleEndian: sc.1), UInt16(littleEndian: sc.2), UInt16(littleEndian: sc.3))
                let bits = (sc.0 >> 12) | ((sc.1 >> 8) & 0x00f0) | ((sc.2 >> 4) & 0x0f00) | (sc.3 & 0xf000)
                let d = HalfFloat.f32(f16: bits)
                for ib in 0 ..< 8 {
                    let s = Int(ib / 2 == 0 ? sc.0 : ib / 2 == 1 ? sc.1 : ib / 2 == 2 ? sc.2 : sc.3)
                    let dl1 = d * Float(2 * ((s >> (6 * (ib % 2) + 0)) & 0x7) + 1)
                    let dl2 = d * Float(2 * ((s >> (6 * (ib % 2) + 3)) & 0x7) + 1)
                    let h0 = Int(yb.load(fromByteOffset: 32 + 2 * ib, as: UInt8.self))
                    let h1 = Int(yb.load(fromByteOffset: 33 + 2 * ib, as: UInt8.self))
                    for l in 0 ..< 4 {
                        let h = l < 2 ? h0 : h1
                        let g = (Int(yb.load(fromByteOffset: 4 * ib + l, as: UInt8.self))
                                 | ((l % 2 == 0 ? h << 8 : h << 4) & 0x700)) * 8
                        let dlt: Float = h & (l % 2 == 0 ? 0x08 : 0x80) != 0 ? -delta : delta
                        let dl = l < 2 ? dl1 : dl2
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
        quantize: { src, dst, n, w in quantizeRow(src, dst, n, w) },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) })
}
