/// Lane-parallel forms of the legacy quantizers without importance weights (Q4_0, Q4_1, Q5_0,
/// Q5_1), giving exactly the bytes of the reference implementations in `Reference/`.
///
/// Each lane performs the reference's float operations for one value, in the same order and
/// with one rounding each. Whenever a block could make lanes disagree with the scalar code
/// (a NaN or a level outside C's well-defined cast range), the
/// block is handed to the reference instead. The min/max scans stay scalar: they are cheap and
/// their tie and NaN behaviour is the reference's by construction.
enum LegacyFast {
    typealias V = SIMD16<Float>

    @inline(__always) static func load(_ x: UnsafePointer<Float>) -> (V, V) {
        let p = UnsafeRawPointer(x)
        return (p.loadUnaligned(as: V.self), p.loadUnaligned(fromByteOffset: 64, as: V.self))
    }

    /// trunc((x − sub)·mul + add) per lane, as C's float→int cast, when every result lies in
    /// [0, limit) (limit ≤ 128, where the reference's int8 casts are plain); nil otherwise
    /// (NaN included).
    @inline(__always) static func levels(_ a: V, sub: Float, mul: Float, add: Float, limit: Float = 128) -> SIMD16<Int32>? {
        let v = (a - V(repeating: sub)) * V(repeating: mul) + V(repeating: add)
        guard all(v .>= 0), all(v .< limit) else { return nil }
        // Whole floats below 2^22 read back exactly through the 1.5·2^23 bit trick.
        let t = v.rounded(.towardZero) + V(repeating: 12582912)
        return (unsafeBitCast(t, to: SIMD16<Int32>.self) & 0x007f_ffff) &- 0x0040_0000
    }

    /// The min and max of 32 values, scanned in order as the reference does (NaNs are skipped
    /// and the first of tied values wins, so ±0 comes out as the reference has it).
    @inline(__always) static func minMax(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var mn = Float.greatestFiniteMagnitude, mx = -Float.greatestFiniteMagnitude
        for j in 0 ..< 32 {
            let v = x[j]
            if v < mn { mn = v }
            if v > mx { mx = v }
        }
        return (mn, mx)
    }

    /// min(l, top) per lane with plain integer operations (the generic `pointwiseMin` is an
    /// out-of-line call here).
    @inline(__always) static func capped(_ l: SIMD16<Int32>, _ top: Int32) -> SIMD16<Int32> {
        let over = l &- top
        return l &- (over & ~(over &>> 31))
    }

    /// `minMax` in four interleaved chains (the ordered scan is one long dependency chain). The
    /// values agree with the ordered scan (NaNs are skipped by both); only the sign of a zero
    /// extreme depends on the order, so then the ordered scan decides.
    @inline(__always) static func minMax4(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        let big = Float.greatestFiniteMagnitude
        var n0 = big, n1 = big, n2 = big, n3 = big, m0 = -big, m1 = -big, m2 = -big, m3 = -big
        for j in stride(from: 0, to: 32, by: 4) {
            let a = x[j], b = x[j + 1], c = x[j + 2], d = x[j + 3]
            if a < n0 { n0 = a }
            if b < n1 { n1 = b }
            if c < n2 { n2 = c }
            if d < n3 { n3 = d }
            if a > m0 { m0 = a }
            if b > m1 { m1 = b }
            if c > m2 { m2 = c }
            if d > m3 { m3 = d }
        }
        if n1 < n0 { n0 = n1 }
        if n3 < n2 { n2 = n3 }
        if n2 < n0 { n0 = n2 }
        if m1 > m0 { m0 = m1 }
        if m3 > m2 { m2 = m3 }
        if m2 > m0 { m0 = m2 }
        return n0 == 0 || m0 == 0 ? minMax(x) : (n0, m0)
    }

