import Calibration
import Evaluation
import Foundation
import GGUF
import Inference
import QKCore
import Quantization
import Testing
import Tokenizers

/// Mixture-of-experts importance matrices against llama.cpp, on a tiny Mixtral-style model
/// (`scripts/make_tiny_moe.py`: 2 layers, 4 experts, 2 used, seeded random F32 weights,
/// SmolLM2's tokenizer) and llama.cpp's recorded outputs on it
/// (`scripts/reference/make-moe-fixtures.sh`).
@Suite(.serialized) struct ImatrixMoETests {
    static var reference: [String: Any] {
        let data = try! Data(contentsOf: URL(fileURLWithPath: "\(Fixtures.dir)/llama-cpp-tinymoe.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    private static let lock = NSLock()

    /// The tiny model, generated once under models/derived and checked against the recorded hash.
    static func model() throws -> String {
        lock.lock(); defer { lock.unlock() }
        let out = "\(Fixtures.models)/derived/tiny-moe.gguf"
        if !FileManager.default.fileExists(atPath: out) {
            try FileManager.default.createDirectory(atPath: "\(Fixtures.models)/derived", withIntermediateDirectories: true)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "\(Fixtures.packageRoot)/scripts/make_tiny_moe.py",
                           "\(Fixtures.models)/\(Fixtures.shipped["smollm2"]!)", out + ".tmp"]
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw Failure("scripts/make_tiny_moe.py failed") }
            try FileManager.default.moveItem(atPath: out + ".tmp", toPath: out)
        }
        let sha = try Fixtures.sha256(out)
        guard sha == reference["model_sha256"] as? String else {
            throw Failure("\(out) is not the model llama.cpp's fixtures were made from (sha256 \(sha)); numpy's generator may differ")
        }
        return out
    }

    static func tokens(_ tokenizer: Tokenizer) throws -> [Int32] {
        let text = try Data(contentsOf: URL(fileURLWithPath: Fixtures.text))
        return text.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: true, parseSpecial: false) }
    }

    /// Per-expert sums and counts as llama-imatrix collects MUL_MAT_ID: the same entries, the
    /// same count for every expert of every layer, sums within F32 rounding.
    @Test func expertStatisticsMatchLlamaImatrix() throws {
        let lm = try LanguageModel(path: try Self.model())
        #expect(lm.config.expertCount == 4 && lm.config.expertUsedCount == 2)
        let tokenizer = try Tokenizer(model: lm.file)
        let session = try Session(model: lm, contextLength: 256)
        let result = try ImatrixRunner(session: session).run(tokens: try Self.tokens(tokenizer), bos: tokenizer.addBOS ? tokenizer.bos : nil,
                                                             chunks: 4, dataset: "history.txt")
        let ours = result.data
        let theirs = try ImatrixData(path: "\(Fixtures.dir)/llama-tinymoe-F32.imatrix.gguf")
        #expect(Set(ours.entries.keys) == Set(theirs.entries.keys))
        #expect(theirs.entries.count == 16)
        var rel = Fixtures.compare(ours, theirs)
        // Routing really differs between experts, and every routed row is counted once per slot.
        let down = try #require(ours.entries["blk.1.ffn_down_exps.weight"])
        #expect(down.counts.count == 4 && Set(down.counts).count > 1)
        #expect(down.counts.reduce(0, +) == 2 * 4 * 256)
        rel.sort()
        let median = rel[rel.count / 2], worst = rel.last!
        print("imatrix tiny MoE: relative difference median \(median), max \(worst); PPL \(result.perplexity.perplexity)")
        #expect(median <= 1e-4 && worst <= 1e-2, "median \(median) max \(worst)")
        let ppl = Self.reference["imatrix_perplexity"] as! Double
        #expect(abs(result.perplexity.perplexity / ppl - 1) < 1e-4)
    }

    /// The forward pass (router softmax, top-2, re-normalised weights, expert SwiGLU) gives
    /// llama-perplexity's PPL.
    @Test func perplexityMatchesLlama() throws {
        let lm = try LanguageModel(path: try Self.model())
        let tokenizer = try Tokenizer(model: lm.file)
        let session = try Session(model: lm, contextLength: 256)
        let report = try PerplexityRunner(session: session).run(tokens: try Self.tokens(tokenizer), bos: tokenizer.addBOS ? tokenizer.bos : nil,
                                                                 chunks: 8)
        let ppl = Self.reference["perplexity_8x256"] as! Double
        #expect(abs(report.perplexity / ppl - 1) < 1e-4, "ours \(report.perplexity), llama.cpp \(ppl)")
    }

    /// Expert matrices are collected for every batch, even under 16 tokens (dense ones are not),
    /// and experts no token was routed to keep count 0.
    @Test func smallBatchesCountOnlyRoutedExperts() throws {
        let lm = try LanguageModel(path: try Self.model())
        let session = try Session(model: lm, contextLength: 64)
        let collector = ImatrixCollector(chunkSize: 64)
        session.activationObserver = collector
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: lm.config.vocabularySize)
        defer { logits.deallocate() }
        try session.evaluate([Int32(1234)], outputs: 0 ..< 1, into: logits)
        #expect(Set(collector.data.entries.keys).allSatisfy { $0.contains("_exps.") })
        for (name, e) in collector.data.entries {
            #expect(e.counts.count == 4 && e.counts.reduce(0, +) == 2 && e.counts.filter { $0 == 0 }.count == 2, "\(name): \(e.counts)")
            #expect(e.sums.count == 4 * e.rowLength)
        }
    }

    /// Quantizing the experts with llama-imatrix's per-expert matrix gives llama-quantize's bytes.
    @Test(arguments: ["IQ2_XS", "IQ3_XXS", "IQ4_XS", "Q2_K_S"])
    func quantizeWithExpertMatrixEqualsLlama(type: String) throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = "\(dir)/tiny-moe-\(type).gguf"
        try Fixtures.quantize(try Self.model(), out, type, imatrix: "\(Fixtures.dir)/llama-tinymoe-F32.imatrix.gguf")
        let expected = (Self.reference["quantize"] as! [String: String])[type]
        #expect(try Fixtures.sha256(out, from: try GGUFFile(path: out).dataOffset) == expected)
    }
}
