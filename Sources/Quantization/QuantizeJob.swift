import GGUF
import QKCore
import QuantFormats

/// Everything `quant quantize` needs to know, as llama-quantize's options.
public struct QuantizeRequest: Sendable {
    /// The file type or, with `pure`, a plain ggml type name (e.g. "Q4_K", "IQ2_S").
    public var typeName: String
    public var pure = false
    public var imatrixPath: String?
    public var includeWeights: [String] = []
    public var excludeWeights: [String] = []
    public var allowRequantize = false
    /// Output in the input's shards (`--keep-split`); tensors are then planned in file order,
    /// as llama-quantize does, which can change the layer counters of the mix rules.
    public var keepSplit = false
    public var leaveOutputTensor = false
    public var outputTensorType: GGMLType?
    public var tokenEmbeddingType: GGMLType?
    public var tensorTypes: [TensorTypeOverride] = []
    /// `--override-kv KEY=TYPE:VALUE` entries, applied last.
    public var overrides: [GGUFMetadata.Entry] = []

    public init(typeName: String) { self.typeName = typeName }
}

/// A planned quantization: per-tensor types, output metadata, and the importance matrix.
public struct QuantizeJob: Sendable {
    public var plan: [PlannedTensor]
    /// The mix decisions with reasons (for --dry-run listings); empty in plain-type pure mode.
    public var reasons: [String: String]
    public var metadata: GGUFMetadata
    public var imatrix: ImportanceMatrix?
    public var fileTypeName: String
    public var allowRequantize: Bool

    /// Plans the quantization of `model` as llama-quantize would, before anything is written.
    ///
    /// With `pure` and a ggml type name that is not a file type of its own (e.g. "IQ2_S",
    /// "Q4_K"), every tensor with two or more dimensions becomes that type (after llama.cpp's
    /// block-size fallback), whatever the model's architecture or tensor names; only
    /// llama.cpp's never-quantized tensors (norms, routers, position embeddings…) are kept.
    public init(model: GGUFModel, request r: QuantizeRequest) throws {
        try self.init(metadata: model.metadata, tensors: model.tensors, path: model.paths[0], request: r)
    }

    /// Plans the quantization of a model given by its metadata and tensor declarations (types
    /// and shapes) rather than an open file: how `quant convert --type` plans the file it
    /// streams, so the result equals converting first and quantizing the converted file.
    public init(metadata: GGUFMetadata, tensors declared: [GGUFTensorInfo], path: String, request r: QuantizeRequest) throws {
        var imatrix = try r.imatrixPath.map { try ImportanceMatrix(path: $0) }
        imatrix?.filter(include: r.includeWeights, exclude: r.excludeWeights)
        self.imatrix = imatrix
        allowRequantize = r.allowRequantize
        let arch = metadata["general.architecture"]?.string ?? ""
        let tensors = declared.map { MixTensor(name: $0.name, shape: $0.shape, type: $0.type) }
        let fileType: FileType
        var isCopy = false
        reasons = [:]
        let named = FileType.parse(r.typeName)
        let rawType = GGMLType(name: r.typeName) ?? named?.fileType.defaultType
        // Plain-type pure mode: a ggml type that is no file type's default (IQ2_S…), or a model
        // whose hyper-parameters llama.cpp's mix rules cannot read (any architecture).
        if r.pure, let raw = rawType, named?.isCopy != true,
           named?.fileType.defaultType != raw || (try? MixModel(metadata: metadata, path: path)) == nil {
            guard QuantCodec.codec(raw) != nil else { throw QuantKitError("quantizing to \(raw.name) is not supported") }
            fileType = named?.fileType.defaultType == raw ? named!.fileType : (FileType.allCases.first { $0.defaultType == raw } ?? .f32)
            fileTypeName = raw.name
            plan = try TensorOrder.sortedIndices(tensors.map(\.name)).map { i in
                let t = tensors[i]
                let reason = TensorQuantizability.exclusionReason(name: t.name, shape: t.shape, architecture: arch,
                                                                  quantizeOutput: !r.leaveOutputTensor)
                guard reason == nil || reason == "not a weight" else {
                    return PlannedTensor(name: t.name, shape: t.shape, inputType: t.type, outputType: t.type)
                }
                let target = try MixRules.fitting(raw, rowLength: t.shape.first ?? 1)
                return PlannedTensor(name: t.name, shape: t.shape, inputType: t.type, outputType: target,
                                     requiresImportance: QuantCodec.requiresImportance(target))
            }
        } else {
            let choice = try FileType.choice(named: r.typeName)
            fileType = choice.fileType
            isCopy = choice.isCopy
            fileTypeName = choice.name
            var o = MixOptions()
            o.hasImatrix = imatrix != nil
            o.outputTensorType = r.outputTensorType
            o.tokenEmbeddingType = r.tokenEmbeddingType
            o.tensorTypes = r.tensorTypes
            o.pure = r.pure
            o.quantizeOutputTensor = !r.leaveOutputTensor
            o.allowRequantize = r.allowRequantize
            o.onlyCopy = choice.isCopy
            o.keepOrder = r.keepSplit
            let mixModel = try MixModel(metadata: metadata, path: path)
            let mix = try MixPlanner.plan(model: mixModel, tensors: tensors, fileType: fileType, options: o)
            if let e = mix.firstError(imatrixHasEntry: { imatrix?.weights(for: $0) != nil }) { throw e }
            plan = mix.decisions.map {
                PlannedTensor(name: $0.name, shape: $0.shape, inputType: $0.currentType, outputType: $0.targetType,
                              requiresImportance: $0.allowsQuantization && $0.requiresImatrix)
            }
            for d in mix.decisions { reasons[d.name] = d.reason }
        }
        self.metadata = Self.outputMetadata(metadata: metadata, tensorTypes: declared.map(\.type), fileType: fileType, isCopy: isCopy,
                                            imatrix: imatrix, imatrixArgument: r.imatrixPath, overrides: r.overrides)
    }

