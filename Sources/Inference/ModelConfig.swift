import GGUF
import QKCore

/// The decoder architectures the engine can run (GGUF `general.architecture`).
public enum Architecture: String, CaseIterable, Sendable {
    case llama, qwen2, gemma3

    /// The supported names, for error messages.
    public static var supportedList: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// How RoPE pairs up the dimensions of a head: ggml's NORM (adjacent pairs, used by `llama`,
/// whose converter permutes q/k rows for it) or NEOX (first half with second half).
public enum RopeStyle: Sendable { case adjacentPairs, halves }

/// The hyperparameters of a model, read from its GGUF metadata with llama.cpp's keys and defaults.
public struct ModelConfig: Sendable {
    public var architecture: Architecture
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// Per-head width of queries and keys, and of values.
    public var headDim: Int
    public var valueDim: Int
    public var feedForwardLength: Int
    public var vocabularySize: Int
    /// The context length the model was trained for (`<arch>.context_length`).
    public var trainedContext: Int
    public var rmsEpsilon: Float
    public var ropeStyle: RopeStyle
    public var ropeDims: Int
    public var ropeBase: Float
    /// RoPE base of sliding-window layers (gemma3: 10000 unless the file says otherwise).
    public var ropeBaseSliding: Float
    /// Tokens a sliding-window layer sees (itself and window-1 before it); nil when no layer slides.
    public var slidingWindow: Int?
    /// Which layers use the sliding window.
    public var isSlidingLayer: [Bool]
    /// Multiplier of q·k before the softmax.
    public var attentionScale: Float
    /// Multiplier of the input embeddings (gemma: √n_embd).
    public var embeddingScale: Float?
    /// Mixture of experts (`<arch>.expert_count`, `expert_used_count`): 0 for a dense model.
    /// Each token's feed-forward runs through the `expertUsedCount` experts its router ranks
    /// highest (Mixtral-style `llama` files).
    public var expertCount: Int
    public var expertUsedCount: Int

    public var qWidth: Int { headCount * headDim }
    public var kvWidth: Int { kvHeadCount * headDim }
    public var vWidth: Int { kvHeadCount * valueDim }

    /// Reads the configuration of `model`; unsupported architectures and missing keys are errors
    /// that name the file.
    public init(gguf model: GGUFModel) throws {
        let path = model.paths.first
        guard let archName = model.architecture else {
            throw QuantKitError("has no general.architecture; cannot run it", path: path)
        }
        guard let arch = Architecture(rawValue: archName) else {
            throw QuantKitError("architecture '\(archName)' is not supported by the inference engine (supported: \(Architecture.supportedList))", path: path)
        }
        architecture = arch
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            let full = "\(archName).\(key)"
            if let v = model[full] {
                if let i = v.int { return i }
                if let a = v.array, case .int32(let xs) = a, let f = xs.first, xs.allSatisfy({ $0 == f }) { return Int(f) }
                if let a = v.array, case .uint32(let xs) = a, let f = xs.first, xs.allSatisfy({ $0 == f }) { return Int(f) }
                throw QuantKitError("metadata \(full) has an unsupported value (per-layer values are not supported)", path: path)
            }
            if let value { return value }
            throw QuantKitError("metadata key \(full) is missing", path: path)
        }
        func float(_ key: String, default value: Float? = nil) throws -> Float {
            let full = "\(archName).\(key)"
            if let v = model[full] {
                guard let d = v.double else { throw QuantKitError("metadata \(full) is not a number", path: path) }
                return Float(d)
            }
            if let value { return value }
            throw QuantKitError("metadata key \(full) is missing", path: path)
        }
        embeddingLength = try int("embedding_length")
        layerCount = try int("block_count")
        headCount = try int("attention.head_count")
        kvHeadCount = try int("attention.head_count_kv", default: headCount)
        feedForwardLength = try int("feed_forward_length")
        headDim = try int("attention.key_length", default: embeddingLength / max(headCount, 1))
        valueDim = try int("attention.value_length", default: headDim)
        trainedContext = try int("context_length", default: 2048)
        rmsEpsilon = try float("attention.layer_norm_rms_epsilon")
        ropeDims = try int("rope.dimension_count", default: headDim)
        ropeBase = try float("rope.freq_base", default: 10000)
        ropeStyle = arch == .llama ? .adjacentPairs : .halves
        expertCount = try int("expert_count", default: 0)
        expertUsedCount = try int("expert_used_count", default: 0)
        guard expertCount == 0 || (expertUsedCount > 0 && expertUsedCount <= expertCount) else {
            throw QuantKitError("\(expertCount) experts with \(expertUsedCount) used per token is not a valid mixture of experts", path: path)
        }
        guard expertCount == 0 || arch == .llama else {
            throw QuantKitError("mixture-of-experts \(archName) models are not supported by the inference engine (only llama/Mixtral-style)", path: path)
        }
        if let vocab = try? int("vocab_size") { vocabularySize = vocab }
        else if let tokens = model["tokenizer.ggml.tokens"]?.array { vocabularySize = tokens.count }
        else if let emb = model.tensor(named: "token_embd.weight"), emb.shape.count == 2 { vocabularySize = emb.shape[1] }
        else { throw QuantKitError("cannot tell the vocabulary size", path: path) }

        guard headCount > 0, kvHeadCount > 0, headCount % kvHeadCount == 0, layerCount > 0,
              headDim > 0, headDim % 2 == 0, ropeDims <= headDim, ropeDims % 2 == 0, embeddingLength > 0 else {
            throw QuantKitError("inconsistent attention shape: \(headCount) heads, \(kvHeadCount) kv heads, head size \(headDim), rope dims \(ropeDims)", path: path)
        }

        attentionScale = 1 / Float(headDim).squareRoot()
        embeddingScale = nil
        slidingWindow = nil
        isSlidingLayer = Array(repeating: false, count: layerCount)
        ropeBaseSliding = ropeBase
        if let s = model["\(archName).attention.scale"]?.double, s != 0 { attentionScale = Float(s) }

        if arch == .gemma3 {
            embeddingScale = Float(embeddingLength).squareRoot()
            // llama.cpp: 1/√(n_embd/n_head) for the 27B model (62 layers), else 1/√head_dim.
            attentionScale = layerCount == 62 ? 1 / Float(embeddingLength / headCount).squareRoot()
                                              : 1 / Float(headDim).squareRoot()
            if let window = model["\(archName).attention.sliding_window"]?.int, window > 0 {
                slidingWindow = window
                ropeBaseSliding = try float("rope.freq_base_swa", default: 10000)
                if let pattern = model["\(archName).attention.sliding_window_pattern"] {
                    if let n = pattern.int {
                        isSlidingLayer = (0 ..< layerCount).map { n == 0 || $0 % n < n - 1 }
                    } else if let a = pattern.array, case .bool(let flags) = a, flags.count == layerCount {
                        isSlidingLayer = flags
                    } else {
                        throw QuantKitError("metadata \(archName).attention.sliding_window_pattern has an unsupported value", path: path)
                    }
                } else {
                    isSlidingLayer = (0 ..< layerCount).map { $0 % 6 < 5 }
                }
            }
        }
    }
}
