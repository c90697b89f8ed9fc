import Foundation
import QKCore
import SafeTensors

/// How the weights are chosen on the grid.
public enum ExportMethod: String, Sendable, CaseIterable {
    /// Round to nearest, group by group.
    case rtn
    /// GPTQ error compensation with Hessians from calibration text.
    case gptq
    /// AWQ activation-aware scales (folded into the preceding norm / linear), then RTN.
    case awq
}

/// Everything `quant export` is asked to do.
public struct ExportRequest: Sendable {
    public var format: ExportFormat
    public var method: ExportMethod = .rtn
    public var bits = 4
    public var groupSize = 128
    public var symmetric = true
    public var actOrder = false
    /// Calibration text (gptq, awq).
    public var calibrationPath: String?
    /// At most this many calibration tokens (chunks of `context`); nil: the method's default.
    public var calibrationTokens: Int?
    /// Measured on SmolLM2 (share of RTN's perplexity gap closed on another text): GPTQ 26 %
    /// with 4,096 tokens, 33 % with 16,384; AWQ 32 % with 4,096, 24 % with 16,384.
    public static func defaultCalibrationTokens(_ method: ExportMethod) -> Int { method == .gptq ? 16384 : 4096 }
    public var context = 512
    /// Sampled input rows per layer group for AWQ's loss.
    public var awqSamples = 512
    /// GPTQ's damping: this fraction of mean(diag H) is added to H's diagonal. Larger values
    /// trust the calibration Hessian less (0.1 generalised better than AutoGPTQ's 0.01 to a
    /// different text on SmolLM2).
    public var gptqDamp = 0.1
    /// GPTQ: most bytes of Hessians held at once (nil: a quarter of physical memory). Layers
    /// beyond it are computed in further passes over the calibration text.
    public var hessianMemory: Int?
    /// α grid size for AWQ's search.
    public var awqSteps = 20
    /// Largest shard (data bytes).
    public var maxShardSize = 5_000_000_000
    /// Write the (AWQ-folded) weights unquantized instead, in the model's dtype: a checkpoint
    /// that shows the fold alone (tests compare its outputs with the original's).
    public var foldOnly = false
    /// Where the calibration GGUF is built (default: the output directory).
    public var workDirectory: String?
    public var threads: Int?
    /// GGUF input: where tokenizer files (tokenizer.json, …) are copied from.
    public var tokenizerDirectory: String?
    /// Run calibration on this GGUF instead of converting the checkpoint.
    public var calibrationModel: String?

    public init(format: ExportFormat) { self.format = format }
}

/// What one export wrote.
public struct ExportSummary: Sendable, Encodable {
    public var output: String
    public var format: String
    public var method: String
    public var bits: Int
    public var groupSize: Int
    public var symmetric: Bool
    public var quantizedLayers: Int
    public var parameters: Int
    public var files: [String]
    public var bytesWritten: Int
    public var calibrationTokens: Int
    public var seconds: Double
    public var calibrationSeconds: Double
    public var awq: [AWQ.Choice]?
    public var warnings: [String] = []
    /// GPTQ: passes over the calibration text, and the most bytes of Hessians held at once.
    public var calibrationPasses: Int?
    public var hessianPeakBytes: Int?
}

/// Progress of an export.
public struct ExportProgress: Sendable {
    public var phase: String
    public var done: Int
    public var total: Int
    public var item: String
}

/// Writes a Hugging Face checkpoint directory with 4-bit (or 8-bit) group-quantized linear
/// layers in compressed-tensors, GPTQ or AWQ layout, one tensor at a time: each layer is read,
/// (AWQ-scaled,) quantized and packed, and its tensors written before the next is read, so
/// memory holds one layer plus the calibration statistics, whatever the model size.
/// Non-linear tensors (embeddings, norms, biases, lm_head) are copied as they are (AWQ-folded
/// ones rewritten in their dtype); config.json gets the format's `quantization_config`, and the
/// tokenizer and generation files are copied.
public enum Exporter {
    /// A linear layer the export quantizes: `model.layers.N.(self_attn|mlp).*_proj.weight`.
    static func isQuantizedLinear(_ e: SafeTensorsModel.Entry) -> Bool {
        e.info.shape.count == 2 && e.name.hasPrefix("model.layers.") && e.name.hasSuffix("_proj.weight")
            && (e.name.contains(".self_attn.") || e.name.contains(".mlp."))
    }

