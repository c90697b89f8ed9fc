import QKCore

/// IQ3_XXS: 3.0625 bits per weight. Super-blocks of 256 weights: one F16 scale `d`; per group of
/// 4 weights an 8-bit codebook index; per 8 weights a 7-bit sign code; per 32 a 4-bit sub-scale.
///
/// Layout per block (98 bytes): d (f16) | qs[64] (group indices into `IQGrids.iq3xxs`) |
/// 8 × u32 little-endian `aux` (one per 32 weights): bits 7l…7l+6 the sign code of weights
/// 8l…8l+7 (signs = `ksignsIQ2XS[code]`, bit j set → negative), bits 28…31 the sub-scale `ls`.
///
/// Decoding: `db = d·(0.5 + ls)·0.5`, `x = db · grid[j] · (±1)` (grid bytes ∈ {4, 12, …, 52, 62}).
///
/// Quantization (ggml's `quantize_row_iq3_xxs_impl` with the 256-point grid) works with or
/// without importance weights (without: w = x²). Per 32 weights, signs are taken out (an even
/// number of negatives per 8, flipping the least important), 31 trial scales snap each 4-group
/// to the grid or its best neighbour, and off-grid groups of the best trial are re-snapped.
/// The stored scale carries ggml's 1.0125 fudge factor.
enum IQ3_XXS {
    static let blockBytes = 98

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>?) {
        let index = IQGridIndex.iq3xxs
        let kgrid = index.grid, kmap = index.map
        let kMaxQ = 8
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(8, Float.self)
            let weight = s.take(32, Float.self)
            let xval = s.take(32, Float.self)
            let waux = s.take(32, Float.self)
            let L = s.take(32, Int8.self)
            let Laux = s.take(32, Int8.self)
            let isOnGrid = s.take(8, Bool.self)
            let isOnGridAux = s.take(8, Bool.self)
            let blockSigns = s.take(8, UInt8.self)
            let q3 = s.take(96, UInt8.self)  // qs[64] then 8 × u32 scales_and_signs
            let scalesAndSigns = s.take(8, UInt32.self)

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.storeBytes(of: iqF16(0), as: UInt16.self)
                q3.initialize(repeating: 0, count: 64)
                scalesAndSigns.initialize(repeating: 0, count: 8)
                var maxScale: Float = 0

                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0 ..< 256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = 2 * sumx2 / 256

                for ib in 0 ..< 8 {
                    let xb = xbl + 32 * ib
                    if let quantWeights {
                        let qw = quantWeights + 256 * ibl + 32 * ib
                        for i in 0 ..< 32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    } else {
                        for i in 0 ..< 32 { weight[i] = xb[i] * xb[i] }
                    }
                    for i in 0 ..< 32 { waux[i] = weight[i].squareRoot() }
                    for k in 0 ..< 4 {
                        var nflip = 0
                        var sgn: UInt8 = 0
                        for i in 0 ..< 8 {
                            if xb[8 * k + i] >= 0 { xval[8 * k + i] = xb[8 * k + i] } else {
                                xval[8 * k + i] = -xb[8 * k + i]; nflip += 1; sgn |= 1 << i
                            }
                        }
                        if nflip % 2 != 0 {
                            var imin = 0
                            var min = weight[8 * k] * xb[8 * k] * xb[8 * k]
                            for i in 1 ..< 8 {
                                let ax = weight[8 * k + i] * xb[8 * k + i] * xb[8 * k + i]
                                if ax < min { min = ax; imin = i }
                            }
                            xval[8 * k + imin] = -xval[8 * k + imin]
                            sgn ^= 1 << imin
                        }
                        blockSigns[k] = sgn & 127
                    }
                    var max = xval[0]
                    for i in 1 ..< 32 { max = iqMax(max, xval[i]) }
                    L.initialize(repeating: 0, count: 32)
                    if max < 1e-8 {  // GROUP_MAX_EPS_IQ3_XXS
                        scales[ib] = 0
                        continue
                    }
                    var best: Float = 0
                    var scale = max / Float(2 * kMaxQ - 1)
                    isOnGrid.initialize(repeating: true, count: 8)
                    for isv in -15 ... 15 {
                        let id = (Float(2 * kMaxQ - 1) + Float(isv) * 0.2) / max
                        let thisScale = 1 / id
                        for k in 0 ..< 8 {
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
                        for i in 0 ..< 32 {
                            let w = weight[i]
                            let q = Float(2 * Int(Laux[i]) + 1)
                            sumqx += w * xval[i] * q
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            scale = sumqx / sumq2; best = scale * sumqx
                            L.update(from: Laux, count: 32)
                            isOnGrid.update(from: isOnGridAux, count: 8)
                        }
                    }
                    var nNotOnGrid = 0
                    for k in 0 ..< 8 where !isOnGrid[k] { nNotOnGrid += 1 }
                    if nNotOnGrid > 0 && scale > 0 {
                        let id = 1 / scale
                        for k in 0 ..< 8 {
                            if isOnGrid[k] { continue }
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
                        for i in 0 ..< 32 {
                            let w = weight[i]
                            let q = Float(2 * Int(L[i]) + 1)
                            sumqx += w * xval[i] * q
                            sumq2 += w * q * q
                        }
                        if sumq2 > 0 { scale = sumqx / sumq2 }
                    }
                    if scale < 0 {
                        // ggml: "should never happen"; flip the scale and the signs.
                        scale = -scale
                        for k in 0 ..< 4 { blockSigns[k] = ~blockSigns[k] & 127 }
                    }
                    for k in 0 ..< 8 {
                        var u = 0
                        for i in 0 ..< 4 { u |= Int(L[4 * k + i]) << (3 * i) }
                        let gridIndex = Int(kmap[u])
                        if gridIndex < 0 { fatalError("IQ3_XXS: point \(u) not on grid (non-finite input?)") }  // GGML_ABORT
                        q3[8 * ib + k] = UInt8(gridIndex)
                    }
                    scalesAndSigns[ib] = UInt32(blockSigns[0]) | UInt32(blockSigns[1]) << 7
                        | UInt32(blockSigns[2]) << 14 | UInt32(blockSigns[3]) << 21
                    scales[ib] = scale
                    maxScale = iqMax(maxScale, scale)
                }

                if maxScale == 0 {
                    (yb + 2).initializeMemory(as: UInt8.self, repeating: 0, count: 96)
                    continue
                }
                let d = maxScale / 31
                yb.storeBytes(of: iqF16(d * 1.0125), as: UInt16.self)
                let id = 1 / d
                for ib in 0 ..< 8 {
                    var l = iqNearestInt(0.5 * (id * scales[ib] - 1))
                    l = iqMax(0, iqMin(15, l))
                    scalesAndSigns[ib] |= UInt32(l) << 28
                }
                (yb + 2).copyMemory(from: q3, byteCount: 64)
                for ib in 0 ..< 8 {
                    yb.storeBytes(of: scalesAndSigns[ib].littleEndian, toByteOffset: 66 + 4 * ib, as: UInt32.self)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq3xxs.withUnsafeBytes { grid in
            IQGrids.ksignsIQ2XS.withUnsafeBufferPointer { ksigns in
                var out = x
                for i in 0 ..< n / 256 {
                    let yb = y + i * blockBytes
                    let d = HalfFloat.f32(f16: UInt16(littleEndian: yb.loadUnaligned(as: UInt16.self)))
                    var qs = yb + 2
                    for ib32 in 0 ..< 8 {
                        let aux = UInt32(littleEndian: yb.loadUnaligned(fromByteOffset: 66 + 4 * ib32, as: UInt32.self))
                        let db = d * (0.5 + Float(aux >> 28)) * 0.5
                        for l in 0 ..< 4 {
                            let signs = ksigns[Int((aux >> (7 * l)) & 127)]
                            let g1 = Int(qs.load(fromByteOffset: 2 * l, as: UInt8.self)) * 4
                            let g2 = Int(qs.load(fromByteOffset: 2 * l + 1, as: UInt8.self)) * 4
                            for j in 0 ..< 4 {
                                out[j + 0] = db * Float(grid[g1 + j]) * (signs & (1 << j) != 0 ? -1 : 1)
                                out[j + 4] = db * Float(grid[g2 + j]) * (signs & (1 << (j + 4)) != 0 ? -1 : 1)
                            }
                            out += 8
                        }
                        qs += 8
                    }
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in quantizeRow(src, dst, n, w) },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) })
}
