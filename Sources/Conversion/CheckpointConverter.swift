import Dispatch
import GGUF
import QKCore
import QuantFormats
import Quantization
import SafeTensors

/// The `--outtype` of llama.cpp's converter.
public enum ConvertOutType: String, Sendable, CaseIterable {
    case f32, f16, bf16, q8_0, auto

    /// `general.file_type` (llama.cpp's `LlamaFileType`).
    var fileType: UInt32 {
        switch self {
        case .f32: 0
        case .f16, .auto: 1
        case .q8_0: 7
        case .bf16: 32
        }
    }

    var ggmlType: GGMLType {
        switch self {
        case .f32: .f32
        case .f16, .auto: .f16
        case .bf16: .bf16
        case .q8_0: .q8_0
        }
    }
}

/// Progress of a running conversion (source bytes consumed, of the total), after every chunk.
public typealias ConvertProgress = QuantizeProgress

/// What a finished conversion wrote.
public struct ConvertSummary: Sendable {
    /// Bytes of tensor data read from the safetensors.
    public var inputBytes: Int
    /// Size of the GGUF written.
    public var fileBytes: Int
    /// Elements in all tensors written.
    public var parameters: Int
    public var seconds: Double
    /// Tensors written per type.
    public var typeCounts: [GGMLType: Int]
}

/// What `quant convert` is asked to do.
public struct ConvertRequest: Sendable {
    /// The converter's output type; `.auto` picks BF16 or F16 from the first matrix's dtype.
    public var outType: ConvertOutType = .auto
    /// A llama-quantize file type (`Q4_K_M`, `Q8_0`, …) to quantize to in the same pass; the
    /// result equals converting at `outType` and then quantizing that file.
    public var quantizeType: String?
    /// An importance matrix for the quantization.
    public var imatrixPath: String?
    /// `general.name` (default: the directory name).
    public var name: String?

    public init(outType: ConvertOutType = .auto) { self.outType = outType }
}

/// Converts a Hugging Face checkpoint into the GGUF llama.cpp's `convert_hf_to_gguf.py` writes,
/// optionally quantizing in the same pass, streaming one tensor (in row chunks) at a time.
///
/// Memory stays at a few chunk buffers plus the metadata, whatever the model size: source pages
/// are released as they are consumed and the output is written through `GGUFWriter`, which
/// moves the file into place only once it is complete.
public enum CheckpointConverter {
    /// The plan: metadata and the tensors with their output types.
    public struct Plan: Sendable {
        /// The output's metadata, in order.
        public var metadata: GGUFMetadata
        /// The tensors in output order.
        public var tensors: [HFCheckpoint.Tensor]
        /// Output type of each tensor.
        public var types: [GGMLType]
        /// The type each tensor has in the converted (unquantized) file; values are rounded
        /// through it before quantizing, as converting first would.
        public var convertedTypes: [GGMLType]
        /// The importance matrix guiding the quantization, if any.
        public var imatrix: ImportanceMatrix?
        let model: SafeTensorsModel
    }

    /// The converter's type for one tensor at `outType` (Q8_0 falls back to F16 for rows that
    /// are not whole blocks, as gguf-py does).
    static func convertedType(_ t: HFCheckpoint.Tensor, _ outType: ConvertOutType) -> GGMLType {
        if t.staysF32 { return .f32 }
        let g = outType.ggmlType
        if g == .q8_0, t.shape[0] % 32 != 0 { return .f16 }
        return g
    }

    /// Plans the conversion of `checkpoint` for `request`.
    public static func plan(_ checkpoint: HFCheckpoint, _ request: ConvertRequest) throws -> Plan {
        var outType = request.outType
        if outType == .auto {
            let first = checkpoint.tensors.first { ($0.entry?.info.shape.count ?? 0) >= 2 }
            outType = first?.sourceType == .bf16 ? .bf16 : .f16
        }
        var tensors = checkpoint.tensors
        var converted = tensors.map { convertedType($0, outType) }
        var md = try checkpoint.metadata(fileType: outType.fileType, name: request.name)
        var types = converted
        var imatrix: ImportanceMatrix?
        if let q = request.quantizeType {
            guard outType != .q8_0 else {
                throw QuantKitError("--type quantizes from the converted values: use --outtype f32, f16 or bf16 with it")
            }
            var r = QuantizeRequest(typeName: q)
            r.imatrixPath = request.imatrixPath
            let infos = zip(checkpoint.tensors, converted).map { GGUFTensorInfo(name: $0.name, type: $1, shape: $0.shape) }
            let job = try QuantizeJob(metadata: md, tensors: infos, path: checkpoint.directory, request: r)
            // llama-quantize writes the tensors in its own order: follow the plan.
            let index = Dictionary(checkpoint.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
            let order = job.plan.map { index[$0.name]! }
            tensors = order.map { checkpoint.tensors[$0] }
            converted = order.map { converted[$0] }
            types = job.plan.map(\.outputType)
            md = job.metadata
            imatrix = job.imatrix
            let planned = zip(tensors, types).map { PlannedTensor(name: $0.name, shape: $0.shape, inputType: .f32, outputType: $1) }
            for p in planned where p.outputType != .f32 && QuantCodec.requiresImportance(p.outputType) && imatrix?.weights(for: p.name) == nil {
                throw QuantKitError("tensor '\(p.name)' → \(p.outputType.name) needs an importance matrix entry (--imatrix)")
            }
        } else if request.imatrixPath != nil {
            throw QuantKitError("--imatrix needs --type (an importance matrix only guides quantization)")
        }
        return Plan(metadata: md, tensors: tensors, types: types, convertedTypes: converted, imatrix: imatrix,
                    model: checkpoint.model)
    }

    /// Writes `plan` to `outputPath`; `progress` is called after every chunk.
    @discardableResult
    public static func run(_ plan: Plan, outputPath: String, pool: ThreadPool = .shared,
                           progress: ((ConvertProgress) -> Void)? = nil) throws -> ConvertSummary {
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        let infos = zip(plan.tensors, plan.types).map { GGUFTensorInfo(name: $0.name, type: $1, shape: $0.shape) }
        let writer = try GGUFWriter(path: outputPath, metadata: plan.metadata, tensors: infos)
        let stream = TensorStream(model: plan.model, pool: pool)
        let total = plan.tensors.reduce(0) { $0 + $1.shape.reduce(1, *) * $1.sourceType.byteSize }
        var done = 0
        var counts: [GGMLType: Int] = [:]
        for (i, t) in plan.tensors.enumerated() {
            let rowBytes = t.shape[0] * t.sourceType.byteSize
            var weights: [Float]? = nil
            if plan.types[i].isQuantized, let w = plan.imatrix?.weights(for: t.name), w.count == t.shape[0] { weights = w }
            try stream.write(t, from: plan.convertedTypes[i], to: plan.types[i], importance: weights,
                             sink: { try writer.append($0) },
                             progress: { rows in
                                 progress?(ConvertProgress(tensorIndex: i, tensorCount: plan.tensors.count, tensorName: t.name,
                                                            bytesDone: done + rows * rowBytes, bytesTotal: total, elapsed: elapsed()))
                             })
            done += t.shape.reduce(1, *) * t.sourceType.byteSize
            counts[plan.types[i], default: 0] += 1
        }
        try writer.finish()
        return ConvertSummary(inputBytes: total, fileBytes: writer.fileSize,
                              parameters: infos.reduce(0) { $0 + $1.elementCount }, seconds: elapsed(), typeCounts: counts)
    }
}
