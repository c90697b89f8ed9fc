import GGUF
import QKCore

extension Architecture {
    /// Qwen2 / Qwen2.5: Llama-like blocks with q/k/v biases, no permutation.
    public static let qwen2 = Architecture(
        name: "qwen2", hfClasses: ["Qwen2ForCausalLM"], blockTensors: llamaBlock,
        permutesQK: false, shiftsNorms: false, trimsEmbeddings: false,
        defaultHeadDim: { c in try c.optionalInt("head_dim") },
        extraMetadata: { _, _ in },
        writeVocabulary: sentencePieceOrBPE)

    /// Qwen3 (dense): Qwen2's layout plus per-head q/k RMSNorms; transformers' Qwen3Config
    /// defaults `head_dim` to 128.
    public static let qwen3 = Architecture(
        name: "qwen3", hfClasses: ["Qwen3ForCausalLM"],
        blockTensors: llamaBlock.merging(["self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm"]) { a, _ in a },
        permutesQK: false, shiftsNorms: false, trimsEmbeddings: false,
        defaultHeadDim: { c in try c.optionalInt("head_dim") ?? 128 },
        extraMetadata: { _, _ in },
        writeVocabulary: sentencePieceOrBPE)
}
