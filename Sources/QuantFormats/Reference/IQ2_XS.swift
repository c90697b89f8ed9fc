import QKCore

/// IQ2_XS: 2.3125 bits per weight. Super-blocks of 256 weights: one F16 scale `d`; per group of
/// 8 weights a 9-bit codebook index and a 7-bit sign code; per 16 weights a 4-bit sub-scale.
///
/// Layout per block (74 bytes): d (f16) | qs[32] (u16, little-endian) | scales[8] (u8), where
/// - `qs[g] & 511` indexes `IQGrids.iq2xs` for weights 8g…8g+7, `qs[g] >> 9` is their sign code
///   (signs = `ksignsIQ2XS[code]`: bit j set → weight j is negative);
/// - `scales[ib32]` holds the sub-scale of groups 4·ib32, 4·ib32+1 in its low nibble and of groups
///   4·ib32+2, 4·ib32+3 in its high nibble.
///
/// Decoding: `db = d·(0.5 + ls)·0.25`, `x = db · grid[j] · (±1)` (grid bytes ∈ {8, 25, 43}).
///
/// Quantization (ggml's `quantize_row_iq2_xs_impl`) needs importance weights: per 16 weights,
/// signs are taken out (an even number of negatives per 8, flipping the least important one),
/// 19 trial scales snap each 8-group to the grid or its best neighbour, and off-grid groups of
/// the best trial are re-snapped with the final scale.
enum IQ2_XS {
    static let blockBytes = 74

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ n: Int,
                            _ quantWeights: UnsafePointer<Float>) {
        let index = IQGridIndex.iq2xs
        let kmap = index.map
        let kMaxQ = 3
        IQScratch.with(bytes: 1024) { s in
            let scales = s.take(16, Float.self)
            let weight = s.take(16, Float.self)
            let xval = s.take(16, Float.self)
            let waux = s.take(16, Float.self)
            let L = s.take(16, Int8.self)
            let Laux = s.take(16, Int8.self)
            let q2 = s.take(32, UInt16.self)
            var isOnGrid = (true, true), isOnGridAux = (true, true)
            var blockSigns: (UInt8, UInt8) = (0, 0)

            for ibl in 0 ..< n / 256 {
                let yb = y + ibl * blockBytes
                yb.storeBytes(of: iqF16(0), as: UInt16.self)
                q2.initialize(repeating: 0, count: 32)
                (yb + 66).initializeMemory(as: UInt8.self, repeating: 0, count: 8)
                var maxScale: Float = 0

                let xbl = x + 256 * ibl
                var sumx2: Float = 0
                for i in 0 ..< 256 { sumx2 += xbl[i] * xbl[i] }
                let sigma2 = sumx2 / 256

                for ib in 0 ..< 16 {
                    let xb = xbl + 16 * ib
                    let qw = quantWeights + 256 * ibl + 16 * ib
                    for i in 0 ..< 16 { weight[i] = qw[i] * (sigma2 + xb[i] * xb[i]).squareRoot() }
                    for i in 0 ..< 16 { waux[i] = weight[i].squareRoot() }
                    for k in 0 ..< 2 {
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
                        if k == 0 { blockSigns.0 = sgn & 127 } else { blockSigns.1 = sgn & 127 }
                    }
                    var max = xval[0]
                    for i in 1 ..< 16 { max = iqMax(max, xval[i]) }
                    L.initialize(repeating: 0, count: 16)
                    if max < 1e-15 {  // GROUP_MAX_EPS
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
                        blockSigns = (~blockSigns.0 & 127, ~blockSigns.1 & 127)
                    }
                    for k in 0 ..< 2 {
                        var u = 0
                        for i in 0 ..< 8 { u |= Int(L[8 * k + i]) << (2 * i) }
                        let gridIndex = Int(kmap[u])
                        if gridIndex < 0 { fatalError("IQ2_XS: point \(u) not on grid (non-finite input?)") }  // GGML_ABORT
                        let sgn = k == 0 ? blockSigns.0 : blockSigns.1
                        q2[2 * ib + k] = UInt16(gridIndex) | UInt16(sgn) << 9
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
                for ib in 0 ..< 16 {
                    var l = iqNearestInt(0.5 * (id * scales[ib] - 1))
                    l = iqMax(0, iqMin(15, l))
                    let at = 66 + ib / 2
                    if ib % 2 == 0 {
                        yb.storeBytes(of: UInt8(l), toByteOffset: at, as: UInt8.self)
                    } else {
                        yb.storeBytes(of: yb.load(fromByteOffset: at, as: UInt8.self) | UInt8(l) << 4, toByteOffset: at, as: UInt8.self)
                    }
                }
                for i in 0 ..< 32 {
                    yb.storeBytes(of: q2[i].littleEndian, toByteOffset: 2 + 2 * i, as: UInt16.self)
                }
            }
        }
    }

    static func dequantizeRow(_ y: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        IQGrids.iq2xs.withUnsafeBytes { grid in
            IQGrids.ksignsIQ2XS.withUnsafeBufferPointer { ksigns in
                var out = x
                for i in 0 ..< n / 256 {
                    let yb = y + i * blockBytes
                    let d = HalfFloat.f32(f16: UInt16(littleEndian: yb.loadUnaligned(as: UInt16.self)))
                    for ib32 in 0 ..< 8 {
                        let sc = yb.load(fromByteOffset: 66 + ib32, as: UInt8.self)
                        let db0 = d * (0.5 + Float(sc & 0xf)) * 0.25
                        let db1 = d * (0.5 + Float(sc >> 4)) * 0.25
                        for l in 0 ..< 4 {
                            let q = UInt16(littleEndian: yb.loadUnaligned(fromByteOffset: 2 + 2 * (4 * ib32 + l), as: UInt16.self))
                            let g = Int(q & 511) * 8
                            let signs = ksigns[Int(q >> 9)]
                            let db = l < 2 ? db0 : db1
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
            guard let w else { fatalError("IQ2_XS requires importance weights") }
            quantizeRow(src, dst, n, w)
        },
        dequantize: { src, dst, n in dequantizeRow(src, dst, n) },
        requiresImportance: true)
}
