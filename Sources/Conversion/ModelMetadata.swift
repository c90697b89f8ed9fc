import Foundation
import GGUF
import QKCore
import SafeTensors

/// The hyper-parameter metadata llama.cpp's converter writes (`TextModel.set_gguf_parameters`
/// and the architecture's additions), in its key order and with its value types.
///
/// Values come from `config.json` with the defaults transformers' config classes supply when a
/// key is absent (the converter reads the config through them); keys without such a default
/// are required, and a missing one is an error naming the file.
enum ModelMetadata {
    /// The shape facts the tensors are checked against.
    struct Shape {
        var layers: Int, embedding: Int, feedForward: Int, heads: Int, kvHeads: Int, vocab: Int
    }

    static func shape(_ c: HFConfig) throws -> Shape {
        let heads = try c.int("num_attention_heads", "n_head", "n_heads")
        let s = Shape(layers: try c.int("num_hidden_layers", "n_layers", "n_layer", "num_layers"),
                      embedding: try c.int("hidden_size", "n_embd", "dim"),
                      feedForward: try c.int("intermediate_size", "n_inner", "hidden_dim"),
                      heads: heads,
                      kvHeads: try c.optionalInt("num_key_value_heads", "n_kv_heads") ?? heads,
                      vocab: try c.int("vocab_size"))
        guard s.kvHeads > 0, s.heads % s.kvHeads == 0 else {
            throw QuantKitError("num_attention_heads (\(s.heads)) is not a multiple of num_key_value_heads (\(s.kvHeads))", path: c.path)
        }
        return s
    }

    /// `rope_theta` as the converter finds it (top level, or transformers 5's `rope_parameters`).
    static func ropeTheta(_ c: HFConfig) throws -> Double? {
        if let t = try c.optionalDouble("global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base") { return t }
        let rp = c["rope_parameters"]
        return (rp?["full_attention"] ?? rp)?["rope_theta"]?.doubleValue
    }

    /// The common hyper-parameters through `general.file_type`, then the architecture's own.
    static func write(_ arch: Architecture, config c: HFConfig, fileType: UInt32, into md: inout GGUFMetadata) throws {
        let a = arch.name + "."
        let s = try shape(c)
        func u32(_ k: String, _ v: Int) { md[a + k] = .uint32(UInt32(v)) }
        u32("block_count", s.layers)
        let ctxDefault: Int? = arch.name == "gemma3" ? 131072 : nil
        guard let ctx = try c.optionalInt("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length") ?? ctxDefault else {
            throw QuantKitError("missing \"max_position_embeddings\"", path: c.path)
        }
        u32("context_length", ctx)
        u32("embedding_length", s.embedding)
        u32("feed_forward_length", s.feedForward)
        u32("attention.head_count", s.heads)
        u32("attention.head_count_kv", s.kvHeads)
        if try c.optionalBool("is_causal") == false { md[a + "attention.causal"] = .bool(false) }
        try ropeScaling(c, arch: arch, prefix: a, into: &md)
        let theta = try ropeTheta(c) ?? (arch.name == "gemma3" ? 1_000_000 : 10_000)
        md[a + "rope.freq_base"] = .float32(Float(theta))
        let localTheta = try c.optionalDouble("local_rope_theta", "rope_local_theta", "rope_theta_local", "swa_rope_theta", "rope_local_base_freq")
            ?? c["rope_parameters"]?["sliding_attention"]?["rope_theta"]?.doubleValue
            ?? (arch.name == "gemma3" ? 10_000 : nil)
        if let localTheta { md[a + "rope.freq_base_swa"] = .float32(Float(localTheta)) }
        md[a + "attention.layer_norm_rms_epsilon"] = .float32(Float(try c.optionalDouble("rms_norm_eps", "norm_eps") ?? 1e-6))
        if let eps = try c.optionalDouble("layer_norm_eps", "layer_norm_epsilon", "norm_epsilon") {
            md[a + "attention.layer_norm_epsilon"] = .float32(Float(eps))
        }
        if let e = try c.optionalInt("num_local_experts", "num_experts", "n_routed_experts"), e > 0 {
            throw QuantKitError("mixture-of-experts checkpoints (\(e) experts) are not supported", path: c.path)
        }
        if let hd = try arch.defaultHeadDim(c) {
            u32("attention.key_length", hd)
            u32("attention.value_length", hd)
        }
        md["general.file_type"] = .uint32(fileType)
        try arch.extraMetadata(c, &md)
    }

    /// RoPE scaling (`rope_scaling`, or transformers 5's `rope_parameters`): linear and YaRN are
    /// written as the converter writes them; Llama 3's becomes the `rope_freqs` tensor (no keys);
    /// any other kind is refused.
    private static func ropeScaling(_ c: HFConfig, arch: Architecture, prefix a: String, into md: inout GGUFMetadata) throws {
        guard let rp0 = c["rope_parameters"] ?? c["rope_scaling"] else { return }
        let rp = rp0["full_attention"] ?? rp0
        guard let type = (rp["rope_type"] ?? rp["type"])?.stringValue, type != "default" else { return }
        let factor = rp["factor"]?.doubleValue
        switch type {
        case "linear" where factor != nil:
            md[a + "rope.scaling.type"] = .string("linear")
            md[a + "rope.scaling.factor"] = .float32(Float(factor!))
        case "yarn" where factor != nil:
            md[a + "rope.scaling.type"] = .string("yarn")
            md[a + "rope.scaling.factor"] = .float32(Float(factor!))
            guard let orig = rp["original_max_position_embeddings"]?.intValue else {
                throw QuantKitError("YaRN rope scaling without original_max_position_embeddings", path: c.path)
            }
            md[a + "rope.scaling.original_context_length"] = .uint32(UInt32(orig))
            for (k, key) in [("extrapolation_factor", "yarn_ext_factor"), ("attention_factor", "yarn_attn_factor"),
                             ("beta_fast", "yarn_beta_fast"), ("beta_slow", "yarn_beta_slow")] {
                if let v = rp[k]?.doubleValue { md[a + "rope.scaling." + key] = .float32(Float(v)) }
            }
        case "llama3" where arch.name == "llama":
            break
        default:
            throw QuantKitError("rope scaling type \"\(type)\" is not supported", path: c.path)
        }
    }

    /// gguf-py's size label: the parameter count rounded to K/M/B/T with at least two digits.
    static func sizeLabel(_ params: Int) -> String {
        let (scale, suffix): (Double, String) = params >= 1_000_000_000_000 ? (1e12, "T") : params >= 1_000_000_000 ? (1e9, "B")
            : params >= 1_000_000 ? (1e6, "M") : (1e3, "K")
        let v = Double(params) / scale
        let intDigits = String(Int(v)).count
        let decimals = max(2 - intDigits, 0)
        var s = String(format: "%.\(decimals)f", v)
        if decimals > 0, s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s + suffix
    }
}
