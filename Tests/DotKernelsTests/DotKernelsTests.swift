import Foundation
import Testing
import DotKernels
import QKCore
import QuantFormats

/// Every weight type QuantKit multiplies.
let allTypes: [GGMLType] = [.q8_0, .q4_0, .q4_1, .q4_K, .q6_K, .q5_0, .q5_1, .q5_K, .f16, .f32, .q3_K, .q2_K,
                            .iq4_nl, .iq4_xs, .bf16, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s, .iq1_s, .iq1_m,
                            .tq1_0, .tq2_0, .mxfp4]

/// Row lengths per type: the brief's real-model sizes where the block size allows.
func rowLengths(_ t: GGMLType) -> [Int] {
    switch t.blockSize {
    case 256: [256, 768, 4864]
    case 32: [256, 576, 640, 896, 4864]
    default: [100, 256, 576, 896, 4864]
    }
}

/// xorshift64* with Box–Muller: reproducible Gaussian data.
struct Gaussian {
    var s: UInt64
    init(seed: UInt64) { s = seed | 1 }
    mutating func uniform() -> Double {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27
        return (Double((s &* 2685821657736338717) >> 11) + 0.5) / 9007199254740992.0
    }
    mutating func next() -> Float {
        Float((-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
    }
    mutating func floats(_ count: Int, scale: Float = 1) -> [Float] { (0 ..< count).map { _ in scale * next() } }
}

/// `rows` weight rows of `type`, quantized from Gaussian data (with a random imatrix when the type
/// requires one), plus their dequantized values.
func weights(_ type: GGMLType, rows: Int, n: Int, seed: UInt64) throws -> (bytes: [UInt8], values: [Float]) {
    var g = Gaussian(seed: seed)
    let x = g.floats(rows * n, scale: 0.02)
    let imp: [Float]? = QuantCodec.requiresImportance(type) ? (0 ..< n).map { _ in Float(0.5 + g.uniform()) } : nil
    var bytes = [UInt8](repeating: 0, count: rows * type.rowSize(n))
    try x.withUnsafeBufferPointer { xp in
        try bytes.withUnsafeMutableBytes { bp in
            if let imp {
                try imp.withUnsafeBufferPointer { ip in
                    try QuantCodec.quantize(type, src: xp.baseAddress!, dst: bp.baseAddress!, rows: rows, n: n, importance: ip.baseAddress!)
                }
            } else {
                try QuantCodec.quantize(type, src: xp.baseAddress!, dst: bp.baseAddress!, rows: rows, n: n)
            }
        }
    }
    var values = [Float](repeating: 0, count: rows * n)
    try bytes.withUnsafeBytes { bp in
        try values.withUnsafeMutableBufferPointer { vp in
            try QuantCodec.dequantize(type, src: bp.baseAddress!, dst: vp.baseAddress!, count: rows * n)
        }
    }
    return (bytes, values)
}

/// Converts `tokens` rows of x with `kernel`, returning the bytes and their dequantized values.
func activations(_ kernel: DotKernel, _ x: [Float], tokens: Int, n: Int) -> (bytes: [UInt8], values: [Float]) {
    var bytes = [UInt8](repeating: 0, count: tokens * kernel.activationRowBytes(n: n))
    x.withUnsafeBufferPointer { xp in
        bytes.withUnsafeMutableBytes { bp in
            kernel.quantizeActivations(xp.baseAddress!, xStride: n, tokens: tokens, n: n, into: bp.baseAddress!)
        }
    }
    var values = [Float](repeating: 0, count: tokens * n)
    let rb = kernel.activationRowBytes(n: n)
    bytes.withUnsafeBytes { bp in
        values.withUnsafeMutableBufferPointer { vp in
            for t in 0 ..< tokens { Activations.dequantizeRow(kernel.activationType, bp.baseAddress! + t * rb, vp.baseAddress! + t * n, n) }
        }
    }
    return (bytes, values)
}

/// Σ|w_k·a_k| of one weight row and one activation row (both dequantized): the scale of the
/// rounding differences allowed between two correct implementations.
func magnitude(_ w: ArraySlice<Float>, _ a: ArraySlice<Float>) -> Double {
    zip(w, a).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
}

/// Q4_1/Q5_1 on Q8_1: ggml multiplies the weight minimum m by the activation block's stored
/// s = F16(d·Σq), not by d·Σq; this returns Σ_blocks |m|·|s − d·Σq|, the part of the difference
/// from the dequantized product that comes from that rounding (0 for other types).
func q8_1Allowance(_ type: GGMLType, n: Int, _ w: [UInt8], row: Int, _ a: [UInt8], token: Int) -> Double {
    guard type == .q4_1 || type == .q5_1 else { return 0 }
    return w.withUnsafeBytes { wp in
        a.withUnsafeBytes { ap in
            let x = wp.baseAddress! + row * type.rowSize(n), y = ap.baseAddress! + token * GGMLType.q8_1.rowSize(n)
            var total = 0.0
            for b in 0 ..< n / 32 {
                let m = HalfFloat.f32(f16: x.loadUnaligned(fromByteOffset: b * type.typeSize + 2, as: UInt16.self))
                let d = HalfFloat.f32(f16: y.loadUnaligned(fromByteOffset: 36 * b, as: UInt16.self))
                let sv = HalfFloat.f32(f16: y.loadUnaligned(fromByteOffset: 36 * b + 2, as: UInt16.self))
                var q = 0
                for j in 0 ..< 32 { q += Int(y.load(fromByteOffset: 36 * b + 4 + j, as: Int8.self)) }
                total += abs(Double(m)) * abs(Double(sv) - Double(d) * Double(q))
            }
            return total
        }
    }
}

func dot(_ k: DotKernel, n: Int, _ w: [UInt8], row: Int, _ a: [UInt8], token: Int) -> Float {
    w.withUnsafeBytes { wp in
        a.withUnsafeBytes { ap in
            k.dotRow(n, wp.baseAddress! + row * k.weightType.rowSize(n), ap.baseAddress! + token * k.activationRowBytes(n: n))
        }
    }
}

@Suite("Activation conversion")
struct ActivationTests {
    @Test("AVX2 conversion is byte-identical with the Swift reference", arguments: [GGMLType.q8_0, .q8_1, .q8_K, .f16, .bf16, .f32])
    func fastMatchesReference(type: GGMLType) throws {
        try #require(DotKernel.hasAVX2, "no AVX2 on this CPU")
        var g = Gaussian(seed: 7)
        for n in [256, 512, 4864] {
            var x = g.floats(n)
            x[3] = 0; x[40] = -x[41]   // ties in magnitude and a zero
            for i in 64 ..< 96 { x[i] = 0 }   // an all-zero block
            if n > 512 { for i in 256 ..< 512 { x[i] = 0 } }   // an all-zero Q8_K super-block
            var fast = [UInt8](repeating: 0xAA, count: type.rowSize(n)), ref = [UInt8](repeating: 0x55, count: type.rowSize(n))
            let wt: GGMLType = switch type {
            case .q8_0: .q8_0
            case .q8_1: .q4_1
            case .q8_K: .q4_K
            default: type
            }
            let k = try #require(DotKernel.avx2(wt))
            #expect(k.activationType == type)
            x.withUnsafeBufferPointer { xp in
                fast.withUnsafeMutableBytes { k.quantizeRow(xp.baseAddress!, $0.baseAddress!, n) }
                ref.withUnsafeMutableBytes { _ = Activations.quantizeRow(type, xp.baseAddress!, $0.baseAddress!, n) }
            }
            #expect(fast == ref, "\(type) n=\(n)")
        }
    }

    @Test("Q8_0 rounds halves to even, like ggml's AVX2 quantizer")
    func q8_0RoundsToEven() {
        var x = [Float](repeating: 0, count: 32)
        x[0] = 127   // d = 1, scale 127/127 = 1
        x[1] = 0.5; x[2] = 1.5; x[3] = 2.5; x[4] = -0.5; x[5] = -2.5
        var y = [UInt8](repeating: 0, count: 34)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBytes { _ = Activations.quantizeRow(.q8_0, xp.baseAddress!, $0.baseAddress!, 32) } }
        #expect(HalfFloat.f32(f16: UInt16(y[0]) | UInt16(y[1]) << 8) == 1)
        #expect(y[2 ..< 8].map { Int8(bitPattern: $0) } == [127, 0, 2, 2, 0, -2])
    }

    @Test("Q8_K: scale from the first value of largest magnitude, bsums of 16")
    func q8_K() {
        var x = [Float](repeating: 0.25, count: 256)
        x[10] = -2; x[20] = 2   // first extreme is negative: iscale = -127 / -2
        var y = [UInt8](repeating: 0, count: 292)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBytes { _ = Activations.quantizeRow(.q8_K, xp.baseAddress!, $0.baseAddress!, 256) } }
        y.withUnsafeBytes { p in
            #expect(p.loadUnaligned(as: Float.self) == 1 / (-127 / Float(-2)))
            #expect(p.load(fromByteOffset: 4 + 10, as: Int8.self) == -127)
            #expect(p.load(fromByteOffset: 4 + 20, as: Int8.self) == 127)
            #expect(p.load(fromByteOffset: 4, as: Int8.self) == 16)   // 0.25 · 63.5 = 15.875 → 16
            #expect(p.loadUnaligned(fromByteOffset: 260, as: Int16.self) == 15 * 16 - 127)
            #expect(p.loadUnaligned(fromByteOffset: 262, as: Int16.self) == 15 * 16 + 127)
        }
    }
}

