import Foundation
import QKCore
import Quantization
import SafeTensors

/// A Hugging Face `config.json`, turned into the tensors llama.cpp's `convert_hf_to_gguf.py`
/// would write for it, so that a model can be planned before it is downloaded or converted.
///
/// Supported `model_type`s: llama (and mistral, which llama.cpp converts as llama), qwen2, qwen3,
/// gemma3 / gemma3_text (multimodal configs are read through their `text_config`). Each
/// architecture is one row of ``layouts``: the extra per-layer tensors it has beyond the common
/// attention + gated-FFN block, whether the output matrix is always tied, and its SWA period.
public struct HFConfig: Sendable {
    /// The llama.cpp architecture and the hyper-parameters, as convert_hf_to_gguf.py maps them.
    public var architecture: String
    public var embeddingLength: Int
    public var feedForwardLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int
    public var headDim: Int
    public var vocabSize: Int
    public var contextLength: Int
    public var tiedEmbeddings: Bool
    /// Llama-3.1-style RoPE scaling: the converter writes a `rope_freqs.weight` tensor.
    public var ropeFreqs: Bool
    public var slidingWindow: Int
    /// Per-layer SWA flags from `layer_types`, when the config lists them.
    public var layerTypesSWA: [Bool]?
    /// The checkpoint's storage type (`torch_dtype`): the source type of 2-D tensors.
    public var sourceType: GGMLType
    /// Where the config came from (for names and errors).
    public var path: String
    /// Parameters counted from the checkpoint's safetensors headers, when weights are present.
    public var checkpointParameterCount: Int?

    /// One architecture's differences from the common llama block.
    struct Layout: Sendable {
        /// Extra per-layer tensors: name suffix and shape from (embd, heads×dim, kv×dim, dim).
        var extras: [(String, @Sendable (Int, Int, Int, Int) -> [Int])]
        /// The output matrix is the token embedding (no `output.weight`) whatever the config says.
        var alwaysTied: Bool
        /// `tie_word_embeddings` when the config omits it.
        var tiedByDefault: Bool
    }

    static let layouts: [String: Layout] = [
        "llama": Layout(extras: [], alwaysTied: false, tiedByDefault: false),
        "qwen2": Layout(extras: [("attn_q.bias", { _, q, _, _ in [q] }), ("attn_k.bias", { _, _, kv, _ in [kv] }),
                                 ("attn_v.bias", { _, _, kv, _ in [kv] })],
                        alwaysTied: false, tiedByDefault: false),
        "qwen3": Layout(extras: [("attn_q_norm.weight", { _, _, _, d in [d] }), ("attn_k_norm.weight", { _, _, _, d in [d] })],
                        alwaysTied: false, tiedByDefault: false),
        "gemma3": Layout(extras: [("attn_q_norm.weight", { _, _, _, d in [d] }), ("attn_k_norm.weight", { _, _, _, d in [d] }),
                                  ("post_attention_norm.weight", { e, _, _, _ in [e] }),
                                  ("post_ffw_norm.weight", { e, _, _, _ in [e] })],
                         alwaysTied: true, tiedByDefault: true),
    ]

    /// `model_type` → llama.cpp architecture.
    static let modelTypes: [String: String] = [
        "llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3",
        "gemma3": "gemma3", "gemma3_text": "gemma3",
    ]

