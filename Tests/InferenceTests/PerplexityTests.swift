import Evaluation
import Foundation
import GGUF
import Inference
import QKCore
import Testing
import Tokenizers

/// Perplexity plumbing: tokenization as llama-perplexity, logits files, KLD bookkeeping, errors.
@Suite struct PerplexityTests {
    /// Our tokenization of the evaluation text is llama.cpp's (the tokens llama-perplexity evaluated).
    @Test(arguments: ["smollm2", "gemma3", "qwen25"])
    func textTokenizesAsLlamaPerplexity(model name: String) throws {
        let ref = try LlamaCppReferenceTests.reference(name)
        let tokenizer = try Tokenizer(path: try Models.path(name))
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Models.dir)/text/eng/history.txt"))
        let ids = data.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: true) }
        #expect(Array(ids.prefix(ref.tokens.count)) == ref.tokens)
    }

    /// A model compared with its own saved distributions: KLD ≈ 0 (16-bit compression only),
    /// same top token everywhere, identical PPL; the file has llama-perplexity's layout.
    @Test func selfComparisonIsNearZero() throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try LanguageModel(path: try Models.path("smollm2"))
        let session = try Session(model: model, contextLength: 128)
        let tokens = try LlamaCppReferenceTests.reference("smollm2").tokens
        let base = "\(dir)/base.logits"
        let r = try PerplexityRunner(session: session).run(tokens: tokens, bos: nil, chunks: 2, saveLogits: base)
        let size = try FileManager.default.attributesOfItem(atPath: base)[.size] as! Int
        #expect(size == 20 + 2 * 128 * 4 + 2 * 63 * LogitsFile.recordWidth(vocabulary: 49152) * 2)
        let k = try KLDivergenceRunner(session: session).run(baseFile: base, bos: nil)
        let kl = try #require(k.kl)
        #expect(abs(k.perplexity - r.perplexity) / r.perplexity < 1e-3)
        #expect(kl.meanKLD.value < 1e-4 && kl.sameTop.value == 1)
        #expect(r.runningPerplexity.count == 2 && r.scoredTokens == 2 * 63)
    }

    @Test func tooShortTextAndBadBaseFilesAreClearErrors() throws {
        let dir = try Models.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try LanguageModel(path: try Models.path("smollm2"))
        let session = try Session(model: model, contextLength: 64)
        let short = #expect(throws: QuantKitError.self) {
            _ = try PerplexityRunner(session: session).run(tokens: Array(repeating: 1, count: 100), bos: nil)
        }
        #expect(short?.description.contains("needs at least 128") == true)
        // Not a logits file; a truncated one; one made for another vocabulary.
        try Data("hello world, this is not it".utf8).write(to: URL(fileURLWithPath: "\(dir)/a.logits"))
        let notLogits = #expect(throws: QuantKitError.self) { _ = try KLDivergenceRunner(session: session).run(baseFile: "\(dir)/a.logits", bos: nil) }
        #expect(notLogits?.description.contains("a.logits") == true)
        var header = Data("_logits_".utf8)
        for v: Int32 in [64, 49152, 3] { withUnsafeBytes(of: v.littleEndian) { header.append(contentsOf: $0) } }
        try header.write(to: URL(fileURLWithPath: "\(dir)/b.logits"))
        let truncated = #expect(throws: QuantKitError.self) { _ = try KLDivergenceRunner(session: session).run(baseFile: "\(dir)/b.logits", bos: nil) }
        #expect(truncated?.description.contains("truncated") == true)
        var other = Data("_logits_".utf8)
        for v: Int32 in [64, 1000, 1] { withUnsafeBytes(of: v.littleEndian) { other.append(contentsOf: $0) } }
        other.append(Data(count: 64 * 4 + 31 * LogitsFile.recordWidth(vocabulary: 1000) * 2))
        try other.write(to: URL(fileURLWithPath: "\(dir)/c.logits"))
        let vocab = #expect(throws: QuantKitError.self) { _ = try KLDivergenceRunner(session: session).run(baseFile: "\(dir)/c.logits", bos: nil) }
        #expect(vocab?.description.contains("vocabulary of 1000") == true)
    }
}
