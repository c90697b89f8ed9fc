@testable import Calibration
import DotKernels
import Foundation
import GGUF
@testable import Inference
import QKCore
import Quantization
import Testing
import Tokenizers

/// The cost of rounding a matrix's input to its weight type's activation format (Q8_0, Q8_1,
/// Q8_K, F16), which target-size planning adds to the weights' own error.
@Suite(.serialized) struct ActivationRoundingTests {
    /// Heavy-tailed rows: small values with one large outlier per 256 columns.
    static func rows(tokens: Int, n: Int) -> [Float] {
        (0 ..< tokens * n).map { i in
            let (t, j) = (i / n, i % n)
            let base = Float(sin(Double(i) * 0.731 + Double(t)) * 0.8 + cos(Double(j) * 1.37) * 0.3)
            return j % 256 == 17 + t ? base * 60 : base
        }
    }

    /// ggml's rounding, written out here: Q8_0 (scale amax/127 stored as f16, round half away)
    /// and Q8_K (scale −max/127 for the signed extreme, stored as f32).
    static func expected(_ x: [Float], tokens: Int, n: Int) -> (q8_0: [Double], q8K: [Double]) {
        var a = [Double](repeating: 0, count: n), b = [Double](repeating: 0, count: n)
        for t in 0 ..< tokens {
            let row = Array(x[t * n ..< (t + 1) * n])
            for s in stride(from: 0, to: n, by: 32) {
                let amax = row[s ..< s + 32].map(abs).max()!
                let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
                for j in s ..< s + 32 {
                    let back = Float(Float16(d)) * (row[j] * id).rounded(.toNearestOrAwayFromZero)
                    a[j] += Double(row[j] - back) * Double(row[j] - back)
                }
            }
            for s in stride(from: 0, to: n, by: 256) {
                let extreme = row[s ..< s + 256].max { abs($0) < abs($1) }!
                let iscale = -127 / extreme
                for j in s ..< s + 256 {
                    let q = min(127, (iscale * row[j]).rounded(.toNearestOrEven))
                    let back = (1 / iscale) * q
                    b[j] += Double(row[j] - back) * Double(row[j] - back)
                }
            }
        }
        return (a.map { $0 / Double(tokens) }, b.map { $0 / Double(tokens) })
    }

    @Test func collectorMeasuresTheEnginesRounding() throws {
        let (tokens, n) = (3, 512)
        let x = Self.rows(tokens: tokens, n: n)
        let weights = [Float](repeating: 0, count: 4 * n)
        let collector = ActivationRoundingCollector()
        weights.withUnsafeBytes { w in
            let kernel = DotKernel.reference(.f32)!
            let matrices = ["blk.0.ffn_gate.weight", "blk.0.ffn_up.weight"].map {
                Matrix(name: $0, type: .f32, rows: 4, cols: n, data: w.baseAddress!, rowBytes: 4 * n, kernel: kernel)
            }
            x.withUnsafeBufferPointer { collector.observe(matrices, input: $0.baseAddress!, tokens: tokens, pool: .shared, threads: 1) }
        }
        let stats = collector.statistics
        let gate = try #require(stats["blk.0.ffn_gate.weight"]), up = try #require(stats["blk.0.ffn_up.weight"])
        #expect(gate.tokens == tokens && up.tokens == tokens)
        #expect(gate.meanSquaredError == up.meanSquaredError)  // one input, one measurement
        for j in [0, 17, 300] {
            let ms = (0 ..< tokens).reduce(0.0) { $0 + Double(x[$1 * n + j]) * Double(x[$1 * n + j]) } / Double(tokens)
            #expect(abs(gate.meanSquare[j] - ms) <= 1e-12 * ms)
        }

        let (q8_0, q8K) = Self.expected(x, tokens: tokens, n: n)
        let got0 = try #require(gate.meanSquaredError["Q8_0"]), gotK = try #require(gate.meanSquaredError["Q8_K"])
        for j in 0 ..< n {
            #expect(abs(got0[j] - q8_0[j]) <= 1e-12 + 1e-9 * q8_0[j], "Q8_0 column \(j)")
            #expect(abs(gotK[j] - q8K[j]) <= 1e-12 + 1e-9 * q8K[j], "Q8_K column \(j)")
        }
        // An outlier sets the step of a whole Q8_K block: far coarser than Q8_0's 32-value blocks.
        let ones = [Double](repeating: 1, count: n)
        let c0 = gate.cost(of: .q5_0, columnEnergy: ones), c1 = gate.cost(of: .q4_1, columnEnergy: ones)
        let cK = gate.cost(of: .q4_K, columnEnergy: ones), c16 = gate.cost(of: .f16, columnEnergy: ones)
        #expect(c0 == q8_0.reduce(0, +) || abs(c0 - q8_0.reduce(0, +)) < 1e-9 * c0)
        #expect(cK > 4 * c0, "Q8_K \(cK) vs Q8_0 \(c0)")
        #expect(c1 > 0.5 * c0 && c1 < 2 * c0, "Q8_1 \(c1) vs Q8_0 \(c0)")
        #expect(c16 > 0 && c16 < c0 / 100)
        #expect(gate.cost(of: .f32, columnEnergy: ones) == 0)
        // Column energies weight the columns.
        var energy = ones
        energy[17] = 0
        #expect(abs(gate.cost(of: .q4_K, columnEnergy: energy) - (cK - gotK[17])) < 1e-9 * cK)
    }

