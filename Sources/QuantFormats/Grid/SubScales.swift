import QKCore

/// The integer sub-block scales (and mins) stored inside a k-quant or IQ4_XS block.
///
/// A `BlockGrid` lets a method choose a block's integers; this lets it also choose the small
/// integers that scale each sub-block (Q4_K's 6-bit scale and min per 32 values, Q6_K's int8
/// scale per 16, …), which ggml's quantizers pick with a short heuristic search. A search can read
/// them, change one, write them back and decode the block again with `BlockGrid.scales`.
public struct SubScales: Sendable {
    public typealias Read = @Sendable (_ block: UnsafePointer<UInt8>, _ values: UnsafeMutablePointer<Int32>) -> Void
    public typealias Write = @Sendable (_ values: UnsafePointer<Int32>, _ block: UnsafeMutablePointer<UInt8>) -> Void

    /// Sub-blocks per block.
    public let count: Int
    /// Values per sub-block (sub-block s covers values s·size ..< (s + 1)·size).
    public let size: Int
    /// Integers per sub-block: 1 (a scale) or 2 (a scale, then a min).
    public let fields: Int
    /// The integers each field can hold, as stored.
    public let range: ClosedRange<Int32>
    /// The stored scale v decodes as aᵢ = d·(v − scaleOffset) for the sub-block's values; a
    /// stored min m as bᵢ = −(dmin·m). `BlockGrid.scales` computes exactly this.
    public let scaleOffset: Int32

    /// The scales of sub-block values for stored scale `v` (and min `m`) under super-scales
    /// `d`, `dmin`, as the type's decoder computes them.
    @inlinable @inline(__always)
    public func decoded(scale v: Int32, min m: Int32, d: Float, dmin: Float) -> (a: Float, b: Float) {
        (d * Float(v - scaleOffset), fields > 1 ? -(dmin * Float(m)) : 0)
    }
    /// Reads every field of every sub-block: value `s·fields + f` is field f of sub-block s.
    public let read: Read
    /// Writes them all back (in the same order), leaving the rest of the block as it is.
    public let write: Write
}

extension BlockGrid {
    /// The sub-block scales of this grid's type, or nil where the block has only f16 scales.
    public var subScales: SubScales? { SubScaleLayouts.table[type] }
}

/// The sub-scale layouts, read off each type's block layout (see `BlockGrids`).
enum SubScaleLayouts {
    static let table: [GGMLType: SubScales] = [
        .q2_K: q2_K, .q3_K: q3_K, .q4_K: q45_K, .q5_K: q45_K, .q6_K: q6_K, .iq4_xs: iq4_xs,
    ]

    /// Q2_K: scales[16] at byte 0, low nibble the scale, high nibble the min.
    static let q2_K = SubScales(
        count: 16, size: 16, fields: 2, range: 0 ... 15, scaleOffset: 0,
        read: { blk, v in
            for s in 0 ..< 16 { v[2 * s] = Int32(blk[s] & 0xf); v[2 * s + 1] = Int32(blk[s] >> 4) }
        },
        write: { v, blk in
            for s in 0 ..< 16 { blk[s] = UInt8(v[2 * s]) | UInt8(v[2 * s + 1]) << 4 }
        })

    /// Q3_K: 16 six-bit scales in scales[12] at byte 96: low nibbles in bytes 0–7 (sub-blocks
    /// 8–15 in the high halves), top two bits of sub-block j at bits 2(j / 4) of byte 8 + j % 4.
    static let q3_K = SubScales(
        count: 16, size: 16, fields: 1, range: 0 ... 63, scaleOffset: 32,
        read: { blk, v in
            let s = blk + 96
            for j in 0 ..< 16 {
                let lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4
                v[j] = Int32(lo | (((s[8 + j % 4] >> UInt8(2 * (j / 4))) & 3) << 4))
            }
        },
        write: { v, blk in
            let s = blk + 96
            for i in 0 ..< 12 { s[i] = 0 }
            for j in 0 ..< 16 {
                let x = UInt8(v[j])
                if j < 8 { s[j] |= x & 0xf } else { s[j - 8] |= (x & 0xf) << 4 }
                s[8 + j % 4] |= (x >> 4) << UInt8(2 * (j / 4))
            }
        })

    /// Q4_K/Q5_K: eight 6-bit (scale, min) pairs in scales[12] at byte 4.
    static let q45_K = SubScales(
        count: 8, size: 32, fields: 2, range: 0 ... 63, scaleOffset: 0,
        read: { blk, v in
            for j in 0 ..< 8 {
                let (sc, m) = KQuantHelpers.scaleMinK4(j, blk + 4)
                v[2 * j] = Int32(sc); v[2 * j + 1] = Int32(m)
            }
        },
        write: { v, blk in
            for i in 0 ..< 12 { blk[4 + i] = 0 }
            for j in 0 ..< 8 { KQuantHelpers.packScaleMinK4(j, UInt8(v[2 * j]), UInt8(v[2 * j + 1]), blk + 4) }
        })

    /// Q6_K: sixteen int8 scales at byte 192.
    static let q6_K = SubScales(
        count: 16, size: 16, fields: 1, range: -128 ... 127, scaleOffset: 0,
        read: { blk, v in for j in 0 ..< 16 { v[j] = Int32(Int8(bitPattern: blk[192 + j])) } },
        write: { v, blk in for j in 0 ..< 16 { blk[192 + j] = UInt8(bitPattern: Int8(v[j])) } })

    /// IQ4_XS: eight 6-bit scales: low nibbles in scales_l[4] at byte 4, top two bits in the
    /// u16 scales_h at byte 2.
    static let iq4_xs = SubScales(
        count: 8, size: 32, fields: 1, range: 0 ... 63, scaleOffset: 32,
        read: { blk, v in
            let h = Int32(blk[2]) | Int32(blk[3]) << 8
            for ib in 0 ..< 8 {
                v[ib] = ((Int32(blk[4 + ib / 2]) >> Int32(4 * (ib % 2))) & 0xf) | (((h >> Int32(2 * ib)) & 3) << 4)
            }
        },
        write: { v, blk in
            var h: UInt16 = 0
            for i in 0 ..< 4 { blk[4 + i] = 0 }
            for ib in 0 ..< 8 {
                let x = UInt8(v[ib])
                blk[4 + ib / 2] |= (x & 0xf) << UInt8(4 * (ib % 2))
                h |= UInt16(x >> 4) << UInt16(2 * ib)
            }
            blk[2] = UInt8(truncatingIfNeeded: h); blk[3] = UInt8(truncatingIfNeeded: h >> 8)
        })
}
