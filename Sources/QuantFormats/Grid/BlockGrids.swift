import QKCore

/// The grids of the legacy types, the k-quants and the IQ4 types, read off each type's block
/// layout (see the type's file in `Reference/` for the layout and its decoding).
enum BlockGrids {
    static let table: [GGMLType: BlockGrid] = [
        .q4_0: legacy(.q4_0, bits: 4, offset: -8, hasMin: false),
        .q4_1: legacy(.q4_1, bits: 4, offset: 0, hasMin: true),
        .q5_0: legacy(.q5_0, bits: 5, offset: -16, hasMin: false),
        .q5_1: legacy(.q5_1, bits: 5, offset: 0, hasMin: true),
        .q8_0: q8_0,
        .q2_K: q2_K,
        .q3_K: q3_K,
        .q4_K: q45_K(.q4_K, bits: 4),
        .q5_K: q45_K(.q5_K, bits: 5),
        .q6_K: q6_K,
        .iq4_nl: iq4_nl,
        .iq4_xs: iq4_xs,
    ]

    private static let f16 = KQuantHelpers.loadF16

    // MARK: legacy (32 values: d [m] [qh] qs)

    /// Q4_0/Q4_1/Q5_0/Q5_1: value j (< 16) is the low nibble of qs[j], value j + 16 the high
    /// nibble; the 5-bit types keep bit 4 of value j in bit j of the 32-bit qh.
    static func legacy(_ type: GGMLType, bits: Int, offset: Int, hasMin: Bool) -> BlockGrid {
        let qhAt = hasMin ? 4 : 2
        let qsAt = qhAt + (bits == 5 ? 4 : 0)
        return BlockGrid(
            type: type, blockSize: 32, blockBytes: qsAt + 16, levels: 1 << bits, offset: offset, table: nil,
            superScaleOffsets: hasMin ? [0, 2] : [0],
            scales: { blk, a, b in
                let d = f16(blk), m = hasMin ? f16(blk + 2) : 0
                for i in 0 ..< 32 { a[i] = d; b[i] = m }
            },
            unpack: { blk, q in
                for j in 0 ..< 16 {
                    q[j] = blk[qsAt + j] & 0xf
                    q[j + 16] = blk[qsAt + j] >> 4
                }
                if bits == 5 {
                    for j in 0 ..< 32 where blk[qhAt + j / 8] & (1 << UInt8(j % 8)) != 0 { q[j] |= 0x10 }
                }
            },
            pack: { q, blk in
                for j in 0 ..< 16 { blk[qsAt + j] = (q[j] & 0xf) | ((q[j + 16] & 0xf) << 4) }
                if bits == 5 {
                    for k in 0 ..< 4 { blk[qhAt + k] = 0 }
                    for j in 0 ..< 32 where q[j] & 0x10 != 0 { blk[qhAt + j / 8] |= 1 << UInt8(j % 8) }
                }
            })
    }

    /// Q8_0: d, then 32 signed bytes; integers are stored here as q + 128 (0…255).
    static let q8_0 = BlockGrid(
        type: .q8_0, blockSize: 32, blockBytes: 34, levels: 256, offset: -128, table: nil, superScaleOffsets: [0],
        scales: { blk, a, b in
            let d = f16(blk)
            for i in 0 ..< 32 { a[i] = d; b[i] = 0 }
        },
        unpack: { blk, q in for j in 0 ..< 32 { q[j] = blk[2 + j] &+ 128 } },
        pack: { q, blk in for j in 0 ..< 32 { blk[2 + j] = q[j] &- 128 } })

    // MARK: k-quants (256 values)

    /// Value v = 128h + 32s + k (k < 32) of Q2_K/Q3_K keeps its low two bits in bits 2s of
    /// byte 32h + k of the 64-byte `qs`.
    private static func unpack2Bit(_ qs: UnsafePointer<UInt8>, _ q: UnsafeMutablePointer<UInt8>) {
        for h in 0 ..< 2 { for s in 0 ..< 4 { for k in 0 ..< 32 { q[128 * h + 32 * s + k] = (qs[32 * h + k] >> UInt8(2 * s)) & 3 } } }
    }