@Suite("Dot products")
struct DotTests {
    @Test("AVX2 dot == Swift reference dot (integer parts exact, float order only)", arguments: allTypes)
    func fastMatchesReference(type: GGMLType) throws {
        try #require(DotKernel.hasAVX2, "no AVX2 on this CPU")
        let fast = try #require(DotKernel.avx2(type), "\(type) has no AVX2 kernel")
        let ref = try #require(DotKernel.reference(type))
        #expect(fast.activationType == ref.activationType)
        for (i, n) in rowLengths(type).enumerated() {
            let rows = 5, tokens = 3
            let (w, wv) = try weights(type, rows: rows, n: n, seed: UInt64(100 + i))
            var g = Gaussian(seed: UInt64(200 + i))
            let x = g.floats(tokens * n)
            let (af, _) = activations(fast, x, tokens: tokens, n: n)
            let (ar, av) = activations(ref, x, tokens: tokens, n: n)
            #expect(af == ar, "\(type) n=\(n): activation rows differ")
            for r in 0 ..< rows {
                for t in 0 ..< tokens {
                    let f = dot(fast, n: n, w, row: r, af, token: t), e = dot(ref, n: n, w, row: r, ar, token: t)
                    let mag = magnitude(wv[r * n ..< (r + 1) * n], av[t * n ..< (t + 1) * n])
                    #expect(abs(Double(f) - Double(e)) <= 1e-5 * mag + 1e-30, "\(type) n=\(n) row \(r) token \(t): \(f) vs \(e)")
                }
            }
        }
    }

