import Foundation
import GGUF
import QKCore
import Quantization
import SafeTensors
import Testing
@testable import Conversion

/// `quant convert` on checkpoints rebuilt from the three real models, against the source F32
/// GGUFs and against what llama.cpp's convert_hf_to_gguf.py wrote for the same checkpoints.
@Suite(.serialized) struct ConversionTests {
    /// F32: every tensor is the source GGUF's, byte for byte, in llama.cpp's converter order, and
    /// the metadata outside general.* (keys, order, value types, values) is what llama.cpp wrote,
    /// tokenizer.ggml.pre identified by the probe-text hash included.
    @Test(arguments: ["smollm2", "qwen25", "gemma3"])
    func f32ReproducesSourceAndLlamaCppMetadata(_ name: String) throws {
        let dir = try Fixtures.checkpoint(name)
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try Fixtures.convert(dir, tmp + "/out.gguf", ConvertRequest(outType: .f32))
        let ours = try GGUFFile(path: tmp + "/out.gguf")
        let source = try GGUFFile(path: try Fixtures.f32(name))
        let ref = try Fixtures.reference("\(name)-f32")
        #expect(Digest.metadata(ours.metadata) == ref.metadata)
        #expect(ours["general.architecture"]?.string == source.architecture)
        #expect(ours.tensors.map(\.name) == ref.tensors.map(\.0))
        #expect(ours.tensors.count == source.tensors.count)
        for t in source.tensors {
            guard let mine = ours.tensor(named: t.name) else { Issue.record("missing \(t.name)"); continue }
            #expect(mine.type == .f32 && mine.shape == t.shape, "\(t.name)")
            #expect(ours.data(of: mine).elementsEqual(source.data(of: t)), "\(t.name) differs from the source")
        }
    }

    /// F16, BF16 and Q8_0: the same tensor types and bytes as llama.cpp's converter.
    @Test(arguments: [("smollm2", ConvertOutType.f16), ("smollm2", .bf16), ("smollm2", .q8_0), ("gemma3", .q8_0)])
    func outTypesMatchLlamaCpp(_ name: String, _ outType: ConvertOutType) throws {
        try expectMatchesReference(try Fixtures.checkpoint(name), outType, "\(name)-\(outType.rawValue)")
    }

    /// A BF16 checkpoint: `auto` picks BF16 and keeps the bytes; F32 widens them exactly.
    @Test func bf16CheckpointConvertsExactly() throws {
        let dir = try Fixtures.checkpoint("smollm2", dtype: "bf16")
        try expectMatchesReference(dir, .auto, "smollm2bf16-auto")
        try expectMatchesReference(dir, .f32, "smollm2bf16-f32")
    }

    private func expectMatchesReference(_ dir: String, _ outType: ConvertOutType, _ key: String) throws {
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try Fixtures.convert(dir, tmp + "/out.gguf", ConvertRequest(outType: outType))
        let ours = try GGUFFile(path: tmp + "/out.gguf")
        let ref = try Fixtures.reference(key)
        #expect(Digest.metadata(ours.metadata) == ref.metadata, "\(key) metadata")
        #expect(ours.tensors.map(\.name) == ref.tensors.map(\.0), "\(key) tensor order")
        for (name, type, shape, sha) in ref.tensors {
            guard let t = ours.tensor(named: name) else { Issue.record("\(key): missing \(name)"); continue }
            #expect(t.type.name == type && t.shape == shape, "\(key) \(name): \(t.type.name) \(t.shape), llama.cpp \(type) \(shape)")
            #expect(SHA256.hex(ours.data(of: t)) == sha, "\(key) \(name) bytes differ from llama.cpp's")
        }
    }

    /// Qwen3: SmolLM2's checkpoint presented as a Qwen3 model (head_dim 64, per-head q/k norms in a
    /// second shard), as scripts/reference/make-convert-fixtures.sh builds it for llama.cpp's
    /// converter: the same metadata and tensors (no q/k permutation, attn_q_norm/attn_k_norm).
    @Test func qwen3MatchesLlamaCpp() throws {
        let smol = try Fixtures.checkpoint("smollm2")
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let dir = tmp + "/qwen3"
        try Fixtures.link(["tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"], from: smol,
                          into: dir, rename: ["model.safetensors": "model-00001-of-00002.safetensors"])
        let config = try Fixtures.editedConfig(from: smol, into: dir) { c in
            c["architectures"] = ["Qwen3ForCausalLM"]
            c["model_type"] = "qwen3"
            c["head_dim"] = 64
            for k in ["pretraining_tp", "mlp_bias", "attention_bias"] { c[k] = nil }
        }
        let layers = config["num_hidden_layers"] as! Int
        let names = (0 ..< layers).flatMap { b in ["q", "k"].map { "model.layers.\(b).self_attn.\($0)_norm.weight" } }.sorted()
        let w = try SafeTensorsWriter(path: dir + "/model-00002-of-00002.safetensors",
                                      tensors: try names.map { try SafeTensorSpec(name: $0, dtype: .f32, shape: [64]) })
        for (i, n) in names.enumerated() {
            let v = (0 ..< 64).map { Float($0 % 7) * 0.125 + Float(0.5 + Double(i % 3)) }
            try v.withUnsafeBytes { try w.writeTensor(named: n, $0) }
        }
        try w.commit()
        var weightMap: [String: String] = [:]
        for t in try SafeTensorsFile(path: smol + "/model.safetensors").tensors { weightMap[t.name] = "model-00001-of-00002.safetensors" }
        for n in names { weightMap[n] = "model-00002-of-00002.safetensors" }
        try JSONSerialization.data(withJSONObject: ["metadata": [String: Any](), "weight_map": weightMap])
            .write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        try expectMatchesReference(dir, .f32, "qwen3-f32")
    }

