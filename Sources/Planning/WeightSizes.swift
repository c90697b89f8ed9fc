import QKCore
import Quantization

/// The weights of a model at one file type: total bytes, bits per weight, and how they split
/// into layers (for partial GPU offload).
public struct WeightPlan: Sendable {
    public let fileType: FileType
    /// Sum of every tensor's bytes at its planned type: what llama-quantize reports as
    /// "quant size" and `quant quantize --dry-run` as the output size.
    public let bytes: Int
    /// Bytes of the tensor data section of the GGUF file: each tensor padded to the alignment.
    public let dataSectionBytes: Int
    public let parameters: Int
    /// Bytes of `blk.N.*` tensors, per layer N.
    public let layerBytes: [Int]
    /// token_embd (and per-layer token embeddings): llama.cpp keeps the input layer on the CPU.
    public let inputBytes: Int
    /// output.weight and output_norm, and any other non-layer tensor (llama.cpp's output layer).
    /// With tied embeddings, offloading the output layer copies token_embd there: see ``outputLayerBytes``.
    public let outputBytes: Int
    /// Bytes the output layer occupies on a device when offloaded (tied embeddings are duplicated).
    public let outputLayerBytes: Int
    /// True when some tensor gets an IQ1/IQ2/IQ3_XXS type (or Q2_K in Q2_K_S): llama-quantize
    /// needs an importance matrix to make this file type.
    public let requiresImatrix: Bool
    /// How many tensors get each type.
    public let typeCounts: [GGMLType: Int]

    /// Bits per weight over all tensors (llama.cpp's "BPW").
    public var bitsPerWeight: Double { parameters == 0 ? 0 : Double(bytes) * 8 / Double(parameters) }
    public var size: ByteSize { ByteSize(bytes: bytes) }
}

/// Exact weight sizes from shapes and llama.cpp's mix rules (``MixPlanner``).
public enum WeightSizes {
    /// GGUF's default tensor alignment.
    public static let alignment = 32

    /// The file types llama-quantize can write, in its list order (aliases and COPY left out).
    public static let fileTypes: [FileType] = {
        var seen = Set<FileType>()
        return FileType.choices.compactMap { c in
            guard !c.isCopy, c.fileType.defaultType != nil, !c.summary.hasPrefix("alias"), seen.insert(c.fileType).inserted
            else { return nil }
            return c.fileType
        }
    }()

    /// File types that are made with an importance matrix in practice: llama-quantize refuses
    /// the lowest ones without one, and llama.cpp's published sizes and measurements of every
    /// IQ type use one. A few mix choices depend on it (IQ3_XXS attn_v/ffn_down, IQ4_* ffn_down).
    public static let imatrixFileTypes: Set<FileType> = [
        .iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq2_M, .iq3_XXS, .iq3_XS, .iq3_S, .iq3_M, .iq4_NL, .iq4_XS, .q2_K_S,
    ]

    /// Plans `shape` at `fileType` with llama-quantize's default options.
    ///
    /// - Parameter imatrix: whether an importance matrix is given; nil: for the file types of
    ///   ``imatrixFileTypes`` only.
    public static func plan(_ shape: ModelShape, fileType: FileType, imatrix: Bool? = nil) throws -> WeightPlan {
        var options = MixOptions()
        options.allowRequantize = true
        options.hasImatrix = imatrix ?? imatrixFileTypes.contains(fileType)
        let mix = try MixPlanner.plan(model: shape.mix, tensors: shape.tensors, fileType: fileType, options: options)
        let requiresImatrix = mix.decisions.contains { $0.allowsQuantization && $0.requiresImatrix }
        var bytes = 0, padded = 0, params = 0, input = 0, output = 0
        var layers = Array(repeating: 0, count: shape.layerCount)
        var counts: [GGMLType: Int] = [:]
        var tokenEmbedding = 0
        for d in mix.decisions {
            let n = d.shape.reduce(1, *)
            guard let b = d.targetType.byteCount(elements: n) else {
                throw QuantKitError("tensor \(d.name) (\(n) elements) does not fit \(d.targetType.name) blocks")
            }
            bytes += b
            padded += (b + alignment - 1) / alignment * alignment
            params += n
            counts[d.targetType, default: 0] += 1
            if let l = layerIndex(d.name), l < layers.count {
                layers[l] += b
            } else if d.category == .tokenEmbedding {
                input += b
                if d.name == "token_embd.weight" { tokenEmbedding = b }
            } else {
                output += b
            }
        }
        return WeightPlan(fileType: fileType, bytes: bytes, dataSectionBytes: padded, parameters: params, layerBytes: layers,
                          inputBytes: input, outputBytes: output,
                          outputLayerBytes: output + (mix.tiedEmbeddings ? tokenEmbedding : 0),
                          requiresImatrix: requiresImatrix,
                          typeCounts: counts)
    }

    /// Every file type of ``fileTypes`` that the mix rules accept for this model.
    public static func all(_ shape: ModelShape) -> [WeightPlan] {
        fileTypes.compactMap { try? plan(shape, fileType: $0) }
    }

    /// N of a "blk.N." tensor name.
    static func layerIndex(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        return Int(name.dropFirst(4).prefix { $0 != "." })
    }
}