    /// The value of largest magnitude (first one on ties, as the reference scans).
    @inline(__always) static func signedAbsMax(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0, max: Float = 0
        for j in 0 ..< 32 where amax < abs(x[j]) {
            amax = abs(x[j])
            max = x[j]
        }
        return max
    }

    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / 32 {
            let xb = x + 32 * i, yb = y + 18 * i
            let d = signedAbsMax(xb) / -8
            let id: Float = d != 0 ? 1 / d : 0
            let (a, b) = load(xb)
            guard let la = levels(a, sub: 0, mul: id, add: 8.5), let lb = levels(b, sub: 0, mul: id, add: 8.5) else {
                Q4_0.quantizeRow(xb, yb, 32)
                continue
            }
            KQuantHelpers.storeF16(d, yb)
            let q = SIMD16<UInt8>(truncatingIfNeeded: capped(la, 15) | capped(lb, 15) &<< 4)
            UnsafeMutableRawPointer(yb + 2).storeBytes(of: q, as: SIMD16<UInt8>.self)
        }
    }

    static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / 32 {
            let xb = x + 32 * i, yb = y + 20 * i
            let (a, b) = load(xb)
            let (mn, mx) = minMax4(xb)
            let d = (mx - mn) / 15
            let id: Float = d != 0 ? 1 / d : 0
            guard let la = levels(a, sub: mn, mul: id, add: 0.5), let lb = levels(b, sub: mn, mul: id, add: 0.5) else {
                Q4_1.quantizeRow(xb, yb, 32)
                continue
            }
            KQuantHelpers.storeF16(d, yb)
            KQuantHelpers.storeF16(mn, yb + 2)
            let q = SIMD16<UInt8>(truncatingIfNeeded: capped(la, 15) | capped(lb, 15) &<< 4)
            UnsafeMutableRawPointer(yb + 4).storeBytes(of: q, as: SIMD16<UInt8>.self)
        }
    }

    /// Packs 5-bit levels: low nibbles in qs, fifth bits in qh (value j → bit j, j+16 → bit j+16).
    @inline(__always) static func store5(_ la: SIMD16<Int32>, _ lb: SIMD16<Int32>, qh: UnsafeMutablePointer<UInt8>,
                                         qs: UnsafeMutablePointer<UInt8>) {
        let q = SIMD16<UInt8>(truncatingIfNeeded: la & 15 | (lb & 15) &<< 4)
        UnsafeMutableRawPointer(qs).storeBytes(of: q, as: SIMD16<UInt8>.self)
        // Bit 4 of lane j goes to bit j (first half) or j + 16 (second half); the bits are
        // disjoint, so a wrapping sum is their OR.
        let lane = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let ha = (SIMD16<UInt32>(truncatingIfNeeded: la) &>> 4 & 1) &<< lane
        let hb = (SIMD16<UInt32>(truncatingIfNeeded: lb) &>> 4 & 1) &<< (lane &+ 16)
        let h = (ha | hb).wrappedSum()
        for k in 0 ..< 4 { qh[k] = UInt8(truncatingIfNeeded: h >> (8 * UInt32(k))) }
    }

    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / 32 {
            let xb = x + 32 * i, yb = y + 22 * i
            let d = signedAbsMax(xb) / -16
            let id: Float = d != 0 ? 1 / d : 0
            let (a, b) = load(xb)
            guard let la = levels(a, sub: 0, mul: id, add: 16.5), let lb = levels(b, sub: 0, mul: id, add: 16.5) else {
                Q5_0.quantizeRow(xb, yb, 32)
                continue
            }
            KQuantHelpers.storeF16(d, yb)
            store5(capped(la, 31), capped(lb, 31), qh: yb + 2, qs: yb + 6)
        }
    }

    static func q5_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / 32 {
            let xb = x + 32 * i, yb = y + 24 * i
            let (a, b) = load(xb)
            let (mn, mx) = minMax4(xb)
            let d = (mx - mn) / 31
            let id: Float = d != 0 ? 1 / d : 0
            // The reference stores the low 8 bits of the level without clamping.
            guard let la = levels(a, sub: mn, mul: id, add: 0.5, limit: 32),
                  let lb = levels(b, sub: mn, mul: id, add: 0.5, limit: 32) else {
                Q5_1.quantizeRow(xb, yb, 32)
                continue
            }
            KQuantHelpers.storeF16(d, yb)
            KQuantHelpers.storeF16(mn, yb + 2)
            store5(la, lb, qh: yb + 4, qs: yb + 8)
        }
    }
}
