import Foundation
import GGUF
@testable import Inference
import QKCore
import Testing

/// The forward pass against an independent plain implementation, and the session's bookkeeping.
@Suite struct EngineTests {
    static func tokens(_ n: Int, vocab: Int, seed: UInt64 = 7) -> [Int32] {
        var s = seed
        return (0 ..< n).map { _ in s = s &* 6364136223846793005 &+ 1442695040888963407; return Int32((s >> 33) % UInt64(vocab)) }
    }

    /// Every architecture, F32 weights: engine logits = plain Double forward pass (20 tokens, so
    /// Gemma's 8-token sliding window is exercised), to float accuracy.
    @Test(arguments: ["llama", "qwen2", "gemma3"])
    func matchesPlainForwardPass(arch: String) throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/tiny-\(arch).gguf"
        try TinyModel.write(to: path, arch: arch)
        let toks = Self.tokens(20, vocab: TinyModel.vocab)
        let expected = try NaiveForward(path: path).logits(toks)
        let session = try Session(model: try LanguageModel(path: path), contextLength: 64, batchSize: 64, threads: 2)
        var got = [Float](repeating: 0, count: toks.count * TinyModel.vocab)
        try got.withUnsafeMutableBufferPointer { try session.evaluate(toks, outputs: 0 ..< toks.count, into: $0.baseAddress!) }
        var worst = 0.0
        for t in 0 ..< toks.count {
            let scale = expected[t].map(abs).max()!
            for v in 0 ..< TinyModel.vocab { worst = max(worst, abs(Double(got[t * TinyModel.vocab + v]) - expected[t][v]) / scale) }
        }
        // F16 rounding of the KV cache (as llama.cpp) and the F16 GELU table bound the difference.
        #expect(worst < 5e-3, "max relative logit error \(worst)")
    }

    /// Batched prompt processing, split batches and one token at a time give the same logits.
    @Test(arguments: [GGMLType.f32, .q8_0, .q4_K])
    func batchingDoesNotChangeResults(type: GGMLType) throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/tiny.gguf"
        try TinyModel.write(to: path, arch: "llama", type: type == .q4_K ? .q8_0 : type)
        let model = try LanguageModel(path: path)
        let toks = Self.tokens(37, vocab: TinyModel.vocab, seed: 3)
        let v = TinyModel.vocab
        func run(batch: Int) throws -> [Float] {
            let s = try Session(model: model, contextLength: 64, batchSize: batch, threads: 2)
            var out = [Float](repeating: 0, count: toks.count * v)
            try out.withUnsafeMutableBufferPointer { try s.evaluate(toks, outputs: 0 ..< toks.count, into: $0.baseAddress!) }
            return out
        }
        let whole = try run(batch: 64), split = try run(batch: 5)
        let s = try Session(model: model, contextLength: 64, threads: 2)
        var single: [Float] = []
        for t in toks { single += try s.evaluateLast([t]) }
        #expect(s.position == toks.count)
        for (a, b) in [(whole, split), (whole, single)] {
            let worst = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-3 * (a.map(abs).max()!), "max difference \(worst)")
        }
    }

    @Test func unsupportedArchitectureIsNamed() throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TinyModel.write(to: "\(dir)/m.gguf", arch: "mamba")
        let e = #expect(throws: QuantKitError.self) { try LanguageModel(path: "\(dir)/m.gguf") }
        #expect(e?.description.contains("mamba") == true && e?.description.contains("llama, qwen2, gemma3") == true)
        #expect(e?.description.contains("m.gguf") == true)
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TinyModel.write(to: "\(dir)/m.gguf", omit: ["blk.1.ffn_up.weight"])
        let e = #expect(throws: QuantKitError.self) { try LanguageModel(path: "\(dir)/m.gguf") }
        #expect(e?.description.contains("blk.1.ffn_up.weight") == true)
    }

    @Test func contextAndVocabularyLimits() throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try TinyModel.write(to: "\(dir)/m.gguf", context: 32)
        let model = try LanguageModel(path: "\(dir)/m.gguf")
        let long = #expect(throws: QuantKitError.self) { try Session(model: model, contextLength: 64) }
        #expect(long?.description.contains("trained context of 32") == true)
        let s = try Session(model: model, contextLength: 8, threads: 1)
        #expect(throws: QuantKitError.self) { _ = try s.evaluateLast([0, Int32(TinyModel.vocab)]) }
        _ = try s.evaluateLast(Self.tokens(8, vocab: TinyModel.vocab))
        let full = #expect(throws: QuantKitError.self) { _ = try s.evaluateLast([1]) }
        #expect(full?.description.contains("context is full") == true)
        s.reset()
        _ = try s.evaluateLast([1])
    }
}
