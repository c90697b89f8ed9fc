import Foundation
import GGUF
import Inference
import QKCore
import QuantFormats
import SafeTensors

/// A GGUF turned back into a Hugging Face checkpoint (F32 safetensors + config.json +
/// generation_config.json) so it can be exported like one: the inverse of llama.cpp's
/// converter for `llama` (q/k rows un-permuted back to the half-split rotary layout) and
/// `qwen2`, with quantized tensors dequantized. The GGUF holds no tokenizer.json, so tokenizer
/// files come from `tokenizerDirectory` when given.
public enum GGUFCheckpoint {
    static let blockNames = [
        "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
        "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
        "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
    ]

    /// The Hugging Face name of a GGUF tensor (nil: not carried, e.g. `rope_freqs`).
    static func hfName(_ g: String) -> String? {
        switch g {
        case "token_embd.weight": return "model.embed_tokens.weight"
        case "output_norm.weight": return "model.norm.weight"
        case "output.weight": return "lm_head.weight"
        default: break
        }
        let p = g.split(separator: ".")
        guard p.count == 4, p[0] == "blk", let m = blockNames[String(p[2])] else { return nil }
        return "model.layers.\(p[1]).\(m).\(p[3])"
    }

    /// Writes the checkpoint of `path` into `directory` (created).
    public static func write(gguf path: String, to directory: String, tokenizerDirectory: String? = nil) throws {
        let model = try GGUFModel(path: path)
        let c = try ModelConfig(gguf: model)
        guard c.architecture == .llama || c.architecture == .qwen2 else {
            throw QuantKitError("GGUF input supports llama and qwen2 models (this one is \(c.architecture.rawValue)); export its Hugging Face checkpoint instead", path: path)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var specs: [SafeTensorSpec] = []
        var sources: [GGUFTensorInfo] = []
        for t in model.tensors {
            guard let name = hfName(t.name) else { continue }
            guard t.type == .f32 || t.type == .f16 || QuantCodec.codec(t.type) != nil else {
                throw QuantKitError("tensor \(t.name) has type \(t.type.name), which cannot be dequantized", path: path)
            }
            specs.append(try SafeTensorSpec(name: name, dtype: .f32, shape: t.shape.reversed()))
            sources.append(t)
        }
        try SafeTensorsSharding.write(directory: directory, tensors: specs, metadata: [(key: "format", value: "pt")],
                                      maxShardSize: Int.max / 2) { i, writer in
            let t = sources[i]
            let n = t.elementCount
            var values = [Float](repeating: 0, count: n)
            let data = model.data(of: t)
            values.withUnsafeMutableBufferPointer { dst in
                switch t.type {
                case .f32: dst.baseAddress!.update(from: data.baseAddress!.assumingMemoryBound(to: Float.self), count: n)
                case .f16: HalfFloat.convertF16ToF32(data.baseAddress!.assumingMemoryBound(to: UInt16.self), dst.baseAddress!, n)
                default: QuantCodec.codec(t.type)!.dequantize(data.baseAddress!, dst.baseAddress!, n)
                }
            }
            // llama.cpp interleaves the two rotary halves of each q/k head: GGUF row 2j+w of a
            // head is Hugging Face row w·(d/2)+j.
            if c.architecture == .llama && (t.name.contains(".attn_q.") || t.name.contains(".attn_k.")) {
                let cols = t.shape.count > 1 ? t.shape[0] : 1
                let rows = n / cols
                let heads = t.name.contains(".attn_q.") ? c.headCount : c.kvHeadCount
                let d = rows / heads, half = d / 2
                var out = values
                for h in 0 ..< heads { for j in 0 ..< half { for w in 0 ..< 2 {
                    let src = (h * d + 2 * j + w) * cols, dst = (h * d + w * half + j) * cols
                    for k in 0 ..< cols { out[dst + k] = values[src + k] }
                } } }
                values = out
            }
            try values.withUnsafeBytes { try writer.writeTensor(named: specs[i].name, $0) }
        }
        func f(_ x: Float) -> Double { Double(String(x))! }
        let tied = model.tensor(named: "output.weight") == nil
        var config: [String: Any] = [
            "architectures": [c.architecture == .llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM"],
            "model_type": c.architecture.rawValue, "hidden_size": c.embeddingLength, "intermediate_size": c.feedForwardLength,
            "num_hidden_layers": c.layerCount, "num_attention_heads": c.headCount, "num_key_value_heads": c.kvHeadCount,
            "head_dim": c.headDim, "rms_norm_eps": f(c.rmsEpsilon), "rope_theta": f(c.ropeBase),
            "max_position_embeddings": c.trainedContext, "vocab_size": c.vocabularySize, "tie_word_embeddings": tied,
            "hidden_act": "silu", "torch_dtype": "float32", "attention_bias": c.architecture == .qwen2, "use_cache": true,
        ]
        var generation: [String: Any] = [:]
        if let b = model["tokenizer.ggml.bos_token_id"]?.int { config["bos_token_id"] = b; generation["bos_token_id"] = b }
        if let e = model["tokenizer.ggml.eos_token_id"]?.int { config["eos_token_id"] = e; generation["eos_token_id"] = e }
        try Exporter.writeJSON(config, to: directory + "/config.json")
        try Exporter.writeJSON(generation, to: directory + "/generation_config.json")
        if let tokenizerDirectory {
            for name in try FileManager.default.contentsOfDirectory(atPath: tokenizerDirectory)
            where name.hasPrefix("tokenizer") || name == "special_tokens_map.json" || name == "vocab.json" || name == "merges.txt"
                || name == "chat_template.jinja" {
                let to = directory + "/" + name
                if FileManager.default.fileExists(atPath: to) { try FileManager.default.removeItem(atPath: to) }
                try FileManager.default.copyItem(atPath: tokenizerDirectory + "/" + name, toPath: to)
            }
        }
    }
}