    /// Exports `model`: a Hugging Face checkpoint directory, or a llama/qwen2 GGUF (turned into
    /// a temporary F32 checkpoint first, calibrated on the GGUF itself).
    public static func run(model: String, output: String, request r: ExportRequest,
                           progress: @escaping (ExportProgress) -> Void = { _ in }) throws -> ExportSummary {
        guard model.hasSuffix(".gguf") else { return try run(checkpoint: model, output: output, request: r, progress: progress) }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let temporary = (r.workDirectory ?? output) + "/.quant-export-source-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        progress(ExportProgress(phase: "gguf", done: 0, total: 1, item: model))
        try GGUFCheckpoint.write(gguf: model, to: temporary, tokenizerDirectory: r.tokenizerDirectory)
        var request = r
        request.calibrationModel = r.calibrationModel ?? model
        var summary = try run(checkpoint: temporary, output: output, request: request, progress: progress)
        if r.tokenizerDirectory == nil { summary.warnings.append("a GGUF holds no tokenizer.json: copy the tokenizer files into \(output) (or give --tokenizer DIR)") }
        return summary
    }

    static func run(checkpoint directory: String, output: String, request r: ExportRequest,
                    progress: @escaping (ExportProgress) -> Void) throws -> ExportSummary {
        let start = Date()
        let src = try SafeTensorsModel(path: directory)
        let configURL = URL(fileURLWithPath: directory + "/config.json")
        guard let configData = try? Data(contentsOf: configURL),
              var config = try JSONSerialization.jsonObject(with: configData) as? [String: Any] else {
            throw QuantKitError("missing or unreadable config.json", path: directory)
        }
        guard [4, 8].contains(r.bits) else { throw QuantKitError("--bits must be 4 or 8") }
        guard r.groupSize > 0 else { throw QuantKitError("--group-size must be positive") }
        if r.actOrder && r.method != .gptq { throw QuantKitError("--act-order only applies to --method gptq") }
        if r.method != .rtn && r.calibrationPath == nil { throw QuantKitError("--method \(r.method.rawValue) needs --calibration TEXT") }
        let entries = src.tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        let linears = entries.filter(isQuantizedLinear)
        guard let first = linears.first else { throw QuantKitError("no linear layers (model.layers.N.*_proj.weight) to quantize", path: directory) }
        let modelType = first.info.dtype
        guard [.f32, .f16, .bf16].contains(modelType) else {
            throw QuantKitError("linear layers are \(modelType.rawValue); only F32, F16 and BF16 checkpoints can be quantized", path: directory)
        }
        let grid = QuantGrid(bits: r.bits, groupSize: r.groupSize, symmetric: r.symmetric, scaleType: r.format.scaleType(model: modelType))
        for e in linears {
            try Layout.check(r.format, name: String(e.name.dropLast(7)), rows: e.info.shape[0], cols: e.info.shape[1], grid: grid, actOrder: r.actOrder)
        }
        if r.method == .awq, let t = config["model_type"] as? String, t.hasPrefix("gemma") {
            throw QuantKitError("AWQ folding into Gemma's (1 + w) norms is not supported; use --method rtn or gptq", path: directory)
        }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)