    /// Q2_K: scales[16] (low nibble sc, high nibble m) | qs[64] | d | dmin; value =
    /// d·sc·q − dmin·m per 16-value sub-block.
    static let q2_K = BlockGrid(
        type: .q2_K, blockSize: 256, blockBytes: 84, levels: 4, offset: 0, table: nil, superScaleOffsets: [80, 82],
        scales: { blk, a, b in
            let d = f16(blk + 80), dmin = f16(blk + 82)
            for s in 0 ..< 16 {
                let dl = d * Float(blk[s] & 0xf), ml = dmin * Float(blk[s] >> 4)
                for l in 0 ..< 16 { a[16 * s + l] = dl; b[16 * s + l] = -ml }
            }
        },
        unpack: { blk, q in unpack2Bit(blk + 16, q) },
        pack: { q, blk in KQuantHelpers.pack2Bit256(q, blk + 16) })

    /// Q3_K: hmask[32] | qs[64] | scales[12] (6-bit, offset 32) | d; integers 0…7 are
    /// the low two bits in `qs` plus 4 × the bit h·4 + s of hmask[k]; value = d·(sc − 32)·(q − 4).
    static let q3_K = BlockGrid(
        type: .q3_K, blockSize: 256, blockBytes: 110, levels: 8, offset: -4, table: nil, superScaleOffsets: [108],
        scales: { blk, a, b in
            let d = f16(blk + 108), s = blk + 96
            for j in 0 ..< 16 {
                let lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4
                let sc = Int(lo | (((s[8 + j % 4] >> UInt8(2 * (j / 4))) & 3) << 4)) - 32
                let dl = d * Float(sc)
                for l in 0 ..< 16 { a[16 * j + l] = dl; b[16 * j + l] = 0 }
            }
        },
        unpack: { blk, q in
            unpack2Bit(blk + 32, q)
            for h in 0 ..< 2 { for s in 0 ..< 4 { for k in 0 ..< 32 where blk[k] & (1 << UInt8(4 * h + s)) != 0 { q[128 * h + 32 * s + k] |= 4 } } }
        },
        pack: { q, blk in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { low in
                for i in 0 ..< 256 { low[i] = q[i] & 3 }
                KQuantHelpers.pack2Bit256(low.baseAddress!, blk + 32)
            }
            for k in 0 ..< 32 { blk[k] = 0 }
            for h in 0 ..< 2 { for s in 0 ..< 4 { for k in 0 ..< 32 where q[128 * h + 32 * s + k] & 4 != 0 { blk[k] |= 1 << UInt8(4 * h + s) } } }
        })

    /// Q4_K/Q5_K: d | dmin | scales[12] (6-bit sc and m per 32 values) | [qh[32]] | qs[128];
    /// value 64c + l is the low nibble of qs[32c + l], value 64c + 32 + l the high nibble; Q5_K's
    /// fifth bits are bits 2c and 2c + 1 of qh[l]. Value = d·sc·q − dmin·m.
    static func q45_K(_ type: GGMLType, bits: Int) -> BlockGrid {
        let qsAt = bits == 5 ? 48 : 16
        return BlockGrid(
            type: type, blockSize: 256, blockBytes: qsAt + 128, levels: 1 << bits, offset: 0, table: nil, superScaleOffsets: [0, 2],
            scales: { blk, a, b in
                let d = f16(blk), dmin = f16(blk + 2)
                for j in 0 ..< 8 {
                    let (sc, m) = KQuantHelpers.scaleMinK4(j, blk + 4)
                    let dl = d * Float(sc), ml = dmin * Float(m)
                    for l in 0 ..< 32 { a[32 * j + l] = dl; b[32 * j + l] = -ml }
                }
            },
            unpack: { blk, q in
                for c in 0 ..< 4 {
                    for l in 0 ..< 32 {
                        q[64 * c + l] = blk[qsAt + 32 * c + l] & 0xf
                        q[64 * c + 32 + l] = blk[qsAt + 32 * c + l] >> 4
                        if bits == 5 {
                            let h = blk[16 + l]
                            if h & (1 << UInt8(2 * c)) != 0 { q[64 * c + l] |= 16 }
                            if h & (2 << UInt8(2 * c)) != 0 { q[64 * c + 32 + l] |= 16 }
                        }
                    }
                }
            },
            pack: { q, blk in
                if bits == 5 { for l in 0 ..< 32 { blk[16 + l] = 0 } }
                for c in 0 ..< 4 {
                    for l in 0 ..< 32 {
                        let lo = q[64 * c + l], hi = q[64 * c + 32 + l]
                        blk[qsAt + 32 * c + l] = (lo & 0xf) | ((hi & 0xf) << 4)
                        if bits == 5 {
                            if lo & 16 != 0 { blk[16 + l] |= 1 << UInt8(2 * c) }
                            if hi & 16 != 0 { blk[16 + l] |= 2 << UInt8(2 * c) }
                        }
                    }
                }
            })
    }

