import CKernels
import Conversion
import Foundation
import Inference
import QKCore
import Tokenizers

/// The statistics of one linear layer input (shared by the layers that read it: q/k/v,
/// gate/up), collected while the engine runs calibration text.
public final class InputStatistics: @unchecked Sendable {
    /// Input width.
    public let cols: Int
    /// Σ|x| per column over every token (AWQ's activation magnitude), and the token count.
    public var absSum: [Double]
    public var tokens = 0
    /// Sampled rows (tokens) of the input, row-major `sampleCount` × `cols` (AWQ's loss).
    public var samples: [Float] = []
    public var sampleCount: Int { samples.count / cols }
    /// Σ xᵀx (cols × cols, upper triangle only: the rest stays zero) when Hessians are
    /// collected (GPTQ), else empty.
    public var hessian: [Float] = []

    init(cols: Int, hessian: Bool) {
        self.cols = cols
        absSum = [Double](repeating: 0, count: cols)
        if hessian { self.hessian = [Float](repeating: 0, count: cols * cols) }
    }

    /// mean |x| per column.
    public var meanAbs: [Float] { absSum.map { Float($0 / Double(max(tokens, 1))) } }
}

/// Runs calibration text through QuantKit's engine and records, per linear input, what AWQ
/// (mean |x| and sampled rows) and GPTQ (the Hessian Σxᵀx) need. Keys are the Hugging Face
/// module names of every linear reading that input (`model.layers.3.mlp.up_proj`).
public final class CalibrationCapture: ActivationObserver, @unchecked Sendable {
    public private(set) var inputs: [String: InputStatistics] = [:]
    let hessians: Bool
    let sampleStride: Int
    let maxSamples: Int

    init(hessians: Bool, sampleStride: Int, maxSamples: Int) {
        self.hessians = hessians
        self.sampleStride = max(1, sampleStride)
        self.maxSamples = maxSamples
    }

    /// GGUF block tensor stem → Hugging Face module path inside a layer.
    static let moduleNames = [
        "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]

    /// `blk.3.ffn_up.weight` → `model.layers.3.mlp.up_proj`.
    static func hfModule(_ gguf: String) -> String? {
        let p = gguf.split(separator: ".")
        guard p.count == 4, p[0] == "blk", let m = moduleNames[String(p[2])] else { return nil }
        return "model.layers.\(p[1]).\(m)"
    }

    public func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int) {
        let names = matrices.filter { $0.expert == nil }.compactMap { Self.hfModule($0.name) }
        guard let first = names.first, let cols = matrices.first?.cols else { return }
        let s: InputStatistics
        if let e = inputs[first] { s = e } else {
            s = InputStatistics(cols: cols, hessian: hessians)
            for n in names { inputs[n] = s }
        }
        for t in 0 ..< tokens {
            let row = input + t * cols
            for c in 0 ..< cols { s.absSum[c] += Double(abs(row[c])) }
            if (s.tokens + t) % sampleStride == 0 && s.sampleCount < maxSamples {
                s.samples.append(contentsOf: UnsafeBufferPointer(start: row, count: cols))
            }
        }
        s.tokens += tokens
        if hessians {
            // Upper triangle only (what GPTQ reads), in bands of 16 rows claimed one at a time.
            let band = 16
            s.hessian.withUnsafeMutableBufferPointer { h in
                let hp = h.baseAddress!
                pool.parallelFor((cols + band - 1) / band, threads: threads) { b in
                    qk_syrk_upper(input, Int32(tokens), Int32(cols), Int32(cols), hp, Int32(b * band), Int32(min(cols, (b + 1) * band)))
                }
            }
        }
    }

    /// Converts `checkpoint` to an F32 GGUF in `workDirectory` (removed afterwards; or uses the
    /// GGUF `given`, e.g. the file a checkpoint was made from), runs up to
    /// `maxTokens` tokens of `textPath` through it in chunks of `context`, and returns the
    /// statistics. `progress(done, total)` is called after every chunk.
    public static func collect(checkpoint directory: String, gguf given: String? = nil, textPath: String, maxTokens: Int, context: Int = 512,
                               hessians: Bool, samples: Int, workDirectory: String, threads: Int? = nil,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> CalibrationCapture {
        let temporary = workDirectory + "/.quant-export-calibration-\(getpid()).gguf"
        defer { if given == nil { try? FileManager.default.removeItem(atPath: temporary) } }
        let gguf = given ?? temporary
        if given == nil {
            let ckpt = try HFCheckpoint(directory: directory)
            let plan = try CheckpointConverter.plan(ckpt, ConvertRequest(outType: .f32))
            try CheckpointConverter.run(plan, outputPath: gguf)
        }
        let lm = try LanguageModel(path: gguf)
        let tokenizer = try Tokenizer(model: lm.file)
        guard let data = FileManager.default.contents(atPath: textPath) else {
            throw QuantKitError("cannot read the calibration text", path: textPath)
        }
        let all = data.withUnsafeBytes { tokenizer.encode(utf8: $0.bindMemory(to: UInt8.self), addSpecial: false, parseSpecial: false) }
        let ctx = min(context, lm.config.trainedContext)
        let chunks = min(all.count, maxTokens) / ctx
        guard chunks > 0 else {
            throw QuantKitError("the calibration text has \(all.count) tokens, fewer than one chunk of \(ctx)", path: textPath)
        }
        let total = chunks * ctx
        let capture = CalibrationCapture(hessians: hessians, sampleStride: max(1, total / max(samples, 1)), maxSamples: samples)
        let session = try Session(model: lm, contextLength: ctx, batchSize: ctx, threads: threads)
        session.activationObserver = capture
        defer { session.activationObserver = nil }
        for k in 0 ..< chunks {
            var chunk = Array(all[k * ctx ..< (k + 1) * ctx])
            if tokenizer.addBOS, let bos = tokenizer.bos { chunk[0] = bos }
            session.reset()
            _ = try session.evaluateLast(chunk)
            progress(k + 1, chunks)
        }
        return capture
    }
}
