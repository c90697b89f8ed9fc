import QKCore

/// How the values of one quantized block decode from its integers, given the scales stored in
/// the block: value i = aᵢ · g(qᵢ) + bᵢ, where g(q) = q + offset (legacy and k-quants) or a
/// codebook entry (IQ4_NL, IQ4_XS), and q ranges over 0..<levels.
///
/// ggml's quantizers choose the scales *and* the integers of a block together. Better methods
/// (GPTQ's error feedback, scale search) keep the scales a quantizer chose but pick the integers
/// themselves, one value at a time; a grid lets them do that for any type it covers, and writes
/// their integers back into the same block format, so the file is still decoded by stock
/// llama.cpp. Types whose values are chosen jointly from a lattice (IQ1–IQ3) have no grid.
public struct BlockGrid: Sendable {
    public typealias Scales = @Sendable (_ block: UnsafePointer<UInt8>, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>) -> Void
    public typealias Ints = @Sendable (_ block: UnsafeMutablePointer<UInt8>, _ q: UnsafeMutablePointer<UInt8>) -> Void
    public typealias Pack = @Sendable (_ q: UnsafePointer<UInt8>, _ block: UnsafeMutablePointer<UInt8>) -> Void

    public let type: GGMLType
    /// Values per block (the super-block for k-quants and IQ4_XS).
    public let blockSize: Int
    public let blockBytes: Int
    /// Number of integer levels: q ∈ 0..<levels.
    public let levels: Int
    /// g(q) = q + offset for affine grids.
    public let offset: Int
    /// g(q) = table[q] for codebook grids (IQ4_NL, IQ4_XS).
    public let table: [Float]?
    /// Byte offsets of the block's f16 super-scales (d, and dmin where the type has one):
    /// multiplying them all by one factor scales every value of the block by that factor.
    public let superScaleOffsets: [Int]
    /// Fills aᵢ and bᵢ for every value of the block from its stored scales.
    public let scales: Scales
    /// Reads the block's integers.
    public let unpack: @Sendable (_ block: UnsafePointer<UInt8>, _ q: UnsafeMutablePointer<UInt8>) -> Void
    /// Writes integers into the block, leaving its scales as they are.
    public let pack: Pack

    /// Super-scale `k` of `block` (`superScaleOffsets[k]`: d, then dmin), read from its F16.
    public func superScale(_ block: UnsafePointer<UInt8>, _ k: Int) -> Float {
        KQuantHelpers.loadF16(block + superScaleOffsets[k])
    }

    /// Stores `value`, rounded to the nearest F16, as super-scale `k` of `block`.
    public func setSuperScale(_ value: Float, _ block: UnsafeMutablePointer<UInt8>, _ k: Int) {
        let bits = Float16(value).bitPattern, off = superScaleOffsets[k]
        block[off] = UInt8(truncatingIfNeeded: bits)
        block[off + 1] = UInt8(truncatingIfNeeded: bits >> 8)
    }

    /// g(q) as a Float.
    @inlinable @inline(__always) public func level(_ q: Int) -> Float {
        if let table { return table[q] }
        return Float(q + offset)
    }

    /// The decoded value of integer `q` with scales `a`, `b` — computed as ggml decodes it.
    @inlinable @inline(__always) public func value(_ q: Int, a: Float, b: Float) -> Float {
        a * level(q) + b
    }

    /// The integer whose decoded value is nearest to `v` given scales `a`, `b`.
    @inlinable @inline(__always) public func nearest(_ v: Float, a: Float, b: Float) -> Int {
        if table != nil {
            var best = 0
            var bestErr = Float.infinity
            for q in 0 ..< levels {
                let e = abs(value(q, a: a, b: b) - v)
                if e < bestErr { bestErr = e; best = q }
            }
            return best
        }
        guard a != 0 else { return max(0, min(levels - 1, -offset)) }
        let guess = Int(((v - b) / a).rounded()) - offset
        var best = max(0, min(levels - 1, guess))
        // The affine guess can be one off after float rounding of a·g + b: check the neighbours.
        let center = best
        var bestErr = abs(value(center, a: a, b: b) - v)
        if center > 0 {
            let e = abs(value(center - 1, a: a, b: b) - v)
            if e < bestErr { bestErr = e; best = center - 1 }
        }
        if center + 1 < levels, abs(value(center + 1, a: a, b: b) - v) < bestErr { best = center + 1 }
        return best
    }

    /// The grid of `type`, or nil for types whose values are not chosen one by one.
    public static func grid(for type: GGMLType) -> BlockGrid? { BlockGrids.table[type] }

    /// Types that have a grid.
    public static var supportedTypes: [GGMLType] { GGMLType.allCases.filter { BlockGrids.table[$0] != nil } }
}
