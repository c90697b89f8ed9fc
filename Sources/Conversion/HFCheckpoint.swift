import Foundation
import GGUF
import QKCore
import SafeTensors

/// A Hugging Face checkpoint directory opened for conversion: its config, architecture and
/// safetensors, with every tensor mapped to its GGUF name and checked against the config
/// before anything is written.
public final class HFCheckpoint: @unchecked Sendable {
    /// One tensor of the output: where it comes from and how it is reshaped on the way.
    public struct Tensor: Sendable {
        /// The GGUF name (`blk.0.attn_q.weight`).
        public let name: String
        /// The checkpoint's name (`model.layers.0.self_attn.q_proj.weight`).
        public let sourceName: String
        /// GGML order (innermost first): the checkpoint's shape reversed, rows trimmed if so.
        public let shape: [Int]
        /// The safetensors entry (nil for a tensor the converter computes, e.g. `rope_freqs`).
        let entry: SafeTensorsModel.Entry?
        /// The values of a computed tensor.
        let generated: [Float]?
        /// Rows are interleaved per head in groups of this many heads (q/k permutation), or 0.
        let permuteHeads: Int
        /// Add 1 to every value (Gemma norms).
        let addOne: Bool

        /// The source element type.
        public var sourceType: SafeTensorsDType { entry?.info.dtype ?? .f32 }
        /// llama.cpp's converter keeps 1-D tensors, norms and non-`.weight` tensors in F32.
        public var staysF32: Bool { shape.count <= 1 || name.hasSuffix("_norm.weight") || !name.hasSuffix(".weight") }
    }

    /// The directory.
    public let directory: String
    /// `config.json`.
    public let config: HFConfig
    /// The family it converts as, from `architectures`.
    public let architecture: Architecture
    /// The safetensors (one file, or the shards of `model.safetensors.index.json`).
    public let model: SafeTensorsModel
    /// The output tensors in llama.cpp's converter order (shards by file name, names sorted
    /// within each).
    public let tensors: [Tensor]

