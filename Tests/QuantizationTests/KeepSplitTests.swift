import Foundation
import GGUF
import QKCore
import Quantization
import Testing

/// `--keep-split`: a split model quantized into the same shards, byte-identical to
/// `llama-quantize --keep-split` (sha256 of llama.cpp's shards, recorded with
/// `llama-gguf-split --split --split-max-tensors 100` of SmolLM2-135M F32, then
/// `llama-quantize --keep-split … Q4_K_M`; and the unsplit F32 file to Q8_0).
@Suite(.serialized) struct KeepSplitTests {
    static let llamaInputShards = ["bd40b02d0d2086499842af8d27304aa39c037a856a4d58151b559876c7423743",
                                   "0da04169ae6952c7e38bcb1c99740f4067a12cc62aae63d4c3c7268716689a51",
                                   "34cbba88fdde784d58eb1eb2e2ee8c2c9095c31dea11d9b8e45e844b9cd21bd0"]
    static let llamaQ4KMShards = ["d1e4dfaa1578893fcfd0d9da5b7ca219f8c2afaca5a6ee8ced6417fa37c4dba8",
                                  "06a2b591af09c1ed9e75e57ec932b7208bf60b33e2a06e6799c5d7b75022c620",
                                  "886354615b82d96c04e625f9c9d907825c06879316f60242124e212c5b7c2bac"]
    static let llamaSingleQ8_0 = "7b46609d11703c058397e5cfe4cc6e4b2508cb1eb4c80ddc472a5d421fbdb508"

    static func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sha256sum", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }

    static func quantize(_ input: String, _ output: String, _ type: String, keepSplit: Bool) throws -> QuantizeSummary {
        let model = try GGUFModel(path: input)
        var r = QuantizeRequest(typeName: type)
        r.allowRequantize = true
        r.keepSplit = keepSplit
        let job = try QuantizeJob(model: model, request: r)
        return try GGUFQuantizer.run(input: model, plan: job.plan, metadata: job.metadata, outputPath: output,
                                     imatrix: nil, allowRequantize: true, keepSplit: keepSplit)
    }

    @Test func matchesLlamaQuantizeKeepSplit() throws {
        let models = ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(mixPackageRoot)/models"
        let src = try requireFile("\(models)/SmolLM2-135M-Instruct.Q4_1.gguf", "run scripts/fetch-models.sh")
        let dir = NSTemporaryDirectory() + "qk-keepsplit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Self.quantize(src, "\(dir)/f32.gguf", "F32", keepSplit: false)
        let shards = try GGUFSplit.split(GGUFModel(path: "\(dir)/f32.gguf"), outputPrefix: "\(dir)/smol",
                                         options: .init(limit: .tensors(100)))
        #expect(try shards.map(Self.sha256) == Self.llamaInputShards)   // the same input as llama.cpp's

        let summary = try Self.quantize(shards[0], "\(dir)/q.gguf", "Q4_K_M", keepSplit: true)
        #expect(summary.files == (1 ... 3).map { "\(dir)/q-0000\($0)-of-00003.gguf" })
        #expect(try summary.files.map(Self.sha256) == Self.llamaQ4KMShards)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/q.gguf"))
        // The shards load back as one model.
        #expect(try GGUFModel(path: summary.files[0]).tensors.count == 272)

        // An unsplit input gives one "-00001-of-00001" file, as llama-quantize names it.
        let single = try Self.quantize("\(dir)/f32.gguf", "\(dir)/single", "Q8_0", keepSplit: true)
        #expect(single.files == ["\(dir)/single-00001-of-00001.gguf"])
        #expect(try Self.sha256(single.files[0]) == Self.llamaSingleQ8_0)
    }
}
