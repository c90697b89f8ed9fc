import QKCore

/// IQ3_S: 3.4375 bits per weight. Super-blocks of 256 weights: one F16 scale `d`; per group of 4
/// weights a 9-bit codebook index; 8 explicit sign bits per 8 weights; a 4-bit sub-scale per 32.
///
/// Layout per block (110 bytes): d (f16) | qs[64] (low 8 bits of the group indices) | qh[8] |
/// signs[32] | scales[4], where
/// - group `g` (weights 4g…4g+3) has index `qs[g] | ((qh[g/8] >> (g%8)) & 1) << 8` into
///   `IQGrids.iq3s`;
/// - `signs[b]` bit j set → weight 8b+j is negative;
/// - `scales[i]`: low nibble for weights 64i…64i+31, high nibble for the next 32.
///
/// Decoding: `db = d·(1 + 2·ls)`, `x = db · grid[j] · (±1)` (grid bytes ∈ {1, 3, …, 15}).
///
/// Quantization (ggml's `quantize_row_iq3_s_impl`, block size 32) works with or without
/// importance weights (without: w = x²). Per 32 weights, 19 trial scales snap each 4-group to the
/// grid or its best neighbour; if any group of the best trial was off-grid, all groups are
/// re-snapped with the final scale. The stored scale carries ggml's 1.033 fudge factor.
///
/// ggml quirk reproduced: a 32-group that is all zero is skipped *without* advancing the `qs`
/// and `signs` write positions, so the following groups' indices and signs land 8 (resp. 4)
/// bytes earlier (while `qh` and the scales stay in place).
enum IQ3_S {
    static let blockBytes = 110

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>?) {
        let index = IQGridIndex.iq3s
        let kgrid = index.grid, kmap = index.map
        let kMaxQ = 8
        let blockSize = 32, bs4 = 8, bs8 = 4
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(8, Float.self)
            let weight = s.take(32, Float.self)
            let xval = s.take(32, Float.self)
            let waux = s.take(32, Float.self)
            let L = s.take(32, Int8.self)
            let Laux = s.take(32, Int8.self)
            let isOnGrid = s.take(8, Bool.self)
            let isOnGridAux = s.take(8, Bool.self)
            let blockSigns = s.take(4, UInt8.self)

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                yb.storeBytes(of: iqF16(0), as: UInt16.self)
                var qs = yb + 2
                let qh = yb + 66
                var signs = yb + 74
                let sc = yb + 106
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
                    for i in 0 ..< blockSize { waux[i] = weight[i].squareRoot() }
                    for k in 0 ..< bs8 {
                        var sgn: UInt8 = 0
                        for i in 0 ..< 8 {
                            if xb[8 * k + i] >= 0 { xval[8 * k + i] = xb[8 * k + i] } else {
                                xval[8 * k + i] = -xb[8 * k + i]; sgn |= 1 << i
                            }
                        }
                        blockSigns[k] = sgn
                    }
                    var max = xval[0]
                    for i in 1 ..< blockSize { max = iqMax(max, xval[i]) }
                    L.initialize(repeating: 0, count: blockSize)
                    if max == 0 {
                        scales[ib] = 0
                        continue  // qs and signs are not advanced (ggml)
                    }
                    var best: Float = 0
                    var scale = max / Float(2 * kMaxQ - 1)
                    isOnGrid.initialize(repeating: false, count: bs4)
                    for isv in -9 ... 9 {
                        let id = (Float(2 * kMaxQ - 1) + Float(isv) * 0.2) / max
                        let thisScale = 1 / id
                        for k in 0 ..< bs4 {
                            for i in 0 ..< 4 {
                                let l = iqNearestInt(0.5 * (id * xval[4 * k + i] - 1))
                                Laux[4 * k + i] = Int8(iqMax(0, iqMin(kMaxQ - 1, l)))
                            }
                            var u = 0
                            for i in 0 ..< 4 { u |= Int(Laux[4 * k + i]) << (3 * i) }
                            isOnGridAux[k] = true
                            if kmap[u] < 0 {
                                isOnGridAux[k] = false
                                _ = index.bestNeighbour(u, xval + 4 * k, waux + 4 * k, thisScale, Laux + 4 * k)
                            }
                        }
                        var sumqx: Float = 0, sumq2: Float = 0
                        for i in 0 ..< blockSize {
                            let w = weight[i]
                            let q = Float(2 * Int(Laux[i]) + 1)
                            sumqx += w * xval[i] * q
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2; best = scale * sumqx
                            L.update(from: Laux, count: blockSize)
                            isOnGrid.update(from: isOnGridAux, count: bs4)
                        }
                    }
                    var nNotOnGrid = 0
                    for k in 0 ..< bs4 where !isOnGrid[k] { nNotOnGrid += 1 }
                    if nNotOnGrid > 0 && scale > 0 {
                        let id = 1 / scale
                        for k in 0 ..< bs4 {  // ggml re-snaps every group here, on-grid ones too
                            var u = 0
                            for i in 0 ..< 4 {
                                var l = iqNearestInt(0.5 * (id * xval[4 * k + i] - 1))
                                l = iqMax(0, iqMin(kMaxQ - 1, l))
                                u |= l << (3 * i)
                            }
                            var gridIndex = Int(kmap[u])
                            if gridIndex < 0 {
                                gridIndex = index.bestNeighbour(u, xval + 4 * k, waux + 4 * k, scale, L + 4 * k)
                            }
                            let pg = kgrid + gridIndex * 4
                            for i in 0 ..< 4 { L[4 * k + i] = (pg[i] - 1) / 2 }
                        }
                        var sumqx: Float = 0, sumq2: Float = 0
                        for i in 0 ..< blockSize {
                            let w = weight[i]
                            let q = Float(2 * Int(L[i]) + 1)
                            sumqx += w * xval[i] * q
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        scale = -scale
                        for k in 0 ..< bs8 { blockSigns[k] = ~blockSigns[k] }
                    }
                    for k in 0 ..< bs4 {
                        var u = 0
                        for i in 0 ..< 4 { u |= Int(L[4 * k + i]) << (3 * i) }
                        let gridIndex = Int(kmap[u])
                        if gridIndex < 0 { fatalError("IQ3_S: point \(u) not on grid (non-finite input?)") }  // GGML_ABORT
                        qs.storeBytes(of: UInt8(gridIndex & 255), toByteOffset: k, as: UInt8.self)
                        let g = ib * bs4 + k
                        let h = qh.load(fromByteOffset: g / 8, as: UInt8.self)
                        qh.storeBytes(of: h | UInt8((gridIndex >> 8) << (g % 8)), toByteOffset: g / 8, as: UInt8.self)
                    }
                    qs += bs4
                    for k in 0 ..< bs8 { signs.storeBytes(of: blockSigns[k], toByteOffset: k, as: UInt8.self) }
                    signs += bs8
                    scales[ib] = scale
                    maxScale = iqMax(maxScale, scale)
                }

                if maxScale == 0 { continue }
                let d = maxScale / 31
                yb.storeBytes(of: iqF16(d * 1.033), as: UInt16.self)
                let id = 1 / d
                for ib in stride(from: 0, to: 256 / blockSize, by: 2) {
                    var l1 = iqNearestInt(0.5 * (id * scales[ib + 0] - 1))
                    l1 = iqMax(0, iqMin(15, l1))
                    var l2 = iqNearestInt(0.5 * (id * scales[ib + 1] - 1))
                    l2 = iqMax(0, iqMin(15, l2))
                    sc.storeBytes(of: UInt8(l1 | (l2 << 4)), toByteOffset: ib / 2, as: UInt8.self)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq3s.withUnsafeBytes { grid in
            var out = x
            for i in 0 ..< n / 256 {
                let yb = y + i * blockBytes
                let d = HalfFloat.f32(f16: UInt16(littleEndian: yb.loadUnaligned(as: UInt16.self)))
                var qs = yb + 2, qh = yb + 66, signs = yb + 74
                let scales = yb + 106
                for ib32 in stride(from: 0, to: 8, by: 2) {
                    let sc = scales.load(fromByteOffset: ib32 / 2, as: UInt8.self)
                    let db1 = d * Float(1 + 2 * Int(sc & 0xf))
                    let db2 = d * Float(1 + 2 * Int(sc >> 4))
                    for half in 0 ..< 2 {
                        let db = half == 0 ? db1 : db2
                        let h = Int(qh.load(fromByteOffset: half, as: UInt8.self))
                        for l in 0 ..< 4 {
                            let g1 = (Int(qs.load(fromByteOffset: 2 * l, as: UInt8.self)) | ((h << (8 - 2 * l)) & 256)) * 4
                            let g2 = (Int(qs.load(fromByteOffset: 2 * l + 1, as: UInt8.self)) | ((h << (7 - 2 * l)) & 256)) * 4
                            let sg = signs.load(fromByteOffset: l, as: UInt8.self)
                            for j in 0 ..< 4 {
                                out[j + 0] = db * Float(grid[g1 + j]) * (sg & (1 << j) != 0 ? -1 : 1)
                                out[j + 4] = db * Float(grid[g2 + j]) * (sg & (1 << (j + 4)) != 0 ? -1 : 1)
                            }
                            out += 8
                        }
                        qs += 8
                        signs += 4
                    }
                    qh += 2
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst, n, w) },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) })
}
