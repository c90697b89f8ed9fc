import GGUF
import QKCore

/// The few model hyper-parameters llama.cpp's quantization mixes look at.
///
/// Built from GGUF metadata the way llama.cpp's loader builds its `hparams`
/// (``init(architecture:lookup:)``), or by hand (tests, safetensors conversions). Only the
/// architecture, layer count, layer 0's head counts (for GQA), the expert count and the
/// "70B" model type influence the choices; the other fields are informational.
public struct MixModel: Sendable, Equatable {
    /// `general.architecture` ("llama", "qwen2", "gemma3", …).
    public var architecture: String
    /// `<arch>.block_count` (llama.cpp's `n_layer_all`, including next-token-prediction layers).
    public var layerCount: Int
    /// `<arch>.nextn_predict_layers` (0 if absent).
    public var nextNLayerCount: Int
    /// Attention heads per layer (`<arch>.attention.head_count`, scalar or per-layer array).
    public var headCount: [Int]
    /// KV heads per layer (`<arch>.attention.head_count_kv`; defaults to `headCount`).
    public var headCountKV: [Int]
    /// `<arch>.expert_count` (0 for dense models).
    public var expertCount: Int
    /// `<arch>.embedding_length`.
    public var embeddingLength: Int
    /// `<arch>.feed_forward_length` of layer 0 (0 if absent).
    public var feedForwardLength: Int
    /// llama.cpp's `LLM_TYPE_70B`: attn_v gets more bits (see ``MixModel/llamaCppIs70B``).
    public var is70B: Bool

    /// A model described by hand. Per-layer head counts may be given as one value.
    public init(architecture: String, layerCount: Int, headCount: [Int], headCountKV: [Int]? = nil,
                expertCount: Int = 0, embeddingLength: Int = 0, feedForwardLength: Int = 0,
                nextNLayerCount: Int = 0, is70B: Bool? = nil) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.nextNLayerCount = nextNLayerCount
        self.headCount = headCount
        self.headCountKV = headCountKV ?? headCount
        self.expertCount = expertCount
        self.embeddingLength = embeddingLength
        self.feedForwardLength = feedForwardLength
        self.is70B = false
        self.is70B = is70B ?? Self.llamaCppIs70B(self)
    }

    /// Convenience for uniform models: `MixModel(architecture: "llama", layerCount: 30, heads: 9, kvHeads: 3)`.
    public init(architecture: String, layerCount: Int, heads: Int, kvHeads: Int, experts: Int = 0,
                embeddingLength: Int = 0, is70B: Bool? = nil) {
        self.init(architecture: architecture, layerCount: layerCount, headCount: [heads], headCountKV: [kvHeads],
                  expertCount: experts, embeddingLength: embeddingLength, is70B: is70B)
    }

    /// Heads of layer 0 (what llama.cpp's `hparams.n_head()` returns).
    public var firstLayerHeads: Int { headCount.first ?? 0 }
    /// KV heads of layer 0.
    public var firstLayerKVHeads: Int { headCountKV.first ?? 0 }

    /// llama.cpp's `n_gqa()`: layer 0's heads per KV head, 0 when layer 0 has no KV heads
    /// (e.g. a hybrid model whose first layer is recurrent).
    public var gqa: Int { firstLayerKVHeads == 0 ? 0 : firstLayerHeads / firstLayerKVHeads }

    /// Where llama.cpp's loaders set `LLM_TYPE_70B`, the only model type the mixes look at:
    /// `llama`/`llama-embed` with 80 main layers, no 8-expert MoE and GQA (n_head ≠ n_head_kv);
    /// `qwen2`, `deci`, `olmo` with 80 layers; `jais2` with 68.
    public static func llamaCppIs70B(_ m: MixModel) -> Bool {
        switch m.architecture {
        case "llama", "llama-embed":
            m.expertCount != 8 && m.layerCount - m.nextNLayerCount == 80 && m.firstLayerHeads != m.firstLayerKVHeads
        case "qwen2", "deci", "olmo": m.layerCount - m.nextNLayerCount == 80
        case "jais2": m.layerCount - m.nextNLayerCount == 68
        default: false
        }
    }

    /// A metadata value, as far as the model description needs one.
    public enum MetadataValue: Sendable, Equatable {
        case int(Int), intArray([Int]), string(String), other
    }

    /// Reads the description from metadata as llama.cpp's `load_hparams` does: `block_count`
    /// (required), `expert_count`, `nextn_predict_layers`, `embedding_length`,
    /// `feed_forward_length`, `attention.head_count` and `attention.head_count_kv` (scalar or
    /// one value per layer; the latter defaults to the former), all under `<architecture>.`.
    public init(architecture: String, lookup: (String) -> MetadataValue?) throws {
        let p = architecture + "."
        func scalar(_ key: String, required: Bool = false) throws -> Int? {
            switch lookup(p + key) {
            case .int(let v)?: return v
            case nil where !required: return nil
            case nil: throw QuantKitError("key not found in model: \(p + key)")
            default: throw QuantKitError("metadata \(p + key) is not an integer")
            }
        }
        guard let n = try scalar("block_count", required: true), n > 0, n <= 512 else {
            throw QuantKitError("\(p)block_count must be in 1...512")
        }
        func perLayer(_ key: String) throws -> [Int]? {
            switch lookup(p + key) {
            case nil: return nil
            case .int(let v)?: return Array(repeating: v, count: n)
            case .intArray(let a)?:
                guard a.count == n else {
                    throw QuantKitError("key \(p + key) has wrong array length; expected \(n), got \(a.count)")
                }
                return a
            default: throw QuantKitError("metadata \(p + key) is not an integer or integer array")
            }
        }
        let heads = try perLayer("attention.head_count") ?? Array(repeating: 0, count: n)
        let kv = try perLayer("attention.head_count_kv") ?? heads
        let ff = try perLayer("feed_forward_length")
        self.init(architecture: architecture, layerCount: n, headCount: heads, headCountKV: kv,
                  expertCount: try scalar("expert_count") ?? 0,
                  embeddingLength: try scalar("embedding_length") ?? 0,
                  feedForwardLength: ff?.first ?? 0,
                  nextNLayerCount: try scalar("nextn_predict_layers") ?? 0)
    }

    /// Reads the description from a GGUF file's metadata (`general.architecture` and the keys
    /// listed at ``init(architecture:lookup:)``).
    public init(gguf: GGUFFile) throws {
        try self.init(architecture: gguf.architecture, path: gguf.path) { gguf[$0] }
    }

    /// Reads the description from a (possibly split) model's metadata: its first shard's.
    public init(gguf: GGUFModel) throws {
        try self.init(architecture: gguf.architecture, path: gguf.paths[0]) { gguf[$0] }
    }

    /// Reads the description from GGUF metadata not (yet) in a file, e.g. a conversion's.
    public init(metadata: GGUFMetadata, path: String) throws {
        try self.init(architecture: metadata["general.architecture"]?.string, path: path) { metadata[$0] }
    }

    private init(architecture: String?, path: String, value: (String) -> GGUFValue?) throws {
        guard let architecture else { throw QuantKitError("missing general.architecture", path: path) }
        do {
            try self.init(architecture: architecture) { key in
                guard let v = value(key) else { return nil }
                if let i = v.int { return .int(i) }
                if let s = v.string { return .string(s) }
                if let a = v.array?.ints { return .intArray(a) }
                return .other
            }
        } catch let e as QuantKitError {
            throw QuantKitError(e.message, path: path)
        }
    }
}
