import Foundation
import GGUF
import QKCore
import QuantFormats

/// One tensor of a quantization job: where it comes from and what it becomes.
public struct PlannedTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var inputType: GGMLType
    public var outputType: GGMLType
    /// Whether an importance matrix entry must exist for this tensor.
    public var requiresImportance: Bool

    public init(name: String, shape: [Int], inputType: GGMLType, outputType: GGMLType, requiresImportance: Bool = false) {
        self.name = name
        self.shape = shape
        self.inputType = inputType
        self.outputType = outputType
        self.requiresImportance = requiresImportance
    }

    public var inputBytes: Int { inputType.byteCount(elements: shape.reduce(1, *)) ?? 0 }
    public var outputBytes: Int { outputType.byteCount(elements: shape.reduce(1, *)) ?? 0 }
}

/// Progress of a running quantization (or conversion), reported after every chunk.
public struct QuantizeProgress: Sendable {
    public var tensorIndex: Int
    public var tensorCount: Int
    public var tensorName: String
    public var bytesDone: Int
    public var bytesTotal: Int
    public var elapsed: Double
    /// Estimated seconds left, from the bytes done so far.
    public var remaining: Double? { bytesDone > 0 ? elapsed * Double(bytesTotal - bytesDone) / Double(bytesDone) : nil }

    public init(tensorIndex: Int, tensorCount: Int, tensorName: String, bytesDone: Int, bytesTotal: Int, elapsed: Double) {
        (self.tensorIndex, self.tensorCount, self.tensorName) = (tensorIndex, tensorCount, tensorName)
        (self.bytesDone, self.bytesTotal, self.elapsed) = (bytesDone, bytesTotal, elapsed)
    }
}

/// What a finished quantization did.
public struct QuantizeSummary: Sendable {
    public var inputBytes: Int
    public var outputBytes: Int
    public var fileBytes: Int
    public var parameters: Int
    public var seconds: Double
    public var typeCounts: [GGMLType: Int]
    /// The files written (several with `keepSplit` on a split input).
    public var files: [String] = []
    public var bitsPerWeight: Double { parameters > 0 ? Double(outputBytes * 8) / Double(parameters) : 0 }
}

/// Writes a quantized copy of a GGUF model, streaming one chunk of one tensor at a time:
/// memory stays at a few tens of megabytes whatever the model size, and the output appears
/// (atomically) only when every tensor is written.
public enum GGUFQuantizer {
    /// Checks the plan against the input and the importance matrix before anything is written,
    /// naming the first problem (llama-quantize's checks, with clearer words).
    public static func validate(_ plan: [PlannedTensor], input: GGUFModel, imatrix: ImportanceMatrix?, allowRequantize: Bool) throws {
        for p in plan {
            guard let t = input.tensor(named: p.name) else {
                throw QuantKitError("plan names tensor '\(p.name)' that is not in the model", path: input.paths[0])
            }
            guard p.inputType != p.outputType else { continue }
            if t.type.isQuantized && !allowRequantize {
                throw QuantKitError("tensor '\(p.name)' is already quantized (\(t.type.name)); pass --allow-requantize to dequantize and quantize it again", path: input.paths[0])
            }
            if !(t.type.isFloat || t.type.isQuantized) || (t.type != .f32 && QuantCodec.codec(t.type) == nil) {
                throw QuantKitError("tensor '\(p.name)' has type \(t.type.name), which cannot be converted", path: input.paths[0])
            }
            let n = t.shape.first ?? 1
            let experts = t.shape.count > 2 ? t.shape[2...].reduce(1, *) : 1
            if let imatrix, let w = imatrix.weights(for: p.name), p.outputType.isQuantized {
                if w.count != n * experts && !p.name.hasPrefix("token_embd") {
                    throw QuantKitError("importance matrix entry for '\(p.name)' has \(w.count) values, the tensor needs \(n * experts) (\(n) columns × \(experts) experts): is the imatrix for another model?", path: imatrix.path)
                }
                if w.contains(where: { !$0.isFinite }) {
                    throw QuantKitError("importance matrix entry for '\(p.name)' contains non-finite values", path: imatrix.path)
                }
            } else if p.requiresImportance || QuantCodec.requiresImportance(p.outputType) {
                if imatrix == nil {
                    throw QuantKitError("tensor '\(p.name)' → \(p.outputType.name) needs an importance matrix (--imatrix)")
                }
                throw QuantKitError("importance matrix has no entry for tensor '\(p.name)', which \(p.outputType.name) needs: is it for another model?", path: imatrix!.path)
            }
        }
    }

