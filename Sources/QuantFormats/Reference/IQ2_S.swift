import QKCore

/// IQ2_S: 2.5625 bits per weight. Super-blocks of 256 weights: one F16 scale `d`; per group of 8
/// weights a 10-bit codebook index and 8 explicit sign bits; per 16 weights a 4-bit sub-scale.
///
/// Layout per block (82 bytes): d (f16) | qs[32] (low 8 bits of the 32 group indices) |
/// signs[32] (one byte per group, bit j set → weight j negative) | qh[8] | scales[8], where
/// - group `g = 4·ib32 + l` has index `qs[g] | ((qh[ib32] >> 2l) & 3) << 8` into `IQGrids.iq2s`;
/// - `scales[ib32]`: low nibble for groups 4·ib32, +1; high nibble for groups 4·ib32+2, +3.
///
/// Decoding: `db = d·(0.5 + ls)·0.25`, `x = db · grid[j] · (±1)` (grid bytes ∈ {8, 25, 43}).
///
/// Quantization (ggml's `quantize_row_iq2_s_impl`): works with or without importance weights
/// (without: w = σ²/4 + x², σ² = 2·mean(x²)). Per 16 weights, 19 trial scales snap each 8-group
/// to the grid or its nearest neighbour; off-grid groups of the best trial are re-snapped.
enum IQ2_S {
    static let blockBytes = 82

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>?) {
        let index = IQGridIndex.iq2s
        let kmap = index.map
        let kMaxQ = 3
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(16, Float.self)
            let weight = s.take(16, Float.self)
            let xval = s.take(16, Float.self)
            let waux = s.take(16, Float.self)
            let L = s.take(16, Int8.self)
            let Laux = s.take(16, Int8.self)
            var isOnGrid = (true, true), isOnGridAux = (true, true)
            var blockSigns: (UInt8, UInt8) = (0, 0)

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.initializeMemory(as: UInt8.self, repeating: 0, count: blockBytes)
                yb.storeBytes(of: iqF16(0), as: UInt16.self)
                let qs = yb + 2, qh = yb + 66, sc = yb + 74
                var maxScale: Float = 0

                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0 ..< 256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256

                for ib in 0 ..< 16 {
                    let xb = xbl + 16 * ib
                    if let quantWeights {
                        let qw = quantWeights + 256 * ibl + 16 * ib
                        for i in 0 ..< 16 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0 ..< 16 { weight[i] = 0.25 * sigma2 + xb[i] * xb[i] }
                    }
                    for i in 0 ..< 16 { waux[i] = weight[i].squareRoot() }
                    for k in 0 ..< 2 {
                        var sgn: UInt8 = 0
                        for i in 0 ..< 8 {
                            if xb[8 * k + i] >= 0 { xval[8 * k + i] = xb[8 * k + i] } else {
                                xval[8 * k + i] = -xb[8 * k + i]; sgn |= 1 << i
                            }
                        }
                        if k == 0 { blockSigns.0 = sgn } else { blockSigns.1 = sgn }
                    }
                    var max = xval[0]
                    for i in 1 ..< 16 { max = iqMax(max, xval[i]) }
                    L.initialize(repeating: 0, count: 16)
                    if max < 1e-8 {  // GROUP_MAX_EPS_IQ2_S
                        scales[ib] = 0
                        continue
                    }
                    var best: Float = 0
                    var scale = max / Float(2 * kMaxQ - 1)
                    isOnGrid = (true, true)
                    for isv in -9 ... 9 {
                        let id = (Float(2 * kMaxQ - 1) + Float(isv) * 0.1) / max
                        let thisScale = 1 / id
                        for k in 0 ..< 2 {
                            for i in 0 ..< 8 {
                                let l = iqNearestInt(0.5 * (id * xval[8 * k + i] - 1))
                                Laux[8 * k + i] = Int8(iqMax(0, iqMin(kMaxQ - 1, l)))
                            }
                            var u = 0
                            for i in 0 ..< 8 { u |= Int(Laux[8 * k + i]) << (2 * i) }
                            var onGrid = true
                            if kmap[u] < 0 {
                                onGrid = false
                                _ = index.bestNeighbour(u, xval + 8 * k, waux + 8 * k, thisScale, Laux + 8 * k)
                            }
                            if k == 0 { isOnGridAux.0 = onGrid } else { isOnGridAux.1 = onGrid }
                        }
                        var sumqx: Float = 0, sumq2: Float = 0
                        for i in 0 ..< 16 {
                            let w = weight[i]
                            let q = Float(2 * Int(Laux[i]) + 1)
                            sumqx += w * xval[i] * q
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2; best = scale * sumqx
                            L.update(from: Laux, count: 16)
                            isOnGrid = isOnGridAux
                        }
                    }
                    let nNotOnGrid = (isOnGrid.0 ? 0 : 1) + (isOnGrid.1 ? 0 : 1)
                    if nNotOnGrid > 0 && scale > 0 {
                        let id = 1 / scale
                        for k in 0 ..< 2 {
                            if k == 0 ? isOnGrid.0 : isOnGrid.1 { continue }
                            var u = 0
                            for i in 0 ..< 8 {
                                var l = iqNearestInt(0.5 * (id * xval[8 * k + i] - 1))
                                l = iqMax(0, iqMin(kMaxQ - 1, l))
                                u |= l << (2 * i)
                                L[8 * k + i] = Int8(l)
                            }
                            if kmap[u] < 0 {
                                _ = index.bestNeighbour(u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k)
                            }
                        }
                        var sumqx: Float = 0, sumq2: Float = 0
                        for i in 0 ..< 16 {
                            let w = weight[i]
                            let q = Float(2 * Int(L[i]) + 1)
                            sumqx += w * xval[i] * q
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        scale = -scale
                        blockSigns = (~blockSigns.0, ~blockSigns.1)
                    }
                    for k in 0 ..< 2 {
                        var u = 0
                        for i in 0 ..< 8 { u |= Int(L[8 * k + i]) << (2 * i) }
                        let gridIndex = Int(kmap[u])
                        if gridIndex < 0 { fatalError("IQ2_S: point \(u) not on grid (non-finite input?)") }  // GGML_ABORT
                        let i8 = 2 * ib + k
                        qs.storeBytes(of: UInt8(gridIndex & 255), toByteOffset: i8, as: UInt8.self)
                        let h = qh.load(fromByteOffset: i8 / 4, as: UInt8.self)
                        qh.storeBytes(of: h | UInt8((gridIndex >> 8) << (2 * (i8 % 4))), toByteOffset: i8 / 4, as: UInt8.self)
                        qs.storeBytes(of: k == 0 ? blockSigns.0 : blockSigns.1, toByteOffset: 32 + i8, as: UInt8.self)
                    }
                    scales[ib] = scale
                    maxScale = iqMax(maxScale, scale)
                }

                if maxScale == 0 { continue }
                let d = maxScale / 31
                yb.storeBytes(of: iqF16(d * 0.9875), as: UInt16.self)
                let id = 1 / d
                for ib in 0 ..< 16 {
                    var l = iqNearestInt(0.5 * (id * scales[ib] - 1))
                    l = iqMax(0, iqMin(15, l))
                    if ib % 2 == 0 {
                        sc.storeBytes(of: UInt8(l), toByteOffset: ib / 2, as: UInt8.self)
                    } else {
                        sc.storeBytes(of: sc.load(fromByteOffset: ib / 2, as: UInt8.self) | UInt8(l) << 4, toByteOffset: ib / 2, as: UInt8.self)
                    }
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq2s.withUnsafeBytes { grid in
            var out = x
            for i in 0 ..< n / 256 {
                let yb = y + i * blockBytes
                let d = HalfFloat.f32(f16: UInt16(littleEndian: yb.loadUnaligned(as: UInt16.self)))
                let qs = yb + 2, signs = yb + 34, qh = yb + 66, scales = yb + 74
                for ib32 in 0 ..< 8 {
                    let sc = scales.load(fromByteOffset: ib32, as: UInt8.self)
                    let db0 = d * (0.5 + Float(sc & 0xf)) * 0.25
                    let db1 = d * (0.5 + Float(sc >> 4)) * 0.25
                    let h = Int(qh.load(fromByteOffset: ib32, as: UInt8.self))
                    for l in 0 ..< 4 {
                        let dl = l < 2 ? db0 : db1
                        let g = (Int(qs.load(fromByteOffset: 4 * ib32 + l, as: UInt8.self)) | (h << (8 - 2 * l) & 0x300)) * 8
                        let sg = signs.load(fromByteOffset: 4 * ib32 + l, as: UInt8.self)
                        for j in 0 ..< 8 {
                            out[j] = dl * Float(grid[g + j]) * (sg & (1 << j) != 0 ? -1 : 1)
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
