import Foundation
import GGUF
import QKCore

/// How one model family's Hugging Face checkpoint maps onto llama.cpp's GGUF: the architecture
/// name, the tensor names, the layout changes the converter makes, the hyper-parameters it
/// writes beyond the common ones, and the vocabulary it reads.
///
/// One value per family lives in its own file (`LlamaArchitecture.swift`, …); `forClass(_:)`
/// picks it from `config.json`'s `architectures`.
public struct Architecture: Sendable {
    /// `general.architecture` and the metadata key prefix ("llama", "qwen2", …).
    public let name: String
    /// The Hugging Face model classes converted as this architecture.
    public let hfClasses: [String]
    /// Per-block module paths (after `model.layers.N.`) → GGUF tensor stems (after `blk.N.`).
    let blockTensors: [String: String]
    /// Rows of `q_proj`/`k_proj` are interleaved per head (llama.cpp's `LlamaModel.permute`),
    /// turning Hugging Face's half-split rotary layout into GGML's pairwise one.
    let permutesQK: Bool
    /// Gemma's RMSNorm multiplies by (1 + w): the converter stores 1 + w for every `*norm.weight`.
    let shiftsNorms: Bool
    /// Gemma trims `embed_tokens` to the vocabulary size.
    let trimsEmbeddings: Bool
    /// `head_dim` transformers' config class supplies when config.json has none (nil: the key
    /// then stays absent and no `attention.key_length` is written).
    let defaultHeadDim: (@Sendable (HFConfig) throws -> Int?)
    /// Keys written after the common hyper-parameters (`set_gguf_parameters` of the subclass).
    let extraMetadata: @Sendable (HFConfig, inout GGUFMetadata) throws -> Void
    /// Writes the vocabulary (`set_vocab`).
    let writeVocabulary: @Sendable (String, HFConfig, inout GGUFMetadata) throws -> Void
    /// Tensors the converter computes rather than reads (`generate_extra_tensors`): name and values.
    var generatedTensors: @Sendable (HFConfig) throws -> [(String, [Float])] = { _ in [] }

    /// Every architecture `quant convert` handles.
    public static let supported: [Architecture] = [.llama, .qwen2, .qwen3, .gemma3]

    /// The architecture converting the Hugging Face class `hfClass`, or an error listing the
    /// supported ones.
    public static func forClass(_ hfClass: String, path: String) throws -> Architecture {
        if let a = supported.first(where: { $0.hfClasses.contains(hfClass) }) { return a }
        let list = supported.map { "\($0.name) (\($0.hfClasses.joined(separator: ", ")))" }.joined(separator: "; ")
        throw QuantKitError("unsupported architecture \(hfClass); supported: \(list)", path: path)
    }

    /// The GGUF name of the checkpoint tensor `hfName`; nil for tensors the converter drops
    /// (rotary caches), an error for names it cannot map.
    func ggufName(_ hfName: String, layers: Int, path: String) throws -> String? {
        if hfName.hasSuffix(".rotary_emb.inv_freq") || hfName.hasSuffix(".attention.masked_bias") { return nil }
        let suffix: String
        let stem: Substring
        if hfName.hasSuffix(".weight") { suffix = ".weight"; stem = hfName.dropLast(7) }
        else if hfName.hasSuffix(".bias") { suffix = ".bias"; stem = hfName.dropLast(5) }
        else { throw QuantKitError("cannot map tensor '\(hfName)' to a GGUF name", path: path) }
        switch stem {
        case "model.embed_tokens": return "token_embd" + suffix
        case "model.norm": return "output_norm" + suffix
        case "lm_head": return "output" + suffix
        default: break
        }
        let parts = stem.split(separator: ".", maxSplits: 3)
        if parts.count == 4, parts[0] == "model", parts[1] == "layers", let b = Int(parts[2]), b >= 0, b < layers,
           String(b) == parts[2], let g = blockTensors[String(parts[3])] {
            return "blk.\(b).\(g)\(suffix)"
        }
        throw QuantKitError("cannot map tensor '\(hfName)' to a GGUF name for \(name)", path: path)
    }

    /// Module paths of a block shared by the Llama-like families.
    static let llamaBlock = [
        "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
    ]

    /// `set_vocab` of the Qwen and Gemma families: SentencePiece when `tokenizer.model` exists,
    /// byte-level BPE otherwise.
    static func sentencePieceOrBPE(_ dir: String, _ config: HFConfig, _ md: inout GGUFMetadata) throws {
        if FileManager.default.fileExists(atPath: dir + "/tokenizer.model") {
            try VocabularyExport.writeSentencePiece(dir: dir, config: config, into: &md)
        } else {
            try VocabularyExport.writeBPE(dir: dir, config: config, into: &md)
        }
    }
}
