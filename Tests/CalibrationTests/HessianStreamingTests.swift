import Calibration
import Evaluation
import Foundation
import GGUF
import Inference
import QKCore
import Quantization
import Testing
import Tokenizers

/// GPTQ's statistics streamed a window of inputs at a time (bounded memory) against the same
/// statistics collected all at once, on SmolLM2-135M: the same moments bit for bit, the same
/// saved file, the same quantized model, with the memory held never above the budget.
@Suite(.serialized) struct HessianStreamingTests {
    static func calibration(_ lm: LanguageModel) throws -> (session: Session, tokens: [Int32], bos: Int32?) {
        let tokenizer = try Tokenizer(model: lm.file)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(Fixtures.models)/text/eng/philosophy.txt"))
        let tokens = data.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: false, parseSpecial: false) }
        let session = try Session(model: lm, contextLength: 128, batchSize: 128)
        return (session, Array(tokens.prefix(2048)), tokenizer.addBOS ? tokenizer.bos : nil)
    }

    /// Every moment at once, the way GPTQ collected them before streaming.
    static func eager(_ c: (session: Session, tokens: [Int32], bos: Int32?)) throws -> Hessians {
        let collector = HessianCollector()
        c.session.activationObserver = collector
        defer { c.session.activationObserver = nil }
        _ = try PerplexityRunner(session: c.session).run(tokens: c.tokens, bos: c.bos, chunks: 1)
        return collector.hessians
    }

    /// SmolLM2, every moment collected at once, and a streaming source on the same tokens.
    static func setUp() throws -> (path: String, lm: LanguageModel, all: Hessians, source: CalibrationHessians) {
        let path = try Fixtures.model("smollm2", "F32")
        let lm = try LanguageModel(path: path)
        let c = try calibration(lm)
        let all = try eager(c)
        return (path, lm, all, try CalibrationHessians(session: c.session, tokens: c.tokens, bos: c.bos, chunks: 1))
    }

    @Test func streamedEqualsCollectedAtOnce() throws {
        let (_, lm, all, source) = try Self.setUp()
        // 30 layers × (3 inputs of 576 + one of 1536): 4 inputs each, 13.4 MB per layer.
        #expect(source.groups.count == 120)
        #expect(Set(source.groups.flatMap(\.names)) == Set(all.names))
        let budget = 40 << 20
        let largest = source.groups.map(\.bytes).max()!
        let streamed = Hessians(source: source, budget: budget)
        #expect(streamed.names == all.names)

        // Ask for every input in file order, dropping each after use, as the quantizer does.
        var done = Set<String>()
        for name in lm.file.tensors.map(\.name) {
            guard let key = streamed.groupKey(for: name), done.insert(key).inserted else { continue }
            let m = try #require(try streamed.prepare(name))
            let e = try #require(all.moment(for: name))
            #expect(m.rows == e.rows && m.n == e.n, "\(name)")
            #expect(m.sum.withUnsafeBytes { a in e.sum.withUnsafeBytes { b in a.elementsEqual(b) } }, "\(name): moments differ")
            streamed.release(name)
        }
        #expect(streamed.peakBytes <= max(budget, largest))
        #expect(streamed.peakBytes < source.totalBytes / 4)
        #expect(source.passes >= source.totalBytes / budget, "\(source.passes) passes")
        #expect(streamed.bytes == 0)

        // Saved streamed: byte-identical to the file written from the complete set.
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let resaved = Hessians(source: source, budget: budget)
        try resaved.write(to: "\(dir)/streamed.gguf")
        try all.write(to: "\(dir)/all.gguf")
        #expect(FileManager.default.contentsEqual(atPath: "\(dir)/streamed.gguf", andPath: "\(dir)/all.gguf"))
        #expect(resaved.peakBytes <= max(budget, largest))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["all.gguf", "streamed.gguf"])
    }

    @Test func quantizingFromStreamedHessiansGivesTheSameFile() throws {
        let (path, _, all, source) = try Self.setUp()
        let model = try GGUFModel(path: path)
        let job = try QuantizeJob(model: model, request: QuantizeRequest(typeName: "Q4_0"))
        var plan = job.plan
        // Layers 0-5 quantized (24 inputs, 80 MB of moments), the rest kept: enough for several windows.
        let quantized = Set((0 ..< 6).map { "blk.\($0)." })
        for i in plan.indices where !quantized.contains(where: plan[i].name.hasPrefix) { plan[i].outputType = plan[i].inputType }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let streamed = Hessians(source: source, budget: 24 << 20)
        for (name, h) in [("all", all), ("streamed", streamed)] {
            _ = try GGUFQuantizer.run(input: model, plan: plan, metadata: job.metadata, outputPath: "\(dir)/\(name).gguf",
                                      imatrix: nil, method: .gptq(h, damping: 0.01))
        }
        #expect(FileManager.default.contentsEqual(atPath: "\(dir)/streamed.gguf", andPath: "\(dir)/all.gguf"))
        #expect(source.passes > 1 && streamed.peakBytes <= 24 << 20, "\(source.passes) passes, \(streamed.peakBytes) bytes")
        #expect(streamed.bytes == 0)   // every moment dropped once factored; later layers never loaded
    }
}
