import Foundation
import GGUF
import QKCore

extension Architecture {
    /// Gemma 3 (text): four norms per block, per-head q/k norms, every `*norm.weight` stored as
    /// 1 + w, the embedding matrix trimmed to the vocabulary, sliding-window attention.
    public static let gemma3 = Architecture(
        name: "gemma3", hfClasses: ["Gemma3ForCausalLM"],
        blockTensors: llamaBlock.merging([
            "post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
            "post_feedforward_layernorm": "post_ffw_norm",
            "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
        ]) { _, b in b },
        permutesQK: false, shiftsNorms: true, trimsEmbeddings: true,
        defaultHeadDim: { c in try c.optionalInt("head_dim") ?? 256 },
        extraMetadata: { c, md in
            // Gemma3Model.set_gguf_parameters: these overwrite the common values in place.
            md["gemma3.context_length"] = .uint32(UInt32(try c.optionalInt("max_position_embeddings") ?? 131072))
            md["gemma3.attention.head_count"] = .uint32(UInt32(try c.optionalInt("num_attention_heads") ?? 8))
            md["gemma3.attention.layer_norm_rms_epsilon"] = .float32(Float(try c.optionalDouble("rms_norm_eps") ?? 1e-6))
            let headDim = UInt32(try c.optionalInt("head_dim") ?? 256)
            md["gemma3.attention.key_length"] = .uint32(headDim)
            md["gemma3.attention.value_length"] = .uint32(headDim)
            md["gemma3.rope.freq_base"] = .float32(Float(try ModelMetadata.ropeTheta(c) ?? 1_000_000))
            if try c.optionalDouble("attn_logit_softcapping") != nil {
                throw QuantKitError("attn_logit_softcapping is set, but Gemma 3 has none", path: c.path)
            }
            if let cap = try c.optionalDouble("final_logit_softcapping"), cap != 0 {
                md["gemma3.final_logit_softcapping"] = .float32(Float(cap))
            }
            if try c.optionalInt("sliding_window_pattern") != 1 {
                guard let w = try c.optionalInt("sliding_window") else {
                    throw QuantKitError("missing \"sliding_window\"", path: c.path)
                }
                md["gemma3.attention.sliding_window"] = .uint32(UInt32(w))
            }
            md["gemma3.attention.head_count_kv"] = .uint32(UInt32(try c.optionalInt("num_key_value_heads") ?? 4))
        },
        writeVocabulary: { dir, c, md in
            try sentencePieceOrBPE(dir, c, &md)
            if FileManager.default.fileExists(atPath: dir + "/tokenizer.model") {
                md["tokenizer.ggml.add_space_prefix"] = .bool(false)
            }
        })
}