    /// Opens and checks the checkpoint in `directory`.
    public init(directory: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw QuantKitError("not a checkpoint directory (expected config.json, safetensors and tokenizer files)", path: directory)
        }
        let configPath = directory + "/config.json"
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw QuantKitError("missing config.json", path: directory)
        }
        self.directory = directory
        config = try HFConfig(path: configPath)
        architecture = try Architecture.forClass(config.architectureClass(), path: configPath)
        model = try SafeTensorsModel(path: directory)
        tensors = try Self.plan(architecture, config, model, directory: directory)
    }

    private static func plan(_ arch: Architecture, _ c: HFConfig, _ model: SafeTensorsModel, directory: String) throws -> [Tensor] {
        let s = try ModelMetadata.shape(c)
        let headDim = try arch.defaultHeadDim(c) ?? (s.embedding / s.heads)
        let where_ = model.indexPath ?? model.shards[0].path
        var vocabRows = s.vocab
        if arch.trimsEmbeddings, FileManager.default.fileExists(atPath: directory + "/tokenizer.model") {
            vocabRows = try VocabularyExport.sentencePieceCount(dir: directory, config: c)
        }
        // Order: shard by shard (sorted by file name), names in code-point order within each.
        let ordered = model.tensors.enumerated().sorted { a, b in
            a.element.shard != b.element.shard ? a.element.shard < b.element.shard
                : a.element.name.utf8.lexicographicallyPrecedes(b.element.name.utf8)
        }.map(\.element)
        // Tensors the converter computes come first (`generate_extra_tensors`).
        var out = try arch.generatedTensors(c).map {
            Tensor(name: $0.0, sourceName: $0.0, shape: [$0.1.count], entry: nil, generated: $0.1, permuteHeads: 0, addOne: false)
        }
        var seen = Set(out.map(\.name))
        for e in ordered {
            guard let name = try arch.ggufName(e.name, layers: s.layers, path: where_) else { continue }
            guard [.f32, .f16, .bf16].contains(e.info.dtype) else {
                throw QuantKitError("tensor '\(e.name)' has dtype \(e.info.dtype); only F32, F16 and BF16 checkpoints are supported", path: model.file(for: e).path)
            }
            guard seen.insert(name).inserted else { throw QuantKitError("two tensors map to '\(name)'", path: where_) }
            var hfShape = e.info.shape
            let isQ = name.contains(".attn_q."), isK = name.contains(".attn_k.")
            // Expected checkpoint shape (out, in) for the config.
            let expected: [Int]? = {
                let stem = name.split(separator: ".").dropLast().joined(separator: ".")
                let bias = name.hasSuffix(".bias")
                func w(_ rows: Int, _ cols: Int) -> [Int] { bias ? [rows] : [rows, cols] }
                switch stem.split(separator: ".").last.map(String.init) ?? "" {
                case "token_embd", "output": return nil  // checked below (vocabulary rows)
                case "attn_q": return w(s.heads * headDim, s.embedding)
                case "attn_k", "attn_v": return w(s.kvHeads * headDim, s.embedding)
                case "attn_output": return w(s.embedding, s.heads * headDim)
                case "ffn_gate", "ffn_up": return w(s.feedForward, s.embedding)
                case "ffn_down": return w(s.embedding, s.feedForward)
                case "attn_q_norm", "attn_k_norm": return [headDim]
                default: return [s.embedding]  // the block and output norms
                }
            }()
            if let expected, hfShape != expected {
                throw QuantKitError("tensor '\(e.name)' has shape \(hfShape), but config.json implies \(expected)", path: where_)
            }
            if name.hasPrefix("token_embd.") || name.hasPrefix("output.") {
                guard hfShape.count == 2, hfShape[1] == s.embedding, hfShape[0] >= vocabRows,
                      arch.trimsEmbeddings && name.hasPrefix("token_embd.") || hfShape[0] == s.vocab else {
                    throw QuantKitError("tensor '\(e.name)' has shape \(hfShape), but config.json implies [\(s.vocab), \(s.embedding)]", path: where_)
                }
                if arch.trimsEmbeddings && name.hasPrefix("token_embd.") { hfShape[0] = vocabRows }
            }
            let permute = arch.permutesQK && (isQ || isK) ? (isQ ? s.heads : s.kvHeads) : 0
            if permute > 0, hfShape[0] % (permute * 2) != 0 {
                throw QuantKitError("tensor '\(e.name)': \(hfShape[0]) rows cannot be split into \(permute) heads of rotary pairs", path: where_)
            }
            out.append(Tensor(name: name, sourceName: e.name, shape: hfShape.reversed(), entry: e, generated: nil, permuteHeads: permute,
                              addOne: arch.shiftsNorms && e.name.hasSuffix("norm.weight")))
        }
        // Every tensor llama.cpp's loader needs must be there.
        var required = ["token_embd.weight", "output_norm.weight"]
        for b in 0 ..< s.layers {
            for stem in Set(arch.blockTensors.values) { required.append("blk.\(b).\(stem).weight") }
            if arch.name == "qwen2" { for p in ["attn_q", "attn_k", "attn_v"] { required.append("blk.\(b).\(p).bias") } }
        }
        let missing = required.filter { !seen.contains($0) }
        if !missing.isEmpty {
            throw QuantKitError("missing tensor\(missing.count == 1 ? "" : "s") \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? " and \(missing.count - 5) more" : "")", path: where_)
        }
        return out
    }

    /// All metadata llama.cpp's converter writes for this checkpoint at file type `fileType`.
    public func metadata(fileType: UInt32, name: String? = nil) throws -> GGUFMetadata {
        var md = GGUFMetadata()
        md["general.architecture"] = .string(architecture.name)
        md["general.type"] = .string("model")
        md["general.name"] = .string(name ?? URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent)
        md["general.size_label"] = .string(ModelMetadata.sizeLabel(tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }))
        try ModelMetadata.write(architecture, config: config, fileType: fileType, into: &md)
        md["general.quantization_version"] = .uint32(2)
        try architecture.writeVocabulary(directory, config, &md)
        return md
    }
}