    /// Q6_K: ql[128] | qh[64] | scales[16] (int8) | d. In half h (128 values), value
    /// 128h + 32r + l (r < 4) has its low nibble in ql[64h + l + 32(r & 1)] (high nibble when
    /// r ≥ 2) and its top two bits in bits 2r of qh[32h + l]. Value = d·sc·(q − 32).
    static let q6_K = BlockGrid(
        type: .q6_K, blockSize: 256, blockBytes: 210, levels: 64, offset: -32, table: nil, superScaleOffsets: [208],
        scales: { blk, a, b in
            let d = f16(blk + 208)
            for j in 0 ..< 16 {
                let dl = d * Float(Int8(bitPattern: blk[192 + j]))
                for l in 0 ..< 16 { a[16 * j + l] = dl; b[16 * j + l] = 0 }
            }
        },
        unpack: { blk, q in
            for h in 0 ..< 2 {
                for r in 0 ..< 4 {
                    for l in 0 ..< 32 {
                        let low = blk[64 * h + l + 32 * (r & 1)]
                        let nib = r < 2 ? low & 0xf : low >> 4
                        q[128 * h + 32 * r + l] = nib | (((blk[128 + 32 * h + l] >> UInt8(2 * r)) & 3) << 4)
                    }
                }
            }
        },
        pack: { q, blk in
            for i in 0 ..< 192 { blk[i] = 0 }
            for h in 0 ..< 2 {
                for r in 0 ..< 4 {
                    for l in 0 ..< 32 {
                        let v = q[128 * h + 32 * r + l]
                        blk[64 * h + l + 32 * (r & 1)] |= r < 2 ? v & 0xf : (v & 0xf) << 4
                        blk[128 + 32 * h + l] |= ((v >> 4) & 3) << UInt8(2 * r)
                    }
                }
            }
        })

    // MARK: IQ4 (non-linear codebook)

    /// IQ4_NL: d | qs[16] packed as Q4_0; value = d·kvalues[q].
    static let iq4_nl = BlockGrid(
        type: .iq4_nl, blockSize: 32, blockBytes: 18, levels: 16, offset: 0, table: IQ4_NL.kvaluesF, superScaleOffsets: [0],
        scales: { blk, a, b in
            let d = f16(blk)
            for i in 0 ..< 32 { a[i] = d; b[i] = 0 }
        },
        unpack: { blk, q in for j in 0 ..< 16 { q[j] = blk[2 + j] & 0xf; q[j + 16] = blk[2 + j] >> 4 } },
        pack: { q, blk in for j in 0 ..< 16 { blk[2 + j] = (q[j] & 0xf) | ((q[j + 16] & 0xf) << 4) } })

    /// IQ4_XS: d | scales_h (u16) | scales_l[4] | qs[128]: per 32-value sub-block a 6-bit scale
    /// (offset 32) and 16 bytes packed as Q4_0; value = d·(ls − 32)·kvalues[q].
    static let iq4_xs = BlockGrid(
        type: .iq4_xs, blockSize: 256, blockBytes: 136, levels: 16, offset: 0, table: IQ4_NL.kvaluesF, superScaleOffsets: [0],
        scales: { blk, a, b in
            let d = f16(blk)
            let scalesH = Int(blk[2]) | Int(blk[3]) << 8
            for ib in 0 ..< 8 {
                let ls = ((Int(blk[4 + ib / 2]) >> (4 * (ib % 2))) & 0xf) | (((scalesH >> (2 * ib)) & 3) << 4)
                let dl = d * Float(ls - 32)
                for l in 0 ..< 32 { a[32 * ib + l] = dl; b[32 * ib + l] = 0 }
            }
        },
        unpack: { blk, q in
            for ib in 0 ..< 8 { for j in 0 ..< 16 { q[32 * ib + j] = blk[8 + 16 * ib + j] & 0xf; q[32 * ib + 16 + j] = blk[8 + 16 * ib + j] >> 4 } }
        },
        pack: { q, blk in
            for ib in 0 ..< 8 { for j in 0 ..< 16 { blk[8 + 16 * ib + j] = (q[32 * ib + j] & 0xf) | ((q[32 * ib + 16 + j] & 0xf) << 4) } }
        })
}
