import Foundation
import QKCore
import SafeTensors
import Testing
@testable import Conversion

/// Broken or foreign checkpoints: a clear error naming the file and the problem, and no output.
@Suite struct BadInputTests {
    /// A tiny Llama checkpoint (1 layer, 64 wide) written from scratch, with `edit` applied to
    /// its config and tensor list.
    private func tinyCheckpoint(_ dir: String, config edit: (inout [String: Any]) -> Void = { _ in },
                                tensors: (inout [(String, SafeTensorsDType, [Int])]) -> Void = { _ in }) throws {
        var config: [String: Any] = ["architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
                                     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                                     "max_position_embeddings": 256, "vocab_size": 256, "rms_norm_eps": 1e-5]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        var list: [(String, SafeTensorsDType, [Int])] = [
            ("model.embed_tokens.weight", .f32, [256, 64]), ("model.norm.weight", .f32, [64]),
            ("model.layers.0.input_layernorm.weight", .f32, [64]), ("model.layers.0.post_attention_layernorm.weight", .f32, [64]),
            ("model.layers.0.self_attn.q_proj.weight", .f32, [64, 64]), ("model.layers.0.self_attn.k_proj.weight", .f32, [32, 64]),
            ("model.layers.0.self_attn.v_proj.weight", .f32, [32, 64]), ("model.layers.0.self_attn.o_proj.weight", .f32, [64, 64]),
            ("model.layers.0.mlp.gate_proj.weight", .f32, [128, 64]), ("model.layers.0.mlp.up_proj.weight", .f32, [128, 64]),
            ("model.layers.0.mlp.down_proj.weight", .f32, [64, 128]),
        ]
        tensors(&list)
        let specs = try list.map { try SafeTensorSpec(name: $0.0, dtype: $0.1, shape: $0.2) }
        let w = try SafeTensorsWriter(path: dir + "/model.safetensors", tensors: specs)
        for s in specs { try [UInt8](repeating: 0, count: s.byteCount).withUnsafeBytes { try w.writeTensor(named: s.name, $0) } }
        try w.commit()
    }

    /// Runs the conversion of `dir` expecting an error whose text contains every one of
    /// `words`, and checks nothing was left in the output directory.
    private func expectFailure(_ dir: String, _ words: [String]) throws {
        let outDir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: outDir) }
        do {
            try Fixtures.convert(dir, outDir + "/out.gguf", ConvertRequest(outType: .f16))
            Issue.record("conversion of \(dir) succeeded; expected an error mentioning \(words)")
        } catch let e as QuantKitError {
            for w in words { #expect(e.description.contains(w), "\(e.description) should mention \(w)") }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outDir).isEmpty, "partial output left behind")
    }

    private func withDirectory(_ body: (String) throws -> Void) throws {
        let d = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try body(d)
    }

    @Test func unsupportedArchitectureListsTheSupportedOnes() throws {
        try withDirectory { d in
            try tinyCheckpoint(d, config: { $0["architectures"] = ["GPT2LMHeadModel"] })
            try expectFailure(d, ["config.json", "unsupported architecture GPT2LMHeadModel", "llama", "qwen2", "qwen3", "gemma3"])
        }
    }

    @Test func missingConfigKey() throws {
        try withDirectory { d in
            try tinyCheckpoint(d, config: { $0["hidden_size"] = nil })
            try expectFailure(d, ["config.json", "missing \"hidden_size\""])
        }
    }

    @Test func inconsistentConfigKeys() throws {
        try withDirectory { d in
            try tinyCheckpoint(d, config: { $0["num_key_value_heads"] = 3 })
            try expectFailure(d, ["config.json", "not a multiple of num_key_value_heads"])
        }
    }

    @Test func shapeDisagreeingWithConfig() throws {
        try withDirectory { d in
            try tinyCheckpoint(d, config: { $0["intermediate_size"] = 96 })
            try expectFailure(d, ["model.safetensors", "mlp.down_proj.weight", "[64, 128]", "config.json implies [64, 96]"])
        }
    }

    @Test func missingTensor() throws {
        try withDirectory { d in
            try tinyCheckpoint(d, tensors: { $0.removeAll { $0.0.hasSuffix("mlp.up_proj.weight") } })
            try expectFailure(d, ["model.safetensors", "missing tensor blk.0.ffn_up.weight"])
        }
    }

    @Test func unknownTensorAndDtype() throws {
        try withDirectory { d in
            try tinyCheckpoint(d, tensors: { $0[1].1 = .i32 })
            try expectFailure(d, ["model.safetensors", "model.norm.weight", "dtype I32"])
        }
        try withDirectory { d in
            try tinyCheckpoint(d, tensors: { $0.append(("model.layers.0.mystery.weight", .f32, [64])) })
            try expectFailure(d, ["cannot map tensor 'model.layers.0.mystery.weight'"])
        }
    }

    @Test func missingTokenizer() throws {
        try withDirectory { d in
            try tinyCheckpoint(d)
            try expectFailure(d, ["no tokenizer.json or tokenizer.model"])
        }
    }

    /// A byte-level BPE tokenizer whose splitting llama.cpp does not know (SmolLM2's vocabulary
    /// split with Qwen2's regex), or whose pre-tokenizer QuantKit cannot run, cannot be named,
    /// so nothing is written.
    @Test func unidentifiableTokenizer() throws {
        let qwen2Split: [String: Any] = ["type": "Split", "pattern": ["Regex": PreTokenizerIdentifier.qwen2Regex],
                                         "behavior": "Isolated", "invert": false]
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false]
        try withTokenizer(["type": "Sequence", "pretokenizers": [qwen2Split, byteLevel]]) {
            try expectFailure($0, ["tokenizer.json", "pre-tokenizer was not recognized", "a70b913f1e3447c4"])
        }
        try withTokenizer(["type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true]) {
            try expectFailure($0, ["tokenizer.json", "cannot identify the pre-tokenizer", "Metaspace"])
        }
    }

    /// SmolLM2's checkpoint with `pre_tokenizer` replaced in its tokenizer.json.
    private func withTokenizer(_ pre: [String: Any], _ body: (String) throws -> Void) throws {
        let source = try Fixtures.checkpoint("smollm2")
        try withDirectory { d in
            try Fixtures.link(["config.json", "generation_config.json", "tokenizer_config.json", "model.safetensors"], from: source, into: d)
            var tok = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/tokenizer.json"))) as! [String: Any]
            tok["pre_tokenizer"] = pre
            try JSONSerialization.data(withJSONObject: tok).write(to: URL(fileURLWithPath: d + "/tokenizer.json"))
            try body(d)
        }
    }
}
