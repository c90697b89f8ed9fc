import Foundation
import QKCore
import QuantFormats
@testable import Quantization
import Testing

/// `FFNSmoothing`: which channels are scaled and by how much, that the scaled FFN is the same
/// network, and which layers qualify. (Its effect on a real model's divergence is tested in
/// CLITests, `smoothFFNLowersTheKLDivergence`.)
struct FFNSmoothingTests {
    /// A layer of `n` channels whose mean squares are 1 except a few outliers.
    func meanSquares(_ n: Int, outliers: [Int: Float]) -> [Float] {
        var v = (0 ..< n).map { 0.5 + Float($0 % 7) / 7 }
        for (j, x) in outliers { v[j] = x }
        return v
    }

    @Test func outliersComeDownToThePercentile() {
        let v = meanSquares(512, outliers: [3: 900, 100: 40, 200: 1e9])
        let k = FFNSmoothing.exponents(meanSquares: v)
        // The 99th percentile is one of the ordinary channels (≈ 1.36): 900 is 2^9.4 above,
        // a factor 2^4 on the value; 40 is 2^4.9 above, 2^2; 1e9 is capped.
        #expect(k[3] == 4 && k[100] == 2 && k[200] == FFNSmoothing.maxExponent)
        #expect(k.enumerated().allSatisfy { j, e in [3, 100, 200].contains(j) || e == 0 })
        for j in [3, 100] {
            let scaled = Double(v[j]) / pow(4, Double(k[j]))
            #expect(scaled >= 1 && scaled < 4 * 1.36, "channel \(j): \(scaled)")
        }
    }

    /// `down · (gelu(gate·x) ⊙ up·x)` with the smoothed matrices equals the original's.
    @Test func smoothedFFNIsTheSameNetwork() throws {
        let embd = 64, ff = 256
        var rng = SystemRandomNumberGenerator()
        func matrix(_ rows: Int, _ cols: Int) -> [Float] { (0 ..< rows * cols).map { _ in Float.random(in: -0.1 ... 0.1, using: &rng) } }
        let gate = matrix(ff, embd), up0 = matrix(ff, embd), down0 = matrix(embd, ff)
        let x = (0 ..< embd).map { _ in Float.random(in: -1 ... 1, using: &rng) }
        let plan = [
            PlannedTensor(name: "blk.0.ffn_gate.weight", shape: [embd, ff], inputType: .f32, outputType: .q4_K),
            PlannedTensor(name: "blk.0.ffn_up.weight", shape: [embd, ff], inputType: .f32, outputType: .q4_K),
            PlannedTensor(name: "blk.0.ffn_down.weight", shape: [ff, embd], inputType: .f32, outputType: .q6_K),
        ]
        let ms = meanSquares(ff, outliers: [7: 5000, 130: 300])
        let imatrix = ImportanceMatrix(ImatrixData(entries: ["blk.0.ffn_down.weight": .init(sums: ms, counts: [1])], chunkSize: 512), path: "test")
        let s = FFNSmoothing(plan: plan, imatrix: imatrix)
        #expect(s.layerCount == 1 && s.channelCount == 2)
        var up = up0, down = down0
        let scaleUp = try #require(s.rowTransform(for: "blk.0.ffn_up.weight"))
        let scaleDown = try #require(s.rowTransform(for: "blk.0.ffn_down.weight"))
        #expect(s.rowTransform(for: "blk.0.ffn_gate.weight") == nil)
        up.withUnsafeMutableBufferPointer { p in
            scaleUp(p.baseAddress!, 0, 100, embd)        // in two chunks, as the converter streams rows
            scaleUp(p.baseAddress! + 100 * embd, 100, ff - 100, embd)
        }
        down.withUnsafeMutableBufferPointer { scaleDown($0.baseAddress!, 0, embd, ff) }
        // 5000 / 1.36 (the percentile) is 2^11.8: channel 7's values are divided by 2^5.
        #expect(s.exponents[0]?[7] == 5 && s.exponents[0]?[130] == 3)
        #expect(up[7 * embd] == up0[7 * embd] / 32 && down[7] == down0[7] * 32)
        func ffn(_ up: [Float], _ down: [Float]) -> [Float] {
            let h = (0 ..< ff).map { j -> Float in
                var g: Float = 0, u: Float = 0
                for i in 0 ..< embd { g += gate[j * embd + i] * x[i]; u += up[j * embd + i] * x[i] }
                return 0.5 * g * (1 + Float(tanh(0.7978845608 * Double(g + 0.044715 * g * g * g)))) * u
            }
            return (0 ..< embd).map { r in (0 ..< ff).reduce(Float(0)) { $0 + down[r * ff + $1] * h[$1] } }
        }
        let y0 = ffn(up0, down0), y1 = ffn(up, down)
        // Powers of two: every product is exact, only the sums' order of rounding is shared.
        #expect(y0 == y1)
        // The imatrix of ffn_down follows its input: channel 7's mean square / 4^5.
        let w = s.importance(for: "blk.0.ffn_down.weight", ms)
        #expect(w[7] == ms[7] / 1024 && w[0] == ms[0])
        #expect(s.importance(for: "blk.0.ffn_up.weight", ms) == ms)
    }

    @Test func onlyHighPrecisionGatedLayersQualify() {
        let ms = meanSquares(256, outliers: [1: 5000])
        let imatrix = ImportanceMatrix(ImatrixData(entries: ["blk.0.ffn_down.weight": .init(sums: ms, counts: [1]),
                                                             "blk.1.ffn_down.weight": .init(sums: ms, counts: [1]),
                                                             "blk.2.ffn_down.weight": .init(sums: ms, counts: [1])],
                                                   chunkSize: 512), path: "test")
        func layer(_ l: Int, down: GGMLType, gate: Bool = true) -> [PlannedTensor] {
            [PlannedTensor(name: "blk.\(l).ffn_up.weight", shape: [64, 256], inputType: .f32, outputType: .q4_K),
             PlannedTensor(name: "blk.\(l).ffn_down.weight", shape: [256, 64], inputType: .f32, outputType: down)]
                + (gate ? [PlannedTensor(name: "blk.\(l).ffn_gate.weight", shape: [64, 256], inputType: .f32, outputType: .q4_K)] : [])
        }
        // Layer 0 qualifies; 1 has a 4-bit ffn_down; 2 has no gate (not a gated FFN); 3 has no imatrix entry.
        let plan = layer(0, down: .q5_K) + layer(1, down: .q4_K) + layer(2, down: .q6_K, gate: false) + layer(3, down: .q6_K)
        let s = FFNSmoothing(plan: plan, imatrix: imatrix)
        #expect(s.exponents.keys.sorted() == [0])
        #expect(s.rowTransform(for: "blk.1.ffn_up.weight") == nil && s.rowTransform(for: "blk.1.ffn_down.weight") == nil)
    }
}
