import Evaluation
import Foundation
import GGUF
import Inference
import QKCore
import Testing

/// The engine against llama.cpp's own numbers (Tests/InferenceTests/Fixtures/llama-cpp-reference.json,
/// recorded by scripts/reference/make-engine-fixtures.sh), on the same tokens.
///
/// At F32 the computation is deterministic enough to match llama-perplexity's PPL within 0.1%
/// (measured: 0.002%) and to reproduce its greedy tokens. With quantized weights, activations are
/// rounded to 8 bits before every matmul (as ggml does); a last-bit difference anywhere (summation
/// order) flips some roundings and the flips cascade through the layers, so two correct
/// implementations differ by about as much as the 8-bit rounding itself: our AVX2 and plain
/// reference kernels agree to 1e-7 per dot product, yet their logits differ by KLD 0.004 on
/// SmolLM2-Q8_0. Quantized results are therefore compared statistically: PPL within 1% and mean
/// KLD from the F32 model within 10% of llama.cpp's on 4 chunks (the spread shrinks with more text).
@Suite(.serialized) struct LlamaCppReferenceTests {
    struct Reference {
        let context: Int
        let chunks: Int
        let tokens: [Int32]
        let f32PPL: Double
        let kld: [String: [String: Double]]
        let greedy: [String: [[String: Any]]]
    }

    static func reference(_ model: String) throws -> Reference {
        let root = try Models.reference()
        let m = (root["models"] as! [String: Any])[model] as! [String: Any]
        let ppl = m["perplexity"] as! [String: [String: Double]]
        return Reference(context: root["context"] as! Int, chunks: root["chunks"] as! Int,
                         tokens: (m["tokens"] as! [Int]).map(Int32.init), f32PPL: ppl["F32"]!["ppl"]!,
                         kld: m["kl_divergence"] as! [String: [String: Double]],
                         greedy: m["greedy"] as! [String: [[String: Any]]])
    }

    /// BOS replaces the first token of each chunk when the vocabulary adds one (llama-perplexity).
    static func chunkBOS(_ model: LanguageModel) -> Int32? {
        (model.file["tokenizer.ggml.add_bos_token"]?.bool ?? false) ? model.file["tokenizer.ggml.bos_token_id"]?.int.map(Int32.init) : nil
    }

    @Test(arguments: ["smollm2", "gemma3", "qwen25"])
    func perplexityAndKLDivergence(model name: String) throws {
        let ref = try Self.reference(name)
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = "\(dir)/base.logits"
        let f32 = try LanguageModel(path: try Models.derived(name, "F32"))
        let session = try Session(model: f32, contextLength: ref.context)
        let report = try PerplexityRunner(session: session).run(tokens: ref.tokens, bos: Self.chunkBOS(f32),
                                                                 chunks: ref.chunks, saveLogits: base)
        let rel = abs(report.perplexity - ref.f32PPL) / ref.f32PPL
        #expect(rel < 0.001, "\(name) F32: PPL \(report.perplexity) vs llama.cpp \(ref.f32PPL)")
        for type in ["Q8_0", "Q4_0", "Q4_K_M"] {
            let want = try #require(ref.kld[type])
            let q = try LanguageModel(path: try Models.derived(name, type))
            let s = try Session(model: q, contextLength: ref.context)
            let r = try KLDivergenceRunner(session: s).run(baseFile: base, bos: Self.chunkBOS(q))
            let kl = try #require(r.kl)
            let pplRel = abs(r.perplexity - want["ppl"]!) / want["ppl"]!
            let kldRel = abs(kl.meanKLD.value - want["mean_kld"]!) / want["mean_kld"]!
            print("\(name) \(type): PPL \(r.perplexity) (llama.cpp \(want["ppl"]!), \(pplRel * 100)%), mean KLD \(kl.meanKLD.value) (llama.cpp \(want["mean_kld"]!), \(kldRel * 100)%), same top \(kl.sameTop.value * 100)% (\(want["same_top_percent"]!))")
            #expect(pplRel < 0.01, "\(name) \(type): PPL \(r.perplexity) vs llama.cpp \(want["ppl"]!)")
            #expect(kldRel < 0.10, "\(name) \(type): mean KLD \(kl.meanKLD.value) vs llama.cpp \(want["mean_kld"]!)")
            #expect(abs(kl.sameTop.value * 100 - want["same_top_percent"]!) < 1.5)
        }
    }

    /// Greedy decoding follows llama.cpp's tokens (prompt ids from llama.cpp too). llama.cpp's
    /// 32 greedy tokens are fed back one by one (teacher forcing); at every step its token must be
    /// our most likely one, or within a small logit margin of it: the two engines may only part
    /// where the top candidates are nearly tied (8-bit activation rounding and llama.cpp's F16
    /// accumulation of single-token attention move logits by a few hundredths).
    @Test(arguments: ["smollm2", "gemma3", "qwen25"])
    func greedyGeneration(model name: String) throws {
        let ref = try Self.reference(name)
        for (variant, runs) in ref.greedy {
            let path = variant == "F32" ? try Models.derived(name, "F32") : try Models.path(name)
            let model = try LanguageModel(path: path)
            var exact = 0, total = 0, worstGap: Float = 0
            for run in runs {
                let prompt = (run["prompt_ids"] as! [Int]).map(Int32.init)
                let expected = (run["generated"] as! [Int]).map(Int32.init)
                let session = try Session(model: model, contextLength: 128)
                var logits = try session.evaluateLast(prompt)
                for (i, want) in expected.enumerated() {
                    let top = logits.withUnsafeBufferPointer { Sampler.argmax($0) }
                    let gap = logits[Int(top)] - logits[Int(want)]
                    worstGap = max(worstGap, gap)
                    total += 1
                    if top == want { exact += 1 }
                    #expect(gap < (variant == "F32" ? 0.05 : 0.3),
                            "\(name) \(variant) '\(run["prompt"]!)' step \(i): llama.cpp chose \(want), we prefer \(top) by \(gap)")
                    if i + 1 < expected.count { logits = try session.evaluateLast([want]) }
                }
            }
            print("greedy \(name) \(variant): \(exact)/\(total) steps pick llama.cpp's token; largest logit gap where not: \(worstGap)")
            #expect(Double(exact) >= 0.9 * Double(total))
        }
    }
}
