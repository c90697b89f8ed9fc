import Calibration
import Foundation
import GGUF
import Inference
import QKCore
import Quantization
import Testing
import Tokenizers

/// The engine-measured parts of target-size planning on SmolLM2-135M: sensitivity factors per
/// class and band of layers, and the plan verifier that writes candidate plans and keeps the
/// one with the lowest measured KL divergence.
@Suite(.serialized) struct TargetSizeProbeTests {
    @Test func probeKeysSplitLayersIntoBands() {
        #expect(SensitivityProbe.probeKey("blk.0.ffn_down.weight", layers: 30, bands: 4) == "ffn_down.weight@0-7")
        #expect(SensitivityProbe.probeKey("blk.8.ffn_down.weight", layers: 30, bands: 4) == "ffn_down.weight@8-14")
        #expect(SensitivityProbe.probeKey("blk.22.attn_q.weight", layers: 30, bands: 4) == "attn_q.weight@15-22")
        #expect(SensitivityProbe.probeKey("blk.29.attn_q.weight", layers: 30, bands: 4) == "attn_q.weight@23-29")
        #expect(SensitivityProbe.probeKey("token_embd.weight", layers: 30, bands: 4) == "token_embd.weight")
        #expect(SensitivityProbe.probeKey("blk.1.attn_v.weight", layers: 2, bands: 4) == "attn_v.weight@1-1")
        // Every layer lands in exactly one band, bands cover 0…layers−1 in order.
        for layers in [1, 2, 5, 24, 30, 62] {
            var last = -1
            for l in 0 ..< layers {
                let key = SensitivityProbe.probeKey("blk.\(l).x", layers: layers, bands: 4)
                let range = key.split(separator: "@")[1].split(separator: "-").map { Int($0)! }
                #expect(range[0] <= l && l <= range[1])
                #expect(range[0] == last + 1 || range[0] <= last)
                last = range[1]
            }
            #expect(last == layers - 1)
        }
        let factors = ["ffn_down.weight@0-7": 3.0, "ffn_down.weight@8-14": 2.0, "attn_q.weight": 5.0]
        #expect(SensitivityProbe.factor(for: "blk.3.ffn_down.weight", in: factors) == 3)
        #expect(SensitivityProbe.factor(for: "blk.8.ffn_down.weight", in: factors) == 2)
        #expect(SensitivityProbe.factor(for: "blk.20.ffn_down.weight", in: factors) == nil)
        #expect(SensitivityProbe.factor(for: "blk.20.attn_q.weight", in: factors) == 5)  // factors from before bands
    }

    /// A probe on SmolLM2 F32 (1,100 tokens of the fixture text, temporary files in `work`)
    /// and the measured profiles of `candidates`.
    func smolProbe(imatrix: String?, candidates: [GGMLType], work: String) throws -> (SensitivityProbe, [TensorProfile]) {
        let model = try GGUFModel(path: try Fixtures.model("smollm2", "F32"))
        var planner = try TargetSizePlanner(model: model, imatrixPath: imatrix, candidates: candidates)
        planner.profiler.sampleElements = 1 << 15
        let profiles = try planner.measure()
        let tokenizer = try Tokenizer(model: try LanguageModel(file: model).file)
        let text = try Data(contentsOf: URL(fileURLWithPath: Fixtures.text))
        let tokens = text.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: false, parseSpecial: false) }
        let probe = SensitivityProbe(planner: planner, tokens: Array(tokens.prefix(1100)), bos: tokenizer.addBOS ? tokenizer.bos : nil,
                                     workDirectory: work)
        return (probe, profiles)
    }

    @Test func verifierKeepsTheBestMeasuredPlanThatFits() throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        var (probe, profiles) = try smolProbe(imatrix: nil, candidates: [.q4_0, .q4_1, .q5_0, .q8_0, .q4_K, .q6_K], work: work)
        probe.bands = 2
        let factors = try probe.measure(profiles: profiles)
        // Factors per class and band (8 classes of blk tensors × 2 bands at most: a class and
        // band whose probe type loses nothing against Q8_0 has no factor), plus token_embd.
        let banded = factors.keys.filter { $0.contains("@") }
        #expect(banded.count >= 8 && banded.count <= 16, "\(factors.keys.sorted())")
        #expect(banded.contains("ffn_down.weight@0-14") && banded.contains("ffn_down.weight@15-29"), "\(factors.keys.sorted())")
        #expect(factors["token_embd.weight"] != nil && factors.values.allSatisfy { $0 > 0 && $0.isFinite })

        let weighted = SensitivityProbe.apply(factors, to: profiles)
        // Below the all-Q4_1 size (the shipped model's own grid, lossless) so plans differ.
        let target = SizeTarget.fileBytes(86_000_000)
        var verifier = PlanVerifier(probe: probe)
        verifier.fractions = [1, 0.98, 0.96]
        let (best, trials, chosen) = try verifier.best(target: target, profileSets: [weighted])
        #expect(trials.count == 3)
        let i = try #require(chosen)
        #expect(trials.allSatisfy { $0.fileBytes <= 86_000_000 && $0.measured > 0 })
        #expect(trials[i].measured == trials.map(\.measured).min())
        #expect(best.fileBytes == trials[i].fileBytes && best.target == 86_000_000)
        // Smaller budgets really are smaller plans.
        #expect(trials[2].fileBytes < trials[0].fileBytes)
        // No temporary model or logits left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).isEmpty)
    }

    /// With an imatrix, the verifier also measures its best plan with FFN channels smoothed
    /// (`FFNSmoothing`) and keeps whichever measures lower: on SmolLM2 at about 7.4 bits per
    /// weight with ffn_down in Q6_K (whose Q8_K inputs the smoothing helps), the smoothed model.
    @Test func verifierMeasuresTheSmoothedPlan() throws {
        let work = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (probe, profiles) = try smolProbe(imatrix: try Fixtures.llamaImatrix("smollm2", "F32"),
                                              candidates: [.q5_0, .q5_1, .q5_K, .q6_K, .q8_0], work: work)
        var verifier = PlanVerifier(probe: probe)
        verifier.fractions = [1]
        verifier.trySmoothing = true
        // ffn_down in Q6_K (the weights sit on the shipped model's Q4_1 grid, which Q5_1 and F32
        // would hold exactly), the rest mostly lossless: the inputs' rounding is much of what is lost.
        let sixBitDown = profiles.map { p in
            var p = p
            if p.name.hasSuffix("ffn_down.weight") { p.candidates.removeAll { $0.type != .q6_K } }
            return p
        }
        let (best, trials, chosen) = try verifier.best(target: .fileBytes(125_000_000), profileSets: [sixBitDown])
        #expect(best.plan.filter { $0.name.hasSuffix("ffn_down.weight") }.allSatisfy { $0.outputType == .q6_K })
        try #require(trials.count == 2)
        #expect(!trials[0].smoothed && trials[1].smoothed)
        #expect(trials[1].fileBytes == trials[0].fileBytes && best.fileBytes == trials[0].fileBytes)
        print("SmolLM2 at 125 MB, engine KLD: plain \(trials[0].measured), FFN smoothed \(trials[1].measured)")
        #expect(trials[1].measured < 0.95 * trials[0].measured)
        #expect(chosen == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: work).isEmpty)
    }
}