        // Calibration: AWQ's statistics now; GPTQ's Hessians streamed while writing.
        var capture: CalibrationCapture?
        var streamed: ExportHessians?
        var calibrationSeconds = 0.0
        if r.method == .gptq, let text = r.calibrationPath {
            streamed = try ExportHessians(checkpoint: directory, gguf: r.calibrationModel, textPath: text,
                                          maxTokens: r.calibrationTokens ?? ExportRequest.defaultCalibrationTokens(r.method), context: r.context,
                                          budget: r.hessianMemory ?? Int(ProcessInfo.processInfo.physicalMemory / 4),
                                          workDirectory: r.workDirectory ?? output, threads: r.threads) { pass, d, t in
                progress(ExportProgress(phase: "calibrate (pass \(pass))", done: d, total: t, item: "chunk"))
            }
            streamed!.expect(linears.compactMap { ExportHessians.ggufName(String($0.name.dropLast(7))) })
        } else if r.method == .awq, let text = r.calibrationPath {
            let t0 = Date()
            capture = try CalibrationCapture.collect(checkpoint: directory, gguf: r.calibrationModel, textPath: text,
                                                     maxTokens: r.calibrationTokens ?? ExportRequest.defaultCalibrationTokens(r.method),
                                                     context: r.context, samples: r.awqSamples,
                                                     workDirectory: r.workDirectory ?? output, threads: r.threads) { d, t in
                progress(ExportProgress(phase: "calibrate", done: d, total: t, item: "chunk"))
            }
            calibrationSeconds = Date().timeIntervalSince(t0)
        }

        // AWQ: search and fold.
        var folds = Folds()
        var choices: [AWQ.Choice]?
        if r.method == .awq, let capture {
            choices = []
            let layers = Set(linears.compactMap { Int($0.name.split(separator: ".")[2]) }).sorted()
            for (k, l) in layers.enumerated() {
                let v = src["model.layers.\(l).self_attn.v_proj.weight"], o = src["model.layers.\(l).self_attn.o_proj.weight"]
                for g in AWQ.groups(layer: l, vRows: v?.info.shape[0] ?? -1, oCols: o?.info.shape[1] ?? -2) {
                    guard let stats = capture.inputs[g.layers[0]], stats.sampleCount > 0,
                          g.layers.allSatisfy({ src[$0 + ".weight"] != nil }) else { continue }
                    let weights = try g.layers.map { name -> (rows: Int, values: [Float]) in
                        let e = try src.entry(name + ".weight")
                        return (e.info.shape[0], try loadF32(src, e))
                    }
                    let (s, choice) = AWQ.search(weights: weights, x: stats.samples, meanAbs: stats.meanAbs, grid: grid,
                                                 layers: g.layers, steps: r.awqSteps)
                    choices!.append(choice)
                    for name in g.layers { folds.multiplyColumns(name, s) }
                    if g.foldIsNorm { folds.divideVector(g.foldInto + ".weight", s) } else {
                        folds.divideRows(g.foldInto, s)
                    }
                }
                progress(ExportProgress(phase: "awq", done: k + 1, total: layers.count, item: "layer \(l)"))
            }
        }

