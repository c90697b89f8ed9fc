import QKCore
import Testing

struct HalfFloatTests {
    /// Every F16 value converts to F32 and back unchanged (NaNs stay NaN).
    @Test func f16RoundTripsEveryValue() {
        for bits in 0 ... UInt16.max {
            let f = HalfFloat.f32(f16: bits)
            if f.isNaN { #expect(HalfFloat.f32(f16: HalfFloat.f16Bits(f)).isNaN) } else { #expect(HalfFloat.f16Bits(f) == bits) }
        }
    }

    /// Ties round to even, as _mm_cvtps_ph and ggml's scalar path do.
    @Test func f16RoundsToNearestEven() {
        #expect(HalfFloat.f16Bits(1 + 1.0 / 2048) == 0x3C00)       // tie → even (down)
        #expect(HalfFloat.f16Bits(1 + 3.0 / 2048) == 0x3C02)       // tie → even (up)
        #expect(HalfFloat.f16Bits(65520) == 0x7C00)                // overflow → inf
    }

    @Test func bf16MatchesGGML() {
        #expect(HalfFloat.bf16Bits(1.0) == 0x3F80)
        #expect(HalfFloat.bf16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)   // tie → even
        #expect(HalfFloat.bf16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(HalfFloat.bf16Bits(Float(bitPattern: 0x7F80_0001)) == 0x7FC0)   // NaN quieted
        #expect(HalfFloat.f32(bf16: 0x3F80) == 1.0)
    }

    @Test func bulkConversionsMatchScalar() {
        let xs: [Float] = (0 ..< 1000).map { Float($0) * 0.37 - 150 }
        var h = [UInt16](repeating: 0, count: xs.count)
        var b = [UInt16](repeating: 0, count: xs.count)
        var back = [Float](repeating: 0, count: xs.count)
        HalfFloat.convertF32ToF16(xs, &h, xs.count)
        HalfFloat.convertF32ToBF16(xs, &b, xs.count)
        #expect(h == xs.map(HalfFloat.f16Bits))
        #expect(b == xs.map(HalfFloat.bf16Bits))
        HalfFloat.convertF16ToF32(h, &back, xs.count)
        #expect(back == h.map { HalfFloat.f32(f16: $0) })
        HalfFloat.convertBF16ToF32(b, &back, xs.count)
        #expect(back == b.map { HalfFloat.f32(bf16: $0) })
    }
}
