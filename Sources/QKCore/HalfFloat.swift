/// Conversions between F32 and the 16-bit float formats, as ggml does them.
///
/// F16 rounds to nearest even (what `_mm_cvtps_ph` and ggml's scalar path do); BF16 rounds
/// to nearest even and quiets NaNs like `ggml_compute_fp32_to_bf16`.
public enum HalfFloat {
    /// F32 → IEEE half bits, round to nearest even.
    @inlinable public static func f16Bits(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// IEEE half bits → F32 (exact).
    @inlinable public static func f32(f16 bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// F32 → bfloat16 bits, round to nearest even, NaN quieted.
    @inlinable public static func bf16Bits(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if (u & 0x7fff_ffff) > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (u &+ (0x7fff &+ ((u >> 16) & 1))) >> 16)
    }

    /// bfloat16 bits → F32 (exact).
    @inlinable public static func f32(bf16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Converts `n` F16 values to F32.
    @inlinable public static func convertF16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        src.withMemoryRebound(to: Float16.self, capacity: n) { s in
            for i in 0..<n { dst[i] = Float(s[i]) }
        }
    }

    /// Converts `n` BF16 values to F32.
    @inlinable public static func convertBF16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        dst.withMemoryRebound(to: UInt32.self, capacity: n) { d in
            for i in 0..<n { d[i] = UInt32(src[i]) &<< 16 }
        }
    }

    /// Converts `n` F32 values to F16.
    @inlinable public static func convertF32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        dst.withMemoryRebound(to: Float16.self, capacity: n) { d in
            for i in 0..<n { d[i] = Float16(src[i]) }
        }
    }

    /// Converts `n` F32 values to BF16.
    @inlinable public static func convertF32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        for i in 0..<n { dst[i] = bf16Bits(src[i]) }
    }
}