    @Test("Reference dot == Double dot of the dequantized weights and activations", arguments: allTypes)
    func referenceMatchesDequantized(type: GGMLType) throws {
        let ref = try #require(DotKernel.reference(type))
        for (i, n) in rowLengths(type).enumerated() {
            let rows = 4, tokens = 2
            let (w, wv) = try weights(type, rows: rows, n: n, seed: UInt64(300 + i))
            var g = Gaussian(seed: UInt64(400 + i))
            let (a, av) = activations(ref, g.floats(tokens * n), tokens: tokens, n: n)
            var nonzero = 0
            for r in 0 ..< rows {
                for t in 0 ..< tokens {
                    let wr = wv[r * n ..< (r + 1) * n], ar = av[t * n ..< (t + 1) * n]
                    let exact = zip(wr, ar).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    let got = dot(ref, n: n, w, row: r, a, token: t)
                    let allowed = 1e-5 * magnitude(wr, ar) + 1.001 * q8_1Allowance(type, n: n, w, row: r, a, token: t) + 1e-30
                    #expect(abs(Double(got) - exact) <= allowed, "\(type) n=\(n) row \(r) token \(t): \(got) vs \(exact)")
                    if got != 0 { nonzero += 1 }
                }
            }
            #expect(nonzero > 0, "\(type): all dot products are zero")
        }
    }

