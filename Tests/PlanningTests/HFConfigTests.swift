import Foundation
import Planning
import Quantization
import SafeTensors
import Testing

/// Shapes synthesized from a Hugging Face config.json equal those of the converted GGUF.
@Suite struct HFConfigTests {
    /// The checked-in configs (make_hf_checkpoint.py from each model's F32 GGUF) give the same
    /// tensor names and shapes as the GGUF, the same hyper-parameters, and so the same size at
    /// every file type and the same KV cache.
    @Test(arguments: Fixtures.names)
    func configMatchesGGUF(_ name: String) throws {
        let gguf = try Fixtures.shape(name)
        let cfg = try Fixtures.configShape(name)
        let a = Dictionary(uniqueKeysWithValues: gguf.tensors.map { ($0.name, $0.shape) })
        let b = Dictionary(uniqueKeysWithValues: cfg.tensors.map { ($0.name, $0.shape) })
        #expect(a == b)
        #expect(cfg.architecture == gguf.architecture)
        #expect(cfg.contextLength == gguf.contextLength)
        #expect(cfg.vocabSize == gguf.vocabSize)
        #expect(cfg.slidingWindow == gguf.slidingWindow)
        #expect(cfg.isSlidingWindowLayer == gguf.isSlidingWindowLayer)
        let x = WeightSizes.all(gguf), y = WeightSizes.all(cfg)
        #expect(x.count == y.count && x.count >= 34)
        for (p, q) in zip(x, y) { #expect(p.fileType == q.fileType && p.bytes == q.bytes, "\(name) \(p.fileType.name)") }
        let o = ContextOptions(context: 8192, typeK: .q8_0, typeV: .q4_0)
        #expect(try KVCache.size(cfg, o) == KVCache.size(gguf, o))
    }

    /// Qwen3 (no test model of its own): per-head q/k norms, no biases, head_dim from the config,
    /// tied embeddings; Qwen3-0.6B's published config.
    @Test func qwen3() throws {
        let json: [String: Any] = [
            "model_type": "qwen3", "hidden_size": 1024, "num_hidden_layers": 28, "num_attention_heads": 16,
            "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 3072, "vocab_size": 151936,
            "max_position_embeddings": 40960, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
        ]
        let s = try HFConfig(json: json).shape()
        let names = Set(s.tensors.map(\.name))
        #expect(names.contains("blk.0.attn_q_norm.weight") && names.contains("blk.27.attn_k_norm.weight"))
        #expect(!names.contains("blk.0.attn_q.bias") && !names.contains("output.weight"))
        #expect(s.tensors.first { $0.name == "blk.0.attn_q.weight" }?.shape == [1024, 2048])
        #expect(s.parameterCount == 596_049_920)  // Qwen3-0.6B: 0.6B with tied embeddings
        let kv = try KVCache.size(s, ContextOptions(context: 4096))
        #expect(kv.bytes == 28 * 4096 * 2 * (8 * 128) * 2)
    }

    /// Llama 3.1 configs carry llama3 RoPE scaling: the converter adds rope_freqs.weight.
    @Test func llama31RopeFreqs() throws {
        let s = try #require(StandardModels.named("llama-3.1-8b")).shape()
        #expect(s.tensors.contains { $0.name == "rope_freqs.weight" && $0.shape == [64] })
        #expect(s.parameterCount == 8_030_261_312)
    }

    /// A checkpoint directory: the config decides the shapes, and the safetensors headers are
    /// counted to catch a config that does not describe the weights.
    @Test func checkpointDirectoryIsCrossChecked() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plan-hf-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg: [String: Any] = ["model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                  "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 256,
                                  "max_position_embeddings": 2048, "torch_dtype": "float16"]
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: dir + "/config.json"))
        var specs = [("model.embed_tokens.weight", [256, 64]), ("model.norm.weight", [64]), ("lm_head.weight", [256, 64])]
        for i in 0 ..< 2 {
            let p = "model.layers.\(i)."
            specs += [(p + "self_attn.q_proj.weight", [64, 64]), (p + "self_attn.k_proj.weight", [32, 64]),
                      (p + "self_attn.v_proj.weight", [32, 64]), (p + "self_attn.o_proj.weight", [64, 64]),
                      (p + "mlp.gate_proj.weight", [128, 64]), (p + "mlp.up_proj.weight", [128, 64]),
                      (p + "mlp.down_proj.weight", [64, 128]), (p + "input_layernorm.weight", [64]),
                      (p + "post_attention_layernorm.weight", [64])]
        }
        func write(_ specs: [(String, [Int])]) throws {
            let w = try SafeTensorsWriter(path: dir + "/model.safetensors",
                                          tensors: specs.map { try SafeTensorSpec(name: $0.0, dtype: .f16, shape: $0.1) })
            for spec in w.tensors {
                try [UInt8](repeating: 0, count: spec.byteCount).withUnsafeBytes { try w.append($0) }
            }
            try w.commit()
        }
        try write(specs)
        let ok = try ModelShape.load(path: dir)
        #expect(ok.notes.isEmpty && ok.parameterCount == specs.reduce(0) { $0 + $1.1.reduce(1, *) })
        #expect(ok.tensors.contains { $0.name == "output.weight" })
        try write(specs.filter { $0.0 != "lm_head.weight" })  // tied in fact, untied in the config
        #expect(try ModelShape.load(path: dir).notes.count == 1)
    }

    @Test func rejectsUnsupportedArchitectures() {
        #expect(throws: (any Error).self) {
            try HFConfig(json: ["model_type": "mamba", "hidden_size": 1, "num_hidden_layers": 1]).shape()
        }
    }
}
