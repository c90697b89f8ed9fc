import QKCore

/// IQ2_XXS: 2.0625 bits per weight. Super-blocks of 256 weights: one F16 scale `d` and, per
/// sub-block of 32 weights, four codebook indices (8 weights each), four 7-bit sign codes and a
/// 4-bit sub-scale.
///
/// Layout per block (66 bytes): d (f16) | 8 × (aux0: u32, aux1: u32), little-endian, where for
/// sub-block `ib`:
/// - aux0 byte `l` (l = 0…3) is the index into `IQGrids.iq2xxs` of weights 8l…8l+7;
/// - aux1 bits 7l…7l+6 are the sign code `s` of group l (signs = `ksignsIQ2XS[s]`: bit j set → weight j
///   is negative), bits 28…31 the sub-scale `ls`.
///
/// Decoding: `db = d·(0.5 + ls)·0.25`, `x[8l+j] = db · grid[j] · (±1)` (grid bytes ∈ {8, 25, 43}).
///
/// Quantization (ggml's `quantize_row_iq2_xxs_impl`) needs importance weights: per 32-group,
/// signs are taken out (flipping the least important weight if needed to make an even number
/// of negatives), a first scale comes from `make_qp_quants`, 13 trial scales are tried snapping
/// each 8-group to the grid (or its best neighbour), and the best is refined once.
enum IQ2_XXS {
    static let blockBytes = 66

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>) {
        let index = IQGridIndex.iq2xxs
        let kgrid = index.grid, kmap = index.map
        let kMaxQ = 3
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(8, Float.self)
            let weight = s.take(32, Float.self)
            let xval = s.take(32, Float.self)
            let waux = s.take(32, Float.self)
            let L = s.take(32, Int8.self)
            let Laux = s.take(32, Int8.self)
            let blockSigns = s.take(4, UInt8.self)
            let q2 = s.take(16, UInt32.self)

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.storeBytes(of: iqF16(0), as: UInt16.self)
                q2.initialize(repeating: 0, count: 16)
                var maxScale: Float = 0

                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0 ..< 256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = sumx2 / 256

                for ib in 0 ..< 8 {
                    let xb = xbl + 32 * ib
                    let qw = quantWeights + 256 * ibl + 32 * ib
                    for i in 0 ..< 32 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
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
                    if max < 1e-15 {  // GROUP_MAX_EPS
                        scales[ib] = 0
                        L.initialize(repeating: 0, count: 32)
                        continue
                    }
                    var scale = L.withMemoryRebound(to: UInt8.self, capacity: 32) {
                        iqMakeQPQuants(32, kMaxQ + 1, xval, $0, weight)
                    }
                    let effMax = scale * Float(kMaxQ)
                    if effMax <= 0 {
                        scales[ib] = 0
                        L.initialize(repeating: 0, count: 32)
                        continue
                    }
                    var best: Float = 0
                    for isv in -6 ... 6 {
                        let id = (Float(2 * kMaxQ - 1) + Float(isv) * 0.1) / effMax
                        let thisScale = 1 / id
                        for k in 0 ..< 4 {
                            for i in 0 ..< 8 {
                                let l = iqNearestInt(0.5 * (id * xval[8 * k + i] - 1))
                                Laux[8 * k + i] = Int8(iqMax(0, iqMin(kMaxQ - 1, l)))
                            }
                            var u = 0
                            for i in 0 ..< 8 { u |= Int(Laux[8 * k + i]) << (2 * i) }
                            if kmap[u] < 0 {
                                _ = index.bestNeighbour(u, xval + 8 * k, waux + 8 * k, thisScale, Laux + 8 * k)
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
                        }
                    }
                    if scale > 0 {
                        let id = 1 / scale
                        for k in 0 ..< 4 {
                            var u = 0
                            for i in 0 ..< 8 {
                                var l = iqNearestInt(0.5 * (id * xval[8 * k + i] - 1))
                                l = iqMax(0, iqMin(kMaxQ - 1, l))
                                u |= l << (2 * i)
                            }
                            var gridIndex = Int(kmap[u])
                            if gridIndex < 0 {
                                gridIndex = index.bestNeighbour(u, xval + 8 * k, waux + 8 * k, scale, L + 8 * k)
                            }
                            let pg = kgrid + gridIndex * 8
                            for i in 0 ..< 8 { L[8 * k + i] = (pg[i] - 1) / 2 }
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
                    for k in 0 ..< 4 {
                        var u = 0
                        for i in 0 ..< 8 { u |= Int(L[8 * k + i]) << (2 * i) }
                        let gridIndex = Int(kmap[u])
                        if gridIndex < 0 { fatalError("IQ2_XXS: point \(u) not on grid (non-finite input?)") }  // GGML_ABORT
                        q2[2 * ib + 0] |= UInt32(gridIndex) << (8 * k)
                        q2[2 * ib + 1] |= UInt32(blockSigns[k]) << (7 * k)
                    }
                    scales[ib] = scale
                    maxScale = iqMax(maxScale, scale)
                }

                if maxScale == 0 {
                    (yb + 2).initializeMemory(as: UInt8.self, repeating: 0, count: 64)
                    continue
                }
                let d = maxScale / 31
                yb.storeBytes(of: iqF16(d), as: UInt16.self)
                let id = 1 / d
                for ib in 0 ..< 8 {
                    var l = iqNearestInt(0.5 * (id * scales[ib] - 1))
                    l = iqMax(0, iqMin(15, l))
                    q2[2 * ib + 1] |= UInt32(l) << 28
                }
                for i in 0 ..< 16 {
                    yb.storeBytes(of: q2[i].littleEndian, toByteOffset: 2 + 4 * i, as: UInt32.self)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq2xxs.withUnsafeBytes { grid in
            IQGrids.ksignsIQ2XS.withUnsafeBufferPointer { ksigns in
                var out = x
                for i in 0 ..< n / 256 {
                    let yb = y + i * blockBytes
                    let d = HalfFloat.f32(f16: UInt16(littleEndian: yb.loadUnaligned(as: UInt16.self)))
                    for ib32 in 0 ..< 8 {
                        let aux0 = UInt32(littleEndian: yb.loadUnaligned(fromByteOffset: 2 + 8 * ib32, as: UInt32.self))
                        let aux1 = UInt32(littleEndian: yb.loadUnaligned(fromByteOffset: 6 + 8 * ib32, as: UInt32.self))
                        let db = d * (0.5 + Float(aux1 >> 28)) * 0.25
                        for l in 0 ..< 4 {
                            let g = Int((aux0 >> (8 * l)) & 255) * 8
                            let signs = ksigns[Int((aux1 >> (7 * l)) & 127)]
                            for j in 0 ..< 8 {
                                out[j] = db * Float(grid[g + j]) * (signs & (1 << j) != 0 ? -1 : 1)
                            }
                            out += 8
                        }
                    }
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, w in
            guard let w else { fatalError("IQ2_XXS requires importance weights") }
            quantizeRow(src, dst, n, w)
        },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) },
        requiresImportance: true)
}