    /// Reads `config.json` at `path` (no weights needed).
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw QuantKitError("cannot read config", path: path)
        }
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw QuantKitError("not a JSON object", path: path)
        }
        try self.init(json: top, path: path)
    }

    /// Reads a checkpoint directory: its `config.json`, and its safetensors headers (when present)
    /// to check the parameter count.
    public init(directory: String) throws {
        try self.init(path: directory + "/config.json")
        let fm = FileManager.default
        let hasWeights = (try? fm.contentsOfDirectory(atPath: directory))?.contains { $0.hasSuffix(".safetensors") } ?? false
        if hasWeights {
            let st = try SafeTensorsModel(path: directory)
            checkpointParameterCount = st.tensors.reduce(0) { $0 + $1.info.elementCount }
        }
    }

    /// Reads the hyper-parameters from a parsed config object.
    public init(json top: [String: Any], path: String = "config.json") throws {
        self.path = path
        let c = (top["text_config"] as? [String: Any]).map { top.merging($0) { _, text in text } } ?? top
        func int(_ k: String) -> Int? { (c[k] as? NSNumber)?.intValue }
        let type = (c["model_type"] as? String) ?? (top["model_type"] as? String) ?? ""
        guard let arch = Self.modelTypes[type] ?? Self.modelTypes[type.replacingOccurrences(of: "_text", with: "")] else {
            throw QuantKitError("model_type '\(type)' is not supported by quant plan (supported: \(Self.modelTypes.keys.sorted().joined(separator: ", ")))", path: path)
        }
        guard let embd = int("hidden_size"), let layers = int("num_hidden_layers"), let heads = int("num_attention_heads"),
              let ff = int("intermediate_size"), let vocab = int("vocab_size"), embd > 0, layers > 0, heads > 0 else {
            throw QuantKitError("config lacks hidden_size, num_hidden_layers, num_attention_heads, intermediate_size or vocab_size", path: path)
        }
        let layout = Self.layouts[arch]!
        architecture = arch
        embeddingLength = embd
        feedForwardLength = ff
        layerCount = layers
        headCount = heads
        headCountKV = int("num_key_value_heads") ?? heads
        headDim = int("head_dim") ?? embd / heads
        vocabSize = vocab
        contextLength = int("max_position_embeddings") ?? 4096
        tiedEmbeddings = layout.alwaysTied || ((c["tie_word_embeddings"] as? Bool) ?? (top["tie_word_embeddings"] as? Bool) ?? layout.tiedByDefault)
        let rope = c["rope_scaling"] as? [String: Any]
        ropeFreqs = arch == "llama" && ((rope?["rope_type"] as? String) ?? (rope?["type"] as? String)) == "llama3"
        slidingWindow = ModelShape.slidingWindowPeriod[arch] != nil ? (int("sliding_window") ?? 0) : 0
        layerTypesSWA = (c["layer_types"] as? [String]).map { $0.map { $0 == "sliding_attention" } }
        switch (c["torch_dtype"] as? String) ?? (c["dtype"] as? String) ?? "bfloat16" {
        case "float32": sourceType = .f32
        case "float16": sourceType = .f16
        default: sourceType = .bf16
        }
    }

    /// The tensors llama.cpp's converter writes, in its order, and the model description.
    public func shape() throws -> ModelShape {
        let layout = Self.layouts[architecture]!
        let e = embeddingLength, q = headCount * headDim, kv = headCountKV * headDim, d = headDim
        var t: [MixTensor] = []
        func add(_ name: String, _ shape: [Int]) {
            t.append(MixTensor(name: name, shape: shape, type: shape.count > 1 ? sourceType : .f32))
        }
        add("token_embd.weight", [e, vocabSize])
        if ropeFreqs { add("rope_freqs.weight", [d / 2]) }
        for i in 0 ..< layerCount {
            let b = "blk.\(i)."
            add(b + "attn_norm.weight", [e])
            add(b + "attn_q.weight", [e, q])
            add(b + "attn_k.weight", [e, kv])
            add(b + "attn_v.weight", [e, kv])
            add(b + "attn_output.weight", [q, e])
            for (suffix, s) in layout.extras { add(b + suffix, s(e, q, kv, d)) }
            add(b + "ffn_norm.weight", [e])
            add(b + "ffn_gate.weight", [e, feedForwardLength])
            add(b + "ffn_up.weight", [e, feedForwardLength])
            add(b + "ffn_down.weight", [feedForwardLength, e])
        }
        add("output_norm.weight", [e])
        if !tiedEmbeddings { add("output.weight", [e, vocabSize]) }
        let mix = MixModel(architecture: architecture, layerCount: layerCount,
                           headCount: Array(repeating: headCount, count: layerCount),
                           headCountKV: Array(repeating: headCountKV, count: layerCount),
                           embeddingLength: e, feedForwardLength: feedForwardLength)
        var swaFlags: [Bool]? = nil
        if slidingWindow > 0, let period = ModelShape.slidingWindowPeriod[architecture] {
            swaFlags = layerTypesSWA.flatMap { $0.count == layerCount ? $0 : nil }
                ?? ModelShape.slidingWindowLayers(count: layerCount, period: period)
        }
        let name = String(path.split(separator: "/").dropLast().last ?? Substring(path))
        var shape = ModelShape(name: name.isEmpty ? path : name, architecture: architecture, tensors: t, mix: mix,
                               contextLength: contextLength, vocabSize: vocabSize, keyLength: d, valueLength: d,
                               slidingWindow: swaFlags == nil ? 0 : slidingWindow, isSlidingWindowLayer: swaFlags)
        if let n = checkpointParameterCount, n != shape.parameterCount {
            shape.notes.append("the checkpoint holds \(n) parameters, the config describes \(shape.parameterCount): sizes follow the config")
        }
        return shape
    }
}

/// True when `path` names a directory.
func isDirectory(_ path: String) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
}