        // The output tensors, declared up front.
        var specs: [SafeTensorSpec] = []
        var producer: [Int] = []  // index into entries for each spec
        for (i, e) in entries.enumerated() {
            if isQuantizedLinear(e) && !r.foldOnly {
                let s = try Layout.specs(r.format, prefix: String(e.name.dropLast(7)), rows: e.info.shape[0], cols: e.info.shape[1],
                                         grid: grid, actOrder: r.actOrder)
                specs += s
                producer += Array(repeating: i, count: s.count)
            } else {
                specs.append(SafeTensorSpec(e.info))
                producer.append(i)
            }
        }
        var pending: [PackedTensor] = []
        var done = 0
        let files = try SafeTensorsSharding.write(directory: output, tensors: specs, metadata: [(key: "format", value: "pt")],
                                                  maxShardSize: r.maxShardSize) { i, writer in
            let e = entries[producer[i]]
            if !pending.isEmpty {
                let p = pending.removeFirst()
                try p.bytes.withUnsafeBytes { try writer.writeTensor(named: p.spec.name, $0) }
                return
            }
            progress(ExportProgress(phase: "write", done: done, total: entries.count, item: e.name))
            done += 1
            if isQuantizedLinear(e) && !r.foldOnly {
                let prefix = String(e.name.dropLast(7))
                var w = try loadF32(src, e)
                src.file(for: e).file.dropPages(in: try src.data(e.name))
                folds.apply(prefix, to: &w, rows: e.info.shape[0], cols: e.info.shape[1])
                let q: QuantizedMatrix
                if let streamed {
                    guard let name = ExportHessians.ggufName(prefix), let m = try streamed.hessians.prepare(name), m.n == e.info.shape[1] else {
                        throw QuantKitError("no calibration statistics reached \(prefix)")
                    }
                    q = try GPTQ.quantize(w, rows: e.info.shape[0], cols: e.info.shape[1], hessian: m.sum, grid: grid,
                                          actOrder: r.actOrder, damp: r.gptqDamp)
                    streamed.done(name)
                } else {
                    q = w.withUnsafeBufferPointer { QuantizedMatrix.rtn($0.baseAddress!, rows: e.info.shape[0], cols: e.info.shape[1], grid: grid) }
                }
                pending = try Layout.pack(r.format, prefix: prefix, q, actOrder: r.actOrder)
                let p = pending.removeFirst()
                try p.bytes.withUnsafeBytes { try writer.writeTensor(named: p.spec.name, $0) }
            } else if folds.touches(e.name) {
                var w = try loadF32(src, e)
                let rows = e.info.shape.count == 2 ? e.info.shape[0] : e.info.shape.first ?? 1
                folds.apply(String(e.name.dropLast(e.name.hasSuffix(".bias") ? 5 : 7)), to: &w, rows: rows,
                            cols: e.info.shape.count == 2 ? e.info.shape[1] : 1, tensor: e.name)
                try writeAs(e.info.dtype, w, name: e.name, writer)
            } else {
                // Copied in 16 MB pieces, each released once written: resident memory stays
                // small even for a vocabulary-sized embedding.
                let data = try src.data(e.name)
                var at = 0
                repeat {
                    let piece = UnsafeRawBufferPointer(rebasing: data[at ..< min(data.count, at + (16 << 20))])
                    try writer.append(piece)
                    src.file(for: e).file.dropPages(in: piece)
                    at += piece.count
                } while at < data.count
            }
        }