    /// The output metadata exactly as llama-quantize builds it: the input's entries, then
    /// `general.quantization_version` and `general.file_type` moved to the end, split keys
    /// removed, then the imatrix provenance keys and `--override-kv` entries.
    static func outputMetadata(metadata: GGUFMetadata, tensorTypes: [GGMLType], fileType: FileType, isCopy: Bool,
                               imatrix: ImportanceMatrix?, imatrixArgument: String?, overrides: [GGUFMetadata.Entry]) -> GGUFMetadata {
        var md = metadata
        func setLast(_ key: String, _ value: GGUFValue) {
            md.removeValue(forKey: key)
            md[key] = value
        }
        let ftypeValue = isCopy
            ? FileType.loaderValue(fileTypeKey: metadata["general.file_type"]?.int.map { UInt32(truncatingIfNeeded: $0) },
                                   tensorTypes: tensorTypes)
            : fileType.rawValue
        setLast("general.quantization_version", .uint32(2))
        setLast("general.file_type", .uint32(ftypeValue))
        for k in [GGUFSplit.noKey, GGUFSplit.countKey, GGUFSplit.tensorsCountKey] { md.removeValue(forKey: k) }
        if let imatrix, let arg = imatrixArgument {
            setLast("quantize.imatrix.file", .string(String(decoding: Array(arg.utf8.prefix(127)), as: UTF8.self)))
            if let first = imatrix.datasets.first {
                setLast("quantize.imatrix.dataset", .string(String(decoding: Array(first.utf8.prefix(127)), as: UTF8.self)))
            }
            setLast("quantize.imatrix.entries_count", .uint32(UInt32(imatrix.entries.count)))
            if imatrix.chunkCount > 0 { setLast("quantize.imatrix.chunks_count", .uint32(UInt32(imatrix.chunkCount))) }
        }
        for e in overrides { setLast(e.key, e.value) }
        return md
    }

    /// Parses `--override-kv KEY=TYPE:VALUE` (TYPE: int, float, bool, str) as llama.cpp does:
    /// ints become UINT32 of the absolute value, floats FLOAT32.
    public static func parseOverride(_ s: String) throws -> GGUFMetadata.Entry {
        guard let eq = s.firstIndex(of: "="), let colon = s[eq...].firstIndex(of: ":") else {
            throw QuantKitError("invalid --override-kv '\(s)': expected KEY=TYPE:VALUE (TYPE is int, float, bool or str)")
        }
        let key = String(s[..<eq])
        let type = String(s[s.index(after: eq) ..< colon])
        let value = String(s[s.index(after: colon)...])
        guard !key.isEmpty, key.utf8.count < 128 else { throw QuantKitError("invalid --override-kv '\(s)': bad key") }
        switch type {
        case "int":
            guard let v = Int64(value) else { throw QuantKitError("invalid --override-kv '\(s)': '\(value)' is not an integer") }
            return .init(key: key, value: .uint32(UInt32(truncatingIfNeeded: v.magnitude)))
        case "float":
            guard let v = Double(value) else { throw QuantKitError("invalid --override-kv '\(s)': '\(value)' is not a number") }
            return .init(key: key, value: .float32(Float(v)))
        case "bool":
            guard value == "true" || value == "false" else { throw QuantKitError("invalid --override-kv '\(s)': bool must be true or false") }
            return .init(key: key, value: .bool(value == "true"))
        case "str":
            guard value.utf8.count < 128 else { throw QuantKitError("invalid --override-kv '\(s)': string longer than 127 bytes") }
            return .init(key: key, value: .string(value))
        default:
            throw QuantKitError("invalid --override-kv '\(s)': unknown type '\(type)' (int, float, bool or str)")
        }
    }
}