    /// Quantizes `input` into `outputPath` following `plan` (tensors written in plan order),
    /// with `metadata` as the output's metadata. `method` chooses how blocks are encoded (ggml's
    /// quantizers by default: byte-identical with llama-quantize). `smoothing` rescales FFN
    /// channels first (``FFNSmoothing``: the same network, different weights).
    ///
    /// With `keepSplit` (llama-quantize's `--keep-split`), the output has the input's shards:
    /// `outputPath` is then a prefix (a trailing `.gguf` is dropped), the files are named
    /// `PREFIX-00001-of-00003.gguf`, tensors go to the shard their input came from in input
    /// order, the first shard carries the metadata, and every shard ends its metadata with the
    /// split keys. All shards appear together at the end (atomically, one rename each).
    public static func run(input: GGUFModel, plan planIn: [PlannedTensor], metadata: GGUFMetadata, outputPath: String,
                           imatrix: ImportanceMatrix?, allowRequantize: Bool = false, keepSplit: Bool = false,
                           method: QuantizationMethod = .ggml, smoothing: FFNSmoothing? = nil,
                           pool: ThreadPool = .shared, threads: Int? = nil,
                           progress: ((QuantizeProgress) -> Void)? = nil) throws -> QuantizeSummary {
        try validate(planIn, input: input, imatrix: imatrix, allowRequantize: allowRequantize)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let positions = Dictionary(input.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        let outputs = keepSplit ? splitOutputs(input: input, plan: planIn, metadata: metadata, prefix: outputPath, positions: positions)
                                : [(path: outputPath, metadata: metadata, plan: planIn)]
        let writers = try outputs.map { o in
            try GGUFWriter(path: o.path, metadata: o.metadata,
                           tensors: o.plan.map { GGUFTensorInfo(name: $0.name, type: $0.outputType, shape: $0.shape) })
        }
        let plan = outputs.flatMap(\.plan)
        let shardOfPlan = outputs.enumerated().flatMap { i, o in Array(repeating: i, count: o.plan.count) }
        let converter = TensorConverter(pool: pool, threads: threads)
        let codecs = MethodCodecs(method: method, plan: plan)
        let totalIn = plan.reduce(0) { $0 + $1.inputBytes }
        var doneIn = 0
        var counts: [GGMLType: Int] = [:]
        for (i, p) in plan.enumerated() {
            let writer = writers[shardOfPlan[i]]
            let info = input.tensor(named: p.name)!
            let data = input.data(of: info)
            // Input pages already converted are dropped, so resident memory does not grow with
            // the model (a mapped page counts as ours until released).
            let mapping = input.shard(ofTensorAt: positions[p.name]!).file
            var released = 0
            // validate() has refused mis-sized entries except token_embd's, which llama-quantize
            // quantizes without weights.
            let experts = info.shape.count > 2 ? info.shape[2...].reduce(1, *) : 1
            var usable = p.outputType.isQuantized ? imatrix?.weights(for: p.name).flatMap { $0.count == info.rowLength * experts ? $0 : nil } : nil
            if let smoothing, let w = usable { usable = smoothing.importance(for: p.name, w) }
            let rowBytes = info.type.rowSize(info.rowLength)
            let codec = try codecs.codec(for: p, importance: info.shape.count == 2 ? usable : nil)
            try converter.convert(data, inType: info.type, shape: info.shape, to: p.outputType, importance: usable, codec: codec,
                                  transform: smoothing?.rowTransform(for: p.name), sink: { try writer.append($0) },
                                  progress: { rows in
                                      if let mapping, rows * rowBytes - released >= 1 << 20 || rows == info.rowCount {
                                          mapping.dropPages(in: UnsafeRawBufferPointer(rebasing: data[released ..< rows * rowBytes]))
                                          released = rows * rowBytes
                                      }
                                      progress?(QuantizeProgress(tensorIndex: i, tensorCount: plan.count, tensorName: p.name,
                                                                 bytesDone: doneIn + rows * rowBytes, bytesTotal: totalIn, elapsed: elapsed()))
                                  })
            if info.byteCount == 0 { try writer.append(UnsafeRawBufferPointer(start: nil, count: 0)) }
            doneIn += p.inputBytes
            counts[p.outputType, default: 0] += 1
        }
        for w in writers { try w.finish() }
        return QuantizeSummary(inputBytes: totalIn, outputBytes: plan.reduce(0) { $0 + $1.outputBytes },
                               fileBytes: writers.reduce(0) { $0 + $1.fileSize }, parameters: plan.reduce(0) { $0 + $1.shape.reduce(1, *) },
                               seconds: elapsed(), typeCounts: counts, files: outputs.map(\.path))
    }

    /// The output files of `--keep-split`: one per input shard, tensors in input order.
    static func splitOutputs(input: GGUFModel, plan: [PlannedTensor], metadata: GGUFMetadata, prefix: String,
                             positions: [String: Int]) -> [(path: String, metadata: GGUFMetadata, plan: [PlannedTensor])] {
        let base = prefix.hasSuffix(".gguf") ? String(prefix.dropLast(5)) : prefix
        let sorted = plan.sorted { a, b in
            let i = positions[a.name]!, j = positions[b.name]!
            let (si, sj) = (input.tensorShards[i], input.tensorShards[j])
            return si != sj ? si < sj : input.tensors[i].offset < input.tensors[j].offset
        }
        let count = (sorted.map { input.tensorShards[positions[$0.name]!] }.max() ?? 0) + 1
        return (0 ..< count).map { shard in
            var md = shard == 0 ? metadata : GGUFMetadata()
            if count > 1 {
                md[GGUFSplit.noKey] = .uint16(UInt16(shard))
                md[GGUFSplit.countKey] = .uint16(UInt16(count))
                md[GGUFSplit.tensorsCountKey] = .int32(Int32(plan.count))
            }
            let path = base + "-" + pad5(shard + 1) + "-of-" + pad5(count) + ".gguf"
            return (path, md, sorted.filter { input.tensorShards[positions[$0.name]!] == shard })
        }
    }

    private static func pad5(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
}