        // config.json, quantize_config.json, and the other files of the checkpoint.
        let qc = Layout.quantizationConfig(r.format, grid: grid, actOrder: r.actOrder, method: r.method.rawValue, damp: r.gptqDamp)
        if !r.foldOnly { config["quantization_config"] = qc }
        if r.format != .compressedTensors && !r.foldOnly { config["torch_dtype"] = "float16" }
        try writeJSON(config, to: output + "/config.json")
        if r.format == .gptq && !r.foldOnly { try writeJSON(qc, to: output + "/quantize_config.json") }
        var written = files + [output + "/config.json"]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        where !name.hasSuffix(".safetensors") && !name.hasSuffix(".safetensors.index.json") && !name.hasPrefix(".")
            && !["config.json", "quantize_config.json", "quant_config.json"].contains(name) {
            var isDir: ObjCBool = false
            let from = directory + "/" + name, to = output + "/" + name
            guard FileManager.default.fileExists(atPath: from, isDirectory: &isDir), !isDir.boolValue else { continue }
            if FileManager.default.fileExists(atPath: to) { try FileManager.default.removeItem(atPath: to) }
            try FileManager.default.copyItem(atPath: from, toPath: to)
            written.append(to)
        }
        let bytes = written.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        return ExportSummary(output: output, format: r.format.rawValue, method: r.method.rawValue, bits: r.bits, groupSize: r.groupSize,
                             symmetric: r.symmetric, quantizedLayers: linears.count,
                             parameters: entries.reduce(0) { $0 + $1.info.elementCount }, files: written.map { ($0 as NSString).lastPathComponent },
                             bytesWritten: bytes, calibrationTokens: streamed?.tokens ?? capture?.inputs.values.first?.tokens ?? 0,
                             seconds: Date().timeIntervalSince(start), calibrationSeconds: streamed?.source.seconds ?? calibrationSeconds,
                             awq: choices, warnings: [], calibrationPasses: streamed?.source.passes,
                             hessianPeakBytes: streamed?.hessians.peakBytes)
    }

    /// The tensor as F32 (row-major, as stored).
    static func loadF32(_ src: SafeTensorsModel, _ e: SafeTensorsModel.Entry) throws -> [Float] {
        var out = [Float](repeating: 0, count: e.info.elementCount)
        try out.withUnsafeMutableBufferPointer { try src.convertToF32(e.name, into: $0) }
        return out
    }

    /// Writes F32 `values` converted to `dtype` (F32, F16 or BF16).
    static func writeAs(_ dtype: SafeTensorsDType, _ values: [Float], name: String, _ writer: SafeTensorsWriter) throws {
        switch dtype {
        case .f32: try values.withUnsafeBytes { try writer.writeTensor(named: name, $0) }
        case .f16: try values.map { HalfFloat.f16Bits($0).littleEndian }.withUnsafeBytes { try writer.writeTensor(named: name, $0) }
        case .bf16: try values.map { HalfFloat.bf16Bits($0).littleEndian }.withUnsafeBytes { try writer.writeTensor(named: name, $0) }
        default: throw QuantKitError("cannot rewrite tensor \(name) of dtype \(dtype.rawValue)")
        }
    }

    static func writeJSON(_ object: [String: Any], to path: String) throws {
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(contentsOf: Array("\n".utf8))
        let out = try OutputFile(path: path)
        try data.withUnsafeBytes { try out.write($0) }
        try out.commit()
    }
}

/// AWQ's folded scales: per layer, columns multiplied and rows divided; per norm, the weight
/// divided. Applied when a tensor is read for writing.
struct Folds {
    var columns: [String: [Float]] = [:]
    var rows: [String: [Float]] = [:]
    var vectors: [String: [Float]] = [:]

    mutating func multiplyColumns(_ layer: String, _ s: [Float]) {
        columns[layer] = columns[layer].map { zip($0, s).map { $0 * $1 } } ?? s
    }
    mutating func divideRows(_ layer: String, _ s: [Float]) {
        rows[layer] = rows[layer].map { zip($0, s).map { $0 * $1 } } ?? s
    }
    mutating func divideVector(_ tensor: String, _ s: [Float]) { vectors[tensor] = s }

    func touches(_ tensor: String) -> Bool {
        if vectors[tensor] != nil { return true }
        let layer = tensor.hasSuffix(".bias") ? String(tensor.dropLast(5)) : String(tensor.dropLast(7))
        return rows[layer] != nil || (tensor.hasSuffix(".weight") && columns[layer] != nil)
    }

    /// W[r][c] · colScale[c] / rowDiv[r] for layer `prefix` (a bias: / rowDiv[r]; a norm
    /// vector `tensor`: / s).
    func apply(_ prefix: String, to w: inout [Float], rows nr: Int, cols nc: Int, tensor: String? = nil) {
        if let tensor, let s = vectors[tensor] {
            for i in w.indices { w[i] /= s[i] }
            return
        }
        let isBias = tensor?.hasSuffix(".bias") ?? false
        if !isBias, let s = columns[prefix] {
            for r in 0 ..< nr { for c in 0 ..< nc { w[r * nc + c] *= s[c] } }
        }
        if let d = rows[prefix] {
            for r in 0 ..< nr { for c in 0 ..< nc { w[r * nc + c] /= d[r] } }
        }
    }
}