    @Test func roundingCostsOnSmolLM2() throws {
        let path = try Fixtures.model("smollm2", "F32")
        let model = try GGUFModel(path: path)
        var planner = try TargetSizePlanner(model: model, imatrixPath: nil, candidates: [.q4_1, .q4_K])
        planner.profiler.sampleElements = 1 << 14
        let lm = try LanguageModel(file: model)
        let tokenizer = try Tokenizer(model: lm.file)
        let text = try Data(contentsOf: URL(fileURLWithPath: Fixtures.text))
        let tokens = text.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: false, parseSpecial: false) }
        var probe = SensitivityProbe(planner: planner, tokens: Array(tokens.prefix(600)), bos: tokenizer.addBOS ? tokenizer.bos : nil,
                                     workDirectory: NSTemporaryDirectory())
        probe.context = 256
        let stats = try probe.activationRounding()
        // Every matrix the forward pass multiplies with, the tied output head included.
        for name in ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"] {
            #expect(stats["blk.29.\(name).weight"] != nil, "blk.29.\(name)")
        }
        let head = try #require(stats["token_embd.weight"])
        #expect(head.tokens > 0)
        #expect(stats["blk.3.attn_q.weight"]?.meanSquaredError == stats["blk.3.attn_v.weight"]?.meanSquaredError)

        // The ffn_down input (SwiGLU products, heavy-tailed) costs far more in Q8_K than in Q8_1.
        let profiles = try planner.measure().filter { $0.name.hasSuffix("ffn_down.weight") }
        let costs = try ActivationRounding.costs(stats, profiles: profiles, model: model, weighted: { _ in true })
        let raised = ActivationRounding.apply(costs, to: profiles)
        var ratios: [Double] = []
        for (p, r) in zip(profiles, raised) {
            func added(_ t: GGMLType) -> Double {
                r.candidates.first { $0.type == t }!.error - p.candidates.first { $0.type == t }!.error
            }
            #expect(added(.q4_1) > 0 && added(.q4_K) > added(.q4_1), "\(p.name)")
            ratios.append(added(.q4_K) / added(.q4_1))
        }
        #expect(ratios.sorted()[ratios.count / 2] > 2, "median Q8_K/Q8_1 cost ratio \(ratios.sorted()[ratios.count / 2])")
        // Without importance weights a cost is in units of Σ δw² (inputs of mean square 1).
        let unweighted = try ActivationRounding.costs(stats, profiles: profiles, model: model, weighted: { _ in false })
        let down = profiles[0].name, ms = stats[down]!.meanSquare.reduce(0, +) / Double(stats[down]!.meanSquare.count)
        #expect(abs(unweighted[down]![.q4_K]! * ms - costs[down]![.q4_K]!) < 1e-9 * costs[down]![.q4_K]!)

        // The scale makes the all-Q8_0 estimate (weights + scaled activations) equal the floor.
        let sumW = profiles.reduce(0.0) { $0 + $1.candidates.first { $0.type == .q4_1 }!.error }
        let sumA = profiles.reduce(0.0) { $0 + costs[$1.name]![.q4_1]! }
        let k = ActivationRounding.floorScale(measured: sumW + 0.5 * sumA, base: .q4_1, costs: costs, profiles: profiles)
        #expect(abs(k - 0.5) < 1e-9)
        #expect(ActivationRounding.floorScale(measured: 0, base: .q4_1, costs: costs, profiles: profiles) == 0.02)
        #expect(ActivationRounding.floorScale(measured: sumW + 100 * sumA, base: .q4_1, costs: costs, profiles: profiles) == 4)
    }
}
