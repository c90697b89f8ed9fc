/// TQ1_0 and TQ2_0: ternary super-blocks of 256 weights (BitNet b1.58 / TriLM), each value in
/// {−1, 0, 1} times one F16 scale d = max|x|; x ≈ d·(t − 1) with trit t ∈ {0, 1, 2},
/// t = lroundf(x/d) + 1. Importance weights are ignored, as in ggml.
///
/// TQ2_0 layout (66 bytes): qs[64] | d (f16). For 128-value chunk c, byte 32c + m holds the
/// trits of values 128c + m + 32n in bits 2n…2n+1 (n = 0…3).
///
/// TQ1_0 layout (54 bytes): qs[48] | qh[4] | d (f16). Five trits per byte in base 3, most
/// significant first, stored as the byte ⌈(Σ tₙ·3^(4−n))·256/243⌉ so that the trit n is
/// recovered as ⌊((byte·3ⁿ mod 256)·3)/256⌋:
/// - qs[0..<32]: byte m holds values m + 32n (n = 0…4) of the first 160;
/// - qs[32..<48]: byte 32 + m holds values 160 + m + 16n (n = 0…4);
/// - qh[0..<4]: byte j holds values 240 + j + 4n (n = 0…3) as the top four trits (the fifth
///   is 0).
enum TQ1_0 {
    static let qk = 256
    static let blockBytes = 54

    @inline(__always) static func trit(_ v: Float, _ id: Float) -> Int32 {
        Int32(truncatingIfNeeded: KQuantHelpers.lround(v * id)) &+ 1
    }

    /// `q = ((uint16_t)q * 256 + 242) / 243`, the ceiling that makes the trits readable by
    /// multiplication.
    @inline(__always) static func spread(_ q: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: (Int(q) * 256 + 242) / 243)
    }

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / qk {
            var xp = x + i * qk
            let yb = y + i * blockBytes
            var amax: Float = 0
            for j in 0 ..< qk { amax = KQuantHelpers.cMax(amax, abs(xp[j])) }
            let d = amax
            let id: Float = d != 0 ? 1 / d : 0
            KQuantHelpers.storeF16(d, yb + 52)
            for m in 0 ..< 32 {
                var q: UInt8 = 0
                for nn in 0 ..< 5 {
                    q = q &* 3
                    q = q &+ UInt8(truncatingIfNeeded: trit(xp[m + nn * 32], id))
                }
                yb[m] = spread(q)
            }
            xp += 160
            for m in 0 ..< 16 {
                var q: UInt8 = 0
                for nn in 0 ..< 5 {
                    q = q &* 3
                    q = q &+ UInt8(truncatingIfNeeded: trit(xp[m + nn * 16], id))
                }
                yb[32 + m] = spread(q)
            }
            xp += 80
            for j in 0 ..< 4 {
                var q: UInt8 = 0
                for m in 0 ..< 4 {
                    q = q &* 3
                    q = q &+ UInt8(truncatingIfNeeded: trit(xp[j + m * 4], id))
                }
                q = q &* 3
                yb[48 + j] = spread(q)
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        let pow3: (UInt8, UInt8, UInt8, UInt8, UInt8) = (1, 3, 9, 27, 81)
        @inline(__always) func p3(_ k: Int) -> UInt8 {
            switch k { case 0: pow3.0; case 1: pow3.1; case 2: pow3.2; case 3: pow3.3; default: pow3.4 }
        }
        @inline(__always) func value(_ byte: UInt8, _ k: Int, _ d: Float) -> Float {
            let q = byte &* p3(k)
            let xi = (Int(q) * 3) >> 8
            return Float(xi - 1) * d
        }
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb + 52)
            var out = x + i * qk
            for nn in 0 ..< 5 {
                for m in 0 ..< 32 { out[m] = value(yb[m], nn, d) }
                out += 32
            }
            for nn in 0 ..< 5 {
                for m in 0 ..< 16 { out[m] = value(yb[32 + m], nn, d) }
                out += 16
            }
            for nn in 0 ..< 4 {
                for j in 0 ..< 4 { out[j] = value(yb[48 + j], nn, d) }
                out += 4
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, _ in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}

/// TQ2_0: see `TQ1_0` for the shared scheme; two bits per trit.
enum TQ2_0 {
    static let qk = 256
    static let blockBytes = 66

    static func quantizeRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>, _ n: Int) {
        for i in 0 ..< n / qk {
            var xp = x + i * qk
            let yb = y + i * blockBytes
            var amax: Float = 0
            for j in 0 ..< qk { amax = KQuantHelpers.cMax(amax, abs(xp[j])) }
            let d = amax
            let id: Float = d != 0 ? 1 / d : 0
            KQuantHelpers.storeF16(d, yb + 64)
            for j in stride(from: 0, to: 64, by: 32) {
                for m in 0 ..< 32 {
                    var q: UInt8 = 0
                    for nn in 0 ..< 4 {
                        let xi = TQ1_0.trit(xp[m + nn * 32], id)
                        q = q &+ UInt8(truncatingIfNeeded: (xi & 3) << (2 * Int32(nn)))
                    }
                    yb[j + m] = q
                }
                xp += 128
            }
        }
    }

    static func dequantizeRow(_ y: UnsafePointer<UInt8>, _ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0 ..< n / qk {
            let yb = y + i * blockBytes
            let d = KQuantHelpers.loadF16(yb + 64)
            var out = x + i * qk
            for j in stride(from: 0, to: 64, by: 32) {
                for l in 0 ..< 4 {
                    for m in 0 ..< 32 {
                        let q = Int((yb[j + m] >> UInt8(2 * l)) & 3)
                        out[m] = Float(q - 1) * d
                    }
                    out += 32
                }
            }
        }
    }

    static let codec = RowCodec(
        quantize: { src, dst, n, _ in quantizeRow(src, dst.assumingMemoryBound(to: UInt8.self), n) },
        dequantize: { src, dst, n in dequantizeRow(src.assumingMemoryBound(to: UInt8.self), dst, n) })
}
