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
        },
        generatedTensors: { c in try llama3RopeFactors(c).map { [("rope_freqs.weight", $0)] } ?? [] })

    /// Llama 3.1+'s rope scaling as the converter bakes it into a `rope_freqs` tensor: per rotary
    /// frequency, 1 (high frequencies), `factor` (low) or a smooth blend, computed in float32 the
    /// way its torch code does (libm `powf`, then float32 arithmetic). Nil without such scaling.
    static func llama3RopeFactors(_ c: HFConfig) throws -> [Float]? {
        guard let rp0 = c["rope_parameters"] ?? c["rope_scaling"] else { return nil }
        let rp = rp0["full_attention"] ?? rp0
        guard (rp["rope_type"] ?? rp["type"])?.stringValue?.lowercased() == "llama3" else { return nil }
        let base = Float(try ModelMetadata.ropeTheta(c) ?? 10_000)
        let dim = try c.optionalInt("head_dim") ?? (c.int("hidden_size") / c.int("num_attention_heads"))
        let factor = rp["factor"]?.doubleValue ?? 8
        let low = rp["low_freq_factor"]?.doubleValue ?? 1, high = rp["high_freq_factor"]?.doubleValue ?? 4
        let old = rp["original_max_position_embeddings"]?.doubleValue ?? 8192
        let lowWavelen = old / low, highWavelen = old / high
        return stride(from: 0, to: dim, by: 2).map { i in
            let freq = 1 / powf(base, Float(i) / Float(dim))
            let wavelen = Float(2 * Double.pi) / freq
            if Double(wavelen) < highWavelen { return 1 }
            if Double(wavelen) > lowWavelen { return Float(factor) }
            let smooth = (Float(old) / wavelen - Float(low)) / Float(high - low)
            return 1 / ((1 - smooth) / Float(factor) + smooth)
        }
    }
}
