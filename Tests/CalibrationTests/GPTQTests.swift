import Calibration
import Foundation
import Inference
import QKCore
import QuantFormats
import Quantization
import Testing
import Tokenizers

/// GPTQ on real layers of SmolLM2-135M: the layer-output error it leaves on text it was *not*
/// calibrated on, against llama.cpp's own quantizers (with the same importance, i.e. an
/// imatrix, and without) in the same block formats.
@Suite(.serialized) struct GPTQTests {
    /// Σ x xᵀ of layer 5's inputs over `chunks` 512-token chunks of `text`.
    static func hessians(_ lm: LanguageModel, _ tokenizer: Tokenizer, text: String, chunks: Int) throws -> Hessians {
        let data = try Data(contentsOf: URL(fileURLWithPath: text))
        let tokens = data.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: true, parseSpecial: false) }
        let session = try Session(model: lm, contextLength: 512)
        let collector = HessianCollector(only: { $0.hasPrefix("blk.5.") })
        session.activationObserver = collector
        for c in 0 ..< chunks {
            session.reset()
            _ = try session.evaluateLast(Array(tokens[1000 + 512 * c ..< 1512 + 512 * c]))
        }
        return collector.hessians
    }

    /// The full symmetric H from the stored upper triangle.
    static func symmetric(_ m: Hessians.Moment) -> [Double] {
        let n = m.n
        var h = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { for j in i ..< n { h[i * n + j] = Double(m.sum[i * n + j]); h[j * n + i] = h[i * n + j] } }
        return h
    }

    /// tr(ΔW H ΔWᵀ) / rows: the mean squared output error on the inputs H summarises.
    static func outputError(_ w: [Float], _ q: [Float], rows: Int, n: Int, _ h: [Double]) -> Double {
        var total = 0.0
        var d = [Double](repeating: 0, count: n)
        for r in 0 ..< rows {
            for i in 0 ..< n { d[i] = Double(w[r * n + i] - q[r * n + i]) }
            for i in 0 ..< n where d[i] != 0 {
                var s = 0.0
                for j in 0 ..< n { s += h[i * n + j] * d[j] }
                total += d[i] * s
            }
        }
        return total / Double(rows)
    }

    static func encode(_ w: [Float], rows: Int, n: Int, _ type: GGMLType, codec: RowCodec, importance: [Float]?) -> [Float] {
        let rb = type.rowSize(n)
        var bytes = [UInt8](repeating: 0, count: rows * rb)
        var out = [Float](repeating: 0, count: rows * n)
        w.withUnsafeBufferPointer { src in
            bytes.withUnsafeMutableBytes { dst in
                importance.withOptionalPointer { imp in
                    for r in 0 ..< rows { codec.quantize(src.baseAddress! + r * n, dst.baseAddress! + r * rb, n, imp) }
                }
            }
        }
        bytes.withUnsafeBytes { b in
            out.withUnsafeMutableBufferPointer { o in
                for r in 0 ..< rows { QuantCodec.codec(type)!.dequantize(b.baseAddress! + r * rb, o.baseAddress! + r * n, n) }
            }
        }
        return out
    }

    @Test func beatsLlamaCppQuantizersOnHeldOutText() throws {
        let lm = try LanguageModel(path: try Fixtures.model("smollm2", "F32"))
        let tokenizer = try Tokenizer(model: lm.file)
        let calib = try Self.hessians(lm, tokenizer, text: "\(Fixtures.models)/text/eng/philosophy.txt", chunks: 8)
        let eval = try Self.hessians(lm, tokenizer, text: Fixtures.text, chunks: 2)
        // (matrix, type, bound on gptq / ggml, bound on gptq / (ggml + imatrix)), output errors
        for (name, type, vsPlain, vsImatrix) in [("blk.5.ffn_down.weight", GGMLType.q4_0, 0.85, 1.0), ("blk.5.ffn_down.weight", .q4_K, 0.85, 1.02),
                                                 ("blk.5.ffn_down.weight", .q2_K, 0.85, 1.0), ("blk.5.ffn_down.weight", .iq4_xs, 0.9, 1.0),
                                                 ("blk.5.attn_q.weight", .q4_0, 0.5, 0.7), ("blk.5.ffn_gate.weight", .q5_0, 0.7, 0.9)] {
            let info = try #require(lm.file.tensor(named: name))
            let n = info.shape[0], rows = info.shape[1]
            guard n % type.blockSize == 0 else { continue }
            let w = Array(lm.file.data(of: info).bindMemory(to: Float.self))
            let mc = try #require(calib.moment(for: name))
            let he = Self.symmetric(try #require(eval.moment(for: name)))
            let codec = QuantCodec.codec(type)!
            let imatrix = (0 ..< n).map { mc.diagonal($0) }
            let plain = Self.outputError(w, Self.encode(w, rows: rows, n: n, type, codec: codec, importance: nil), rows: rows, n: n, he)
            let withImatrix = Self.outputError(w, Self.encode(w, rows: rows, n: n, type, codec: codec, importance: imatrix), rows: rows, n: n, he)
            // 4096 calibration tokens for 1536-wide inputs: strong dampening (λ = mean diag H) keeps
            // GPTQ from fitting the calibration text's correlations (1 % overfits ffn_down here).
            let gptqCodec = try GPTQ.codec(type, factor: try GPTQFactor(mc, damping: 1))
            let gptq = Self.outputError(w, Self.encode(w, rows: rows, n: n, type, codec: gptqCodec, importance: nil), rows: rows, n: n, he)
            print("GPTQ \(name) \(type.name): held-out output error ggml \(plain), ggml+imatrix \(withImatrix), gptq \(gptq)")
            #expect(gptq < vsPlain * plain && gptq < vsImatrix * withImatrix, "\(name) \(type.name): gptq \(gptq) vs \(plain) / \(withImatrix)")
        }
    }
}

extension Optional where Wrapped == [Float] {
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