    /// Llama 3.1-style rope scaling: the converter computes a `rope_freqs` tensor (first in the
    /// file) and writes no scaling keys; the same checkpoint change as make-convert-fixtures.sh.
    @Test func llama3RopeScalingMatchesLlamaCpp() throws {
        let smol = try Fixtures.checkpoint("smollm2")
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try Fixtures.link(["tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"], from: smol, into: tmp)
        _ = try Fixtures.editedConfig(from: smol, into: tmp) { c in
            c["rope_scaling"] = ["rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                 "original_max_position_embeddings": 2048]
        }
        try expectMatchesReference(tmp, .f32, "smollm2rope-f32")
    }

    /// The checkpoint split into three shards with an index gives the very same file.
    @Test func shardedEqualsUnsharded() throws {
        let dir = try Fixtures.checkpoint("smollm2")
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let sharded = tmp + "/sharded"
        try Fixtures.link(try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".safetensors") },
                          from: dir, into: sharded)
        let source = try SafeTensorsFile(path: dir + "/model.safetensors")
        let names = source.tensors.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let per = (names.count + 2) / 3
        var weightMap: [String: String] = [:]
        for k in 0 ..< 3 {
            let part = Array(names[min(k * per, names.count) ..< min((k + 1) * per, names.count)])
            let file = String(format: "model-%05d-of-00003.safetensors", k + 1)
            let w = try SafeTensorsWriter(path: sharded + "/" + file, tensors: try part.map { SafeTensorSpec(try source.info($0)) })
            for n in part { try w.writeTensor(named: n, try source.data(n)); weightMap[n] = file }
            try w.commit()
        }
        let index: [String: Any] = ["metadata": ["total_size": source.dataSize], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: sharded + "/model.safetensors.index.json"))
        var r = ConvertRequest(outType: .q8_0)
        r.name = "SmolLM2"
        try Fixtures.convert(dir, tmp + "/single.gguf", r)
        try Fixtures.convert(sharded, tmp + "/sharded.gguf", r)
        let a = try MappedFile(path: tmp + "/single.gguf"), b = try MappedFile(path: tmp + "/sharded.gguf")
        #expect(try a.bytes(at: 0, count: a.count).elementsEqual(b.bytes(at: 0, count: b.count)))
    }

    /// `--type` in the same pass equals converting to F32 and then `quant quantize`, byte for byte
    /// (Q4_K_M also with an importance matrix: a synthetic one covering every matrix).
    @Test(arguments: [("Q4_K_M", false), ("Q8_0", false), ("Q4_K_M", true)])
    func onePassEqualsConvertThenQuantize(_ type: String, _ withImatrix: Bool) throws {
        let dir = try Fixtures.checkpoint("smollm2")
        let tmp = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try Fixtures.convert(dir, tmp + "/f32.gguf", ConvertRequest(outType: .f32))
        let model = try GGUFModel(path: tmp + "/f32.gguf")
        let imatrix = withImatrix ? try syntheticImatrix(for: model, at: tmp + "/imatrix.gguf") : nil
        var q = QuantizeRequest(typeName: type)
        q.imatrixPath = imatrix
        let job = try QuantizeJob(model: model, request: q)
        _ = try GGUFQuantizer.run(input: model, plan: job.plan, metadata: job.metadata, outputPath: tmp + "/two.gguf", imatrix: job.imatrix)
        var r = ConvertRequest(outType: .f32)
        r.quantizeType = type
        r.imatrixPath = imatrix
        try Fixtures.convert(dir, tmp + "/one.gguf", r)
        let a = try MappedFile(path: tmp + "/two.gguf"), b = try MappedFile(path: tmp + "/one.gguf")
        #expect(a.count == b.count)
        #expect(try a.bytes(at: 0, count: a.count).elementsEqual(b.bytes(at: 0, count: b.count)))
    }

    /// An imatrix GGUF (llama.cpp's layout) with a positive pseudo-random weight per column of
    /// every 2-D tensor of `model`, one chunk.
    private func syntheticImatrix(for model: GGUFModel, at path: String) throws -> String {
        let mats = model.tensors.filter { $0.shape.count == 2 }
        var infos: [GGUFTensorInfo] = []
        for t in mats {
            infos.append(GGUFTensorInfo(name: t.name + ".in_sum2", type: .f32, shape: [t.shape[0], 1]))
            infos.append(GGUFTensorInfo(name: t.name + ".counts", type: .f32, shape: [1, 1]))
        }
        let md: GGUFMetadata = ["general.type": .string("imatrix"), "imatrix.datasets": .array(.string(["synthetic"])),
                                "imatrix.chunk_count": .uint32(1), "imatrix.chunk_size": .uint32(512)]
        let w = try GGUFWriter(path: path, metadata: md, tensors: infos)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for t in mats {
            let sums = (0 ..< t.shape[0]).map { _ -> Float in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(seed >> 40) / Float(1 << 24) * 4 + 0.01
            }
            try sums.withUnsafeBytes { try w.writeTensor(named: t.name + ".in_sum2", $0) }
            try [Float(1)].withUnsafeBytes { try w.writeTensor(named: t.name + ".counts", $0) }
        }
        try w.finish()
        return path
    }
}
