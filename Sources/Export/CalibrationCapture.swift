import Calibration
import Conversion
import Foundation
import Inference
import Quantization
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

    init(cols: Int) {
        self.cols = cols
        absSum = [Double](repeating: 0, count: cols)
    }

    /// mean |x| per column.
    public var meanAbs: [Float] { absSum.map { Float($0 / Double(max(tokens, 1))) } }
}

/// Runs calibration text through QuantKit's engine and records, per linear input, what AWQ
/// needs (mean |x| and sampled rows; GPTQ's Hessians are streamed by `ExportHessians`). Keys are the Hugging Face
/// module names of every linear reading that input (`model.layers.3.mlp.up_proj`).
public final class CalibrationCapture: ActivationObserver, @unchecked Sendable {
    public private(set) var inputs: [String: InputStatistics] = [:]
    let sampleStride: Int
    let maxSamples: Int

    init(sampleStride: Int, maxSamples: Int) {
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
            s = InputStatistics(cols: cols)
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
    }

    /// The calibration model and text: `checkpoint` converted to an F32 GGUF in
    /// `workDirectory` (or the GGUF `given`), its tokenizer, and up to `maxTokens` tokens of
    /// `textPath` in whole chunks of `context`.
    struct Calibration {
        let lm: LanguageModel
        let tokens: [Int32]
        let bos: Int32?
        let context: Int
        let chunks: Int
        /// The converted model, to be removed when done (nil: `given` was used).
        let temporary: String?
    }

    static func calibration(checkpoint directory: String, gguf given: String?, textPath: String, maxTokens: Int, context: Int,
                            workDirectory: String) throws -> Calibration {
        let temporary = workDirectory + "/.quant-export-calibration-\(getpid()).gguf"
        if given == nil {
            do {
                let ckpt = try HFCheckpoint(directory: directory)
                let plan = try CheckpointConverter.plan(ckpt, ConvertRequest(outType: .f32))
                try CheckpointConverter.run(plan, outputPath: temporary)
            } catch {
                try? FileManager.default.removeItem(atPath: temporary)
                throw error
            }
        }
        do {
            let lm = try LanguageModel(path: given ?? temporary)
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
            return Calibration(lm: lm, tokens: Array(all.prefix(chunks * ctx)), bos: tokenizer.addBOS ? tokenizer.bos : nil,
                               context: ctx, chunks: chunks, temporary: given == nil ? temporary : nil)
        } catch {
            if given == nil { try? FileManager.default.removeItem(atPath: temporary) }
            throw error
        }
    }

    /// Runs the calibration text through the model (see `calibration`) and returns the
    /// statistics. `progress(done, total)` is called after every chunk.
    public static func collect(checkpoint directory: String, gguf given: String? = nil, textPath: String, maxTokens: Int, context: Int = 512,
                               samples: Int, workDirectory: String, threads: Int? = nil,
                               progress: (Int, Int) -> Void = { _, _ in }) throws -> CalibrationCapture {
        let c = try calibration(checkpoint: directory, gguf: given, textPath: textPath, maxTokens: maxTokens, context: context,
                                workDirectory: workDirectory)
        defer { if let t = c.temporary { try? FileManager.default.removeItem(atPath: t) } }
        let total = c.chunks * c.context
        let capture = CalibrationCapture(sampleStride: max(1, total / max(samples, 1)), maxSamples: samples)
        let session = try Session(model: c.lm, contextLength: c.context, batchSize: c.context, threads: threads)
        session.activationObserver = capture
        defer { session.activationObserver = nil }
        for k in 0 ..< c.chunks {
            var chunk = Array(c.tokens[k * c.context ..< (k + 1) * c.context])
            if let bos = c.bos { chunk[0] = bos }
            session.reset()
            _ = try session.evaluateLast(chunk)
            progress(k + 1, c.chunks)
        }
        return capture
    }
}

/// GPTQ's Hessians for an export, streamed: computed by passes of the engine over the
/// calibration text a window of layers at a time (at most `budget` bytes held), keyed by the
/// GGUF matrix names. The calibration model lives until this is released.
final class ExportHessians {
    let hessians: Hessians
    let source: CalibrationHessians
    let tokens: Int
    private let temporary: String?

    init(checkpoint directory: String, gguf given: String?, textPath: String, maxTokens: Int, context: Int, budget: Int,
         workDirectory: String, threads: Int?, progress: @escaping (_ pass: Int, _ done: Int, _ total: Int) -> Void) throws {
        let c = try CalibrationCapture.calibration(checkpoint: directory, gguf: given, textPath: textPath, maxTokens: maxTokens,
                                                   context: context, workDirectory: workDirectory)
        temporary = c.temporary
        do {
            let session = try Session(model: c.lm, contextLength: c.context, batchSize: c.context, threads: threads)
            source = try CalibrationHessians(session: session, tokens: c.tokens, bos: c.bos, chunks: c.chunks) { pass, done, total, _ in
                progress(pass, done, total)
            }
            hessians = Hessians(source: source, budget: budget)
            tokens = c.chunks * c.context
        } catch {
            if let t = c.temporary { try? FileManager.default.removeItem(atPath: t) }
            throw error
        }
    }

    deinit { if let t = temporary { try? FileManager.default.removeItem(atPath: t) } }

    private var usesLeft: [String: Int] = [:]

    /// The matrices (GGUF names) that will be quantized, in order.
    func expect(_ names: [String]) {
        hessians.expect(names)
        for n in names { if let k = hessians.groupKey(for: n) { usesLeft[k, default: 0] += 1 } }
    }

    /// Matrix `name` is quantized: its input's moment goes once every reader of it is.
    func done(_ name: String) {
        guard let k = hessians.groupKey(for: name) else { return }
        usesLeft[k, default: 1] -= 1
        if usesLeft[k]! <= 0 { hessians.release(name) }
    }

    /// `model.layers.3.mlp.up_proj` → `blk.3.ffn_up.weight`.
    static func ggufName(_ module: String) -> String? {
        let p = module.split(separator: ".")
        guard p.count == 5, p[0] == "model", p[1] == "layers" else { return nil }
        let inside = p[3] + "." + p[4]
        guard let stem = CalibrationCapture.moduleNames.first(where: { $0.value == inside })?.key else { return nil }
        return "blk.\(p[2]).\(stem).weight"
    }
}
