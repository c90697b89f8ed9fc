import Foundation
import GGUF
import QKCore
import SafeTensors

extension Architecture {
    /// Llama 2/3, SmolLM2, Mistral (dense): q/k rows permuted for GGML's rotary layout; the
    /// vocabulary is SentencePiece when `tokenizer.model` exists, else byte-level BPE.
    public static let llama = Architecture(
        name: "llama",
        hfClasses: ["LlamaForCausalLM", "LLaMAForCausalLM", "MistralForCausalLM"],
        blockTensors: llamaBlock,
        permutesQK: true, shiftsNorms: false, trimsEmbeddings: false,
        // transformers' LlamaConfig always fills head_dim (hidden_size / num_attention_heads).
        defaultHeadDim: { c in try c.optionalInt("head_dim") ?? (c.int("hidden_size") / c.int("num_attention_heads")) },
        extraMetadata: { c, md in
            md["llama.vocab_size"] = .uint32(UInt32(try c.int("vocab_size")))
            let rope = try c.optionalInt("head_dim") ?? (c.int("hidden_size") / c.int("num_attention_heads"))
            md["llama.rope.dimension_count"] = .uint32(UInt32(rope))
        },
        writeVocabulary: { dir, c, md in
            if let tc = try VocabularyExport.tokenizerConfig(dir), let p = tc["add_prefix_space"]?.boolValue {
                md["tokenizer.ggml.add_space_prefix"] = .bool(p)
            }
            if FileManager.default.fileExists(atPath: dir + "/tokenizer.model") {
                try VocabularyExport.writeSentencePiece(dir: dir, config: c, into: &md)
            } else {
                let tok = dir + "/tokenizer.json"
                if let t = try? HFJSON.parse(file: tok), t["model"]?["byte_fallback"]?.boolValue == true {
                    throw QuantKitError("a Llama tokenizer with byte fallback but no tokenizer.model is not supported", path: tok)
                }
                try VocabularyExport.writeBPE(dir: dir, config: c, into: &md)
            }
            // llama.cpp's converter: vocabularies of 49152 tokens (Granite, SmolLM) add no BOS.
            if try c.optionalInt("vocab_size") == 49152 { md["tokenizer.ggml.add_bos_token"] = .bool(false) }
        })
}