    @Test("Reference kernel agrees with the dequantize-then-F32 kernel")
    func referenceVsDequantizing() throws {
        // Activation rounding (Q8) makes these differ by more than float order: a loose check that
        // the quantized activations stay close to the exact product.
        for type in [GGMLType.q4_0, .q4_K, .q6_K, .iq4_xs] {
            let n = 1024
            let ref = try #require(DotKernel.reference(type)), deq = try #require(DotKernel.dequantizing(type))
            let (w, wv) = try weights(type, rows: 2, n: n, seed: 9)
            var g = Gaussian(seed: 10)
            let x = g.floats(n)
            let (a1, _) = activations(ref, x, tokens: 1, n: n)
            let (a2, _) = activations(deq, x, tokens: 1, n: n)
            for r in 0 ..< 2 {
                let mag = magnitude(wv[r * n ..< (r + 1) * n], x[0 ..< n])
                let d = abs(Double(dot(ref, n: n, w, row: r, a1, token: 0)) - Double(dot(deq, n: n, w, row: r, a2, token: 0)))
                #expect(d <= 0.02 * mag, "\(type) row \(r)")
            }
        }
    }
}

@Suite("Matmul")
struct MatmulTests {
    /// matmul over `rows` of a `totalRows` matrix into a strided output must equal dotRow per
    /// element and leave every other output untouched.
    func check(_ k: DotKernel, type: GGMLType, n: Int, tokens: Int, tiled: Bool?) throws {
        let totalRows = 27
        let rows = 3 ..< 24   // 21 rows: not a multiple of the 8-row panels, odd start
        let (w, wv) = try weights(type, rows: totalRows, n: n, seed: UInt64(500 + tokens))
        var g = Gaussian(seed: UInt64(600 + tokens))
        let (a, av) = activations(k, g.floats(tokens * n), tokens: tokens, n: n)
        let outStride = totalRows + 5
        var out = [Float](repeating: .nan, count: tokens * outStride)
        w.withUnsafeBytes { wp in
            a.withUnsafeBytes { ap in
                out.withUnsafeMutableBufferPointer { op in
                    if let tiled {
                        k.matmul(n: n, weights: wp.baseAddress!, weightRowBytes: type.rowSize(n), rows: rows, activations: ap.baseAddress!,
                                 tokens: tokens, out: op.baseAddress!, outStride: outStride, tiled: tiled)
                    } else {
                        k.matmul(n: n, weights: wp.baseAddress!, weightRowBytes: type.rowSize(n), rows: rows, activations: ap.baseAddress!,
                                 tokens: tokens, out: op.baseAddress!, outStride: outStride)
                    }
                }
            }
        }
        for t in 0 ..< tokens {
            for r in 0 ..< outStride {
                let o = out[t * outStride + r]
                if !rows.contains(r) {
                    #expect(o.isNaN, "\(type) wrote outside the row range: token \(t) row \(r)")
                    continue
                }
                let e = dot(k, n: n, w, row: r, a, token: t)
                let mag = magnitude(wv[r * n ..< (r + 1) * n], av[t * n ..< (t + 1) * n])
                #expect(abs(Double(o) - Double(e)) <= 1e-5 * mag + 1e-30, "\(type) n=\(n) tokens=\(tokens) row \(r) token \(t): \(o) vs \(e)")
            }
        }
    }

    @Test("matmul == dotRow for 1, 3, 8, 17 tokens over an odd row range", arguments: allTypes)
    func matmulMatchesDot(type: GGMLType) throws {
        let k = try #require(DotKernel.forWeights(type))
        let n = type.blockSize == 1 ? 203 : type.blockSize == 32 ? 320 : 512   // 203: float tails
        for tokens in [1, 3, 8, 17] {
            try check(k, type: type, n: n, tokens: tokens, tiled: nil)
            if k.implementation == .avx2 {
                try check(k, type: type, n: n, tokens: tokens, tiled: true)
                try check(k, type: type, n: n, tokens: tokens, tiled: false)
            }
        }
    }

    @Test("The Swift reference matmul matches its dot products too")
    func referenceMatmul() throws {
        for type in [GGMLType.q4_0, .q4_K, .f16] {
            try check(try #require(DotKernel.reference(type)), type: type, n: 256, tokens: 3, tiled: nil)
        }
    }

    @Test("forWeights picks the AVX2 kernel when the CPU has it")
    func selection() throws {
        for type in allTypes {
            let k = try #require(DotKernel.forWeights(type))
            #expect(k.implementation == (DotKernel.hasAVX2 ? .avx2 : .reference), "\(type)")
            #expect(k.weightType == type)
        }
        #expect(DotKernel.forWeights(.i32) == nil)
    }
}
