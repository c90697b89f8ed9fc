import Foundation
import GGUF
import QKCore
import Quantization
import Testing

/// Where the engine tests find the real models, and the variants they derive from them.
enum Models {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static var dir: String { ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(packageRoot)/models" }

    /// Short name → shipped file.
    static let shipped = ["smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
                          "gemma3": "gemma-3-270m-q4_k_m.gguf",
                          "qwen25": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]

    static func path(_ name: String) throws -> String {
        let p = "\(dir)/\(shipped[name] ?? name)"
        guard FileManager.default.fileExists(atPath: p) else {
            throw Failure("model \(p) not found: run scripts/fetch-models.sh (CI installs it)")
        }
        return p
    }

    private static let lock = NSLock()

    /// `name` at file type `type` ("F32": the shipped model dequantized; others quantized from
    /// that F32 file with llama.cpp's mix, which `quant quantize` reproduces byte for byte).
    /// Made once under models/derived/ and reused.
    static func derived(_ name: String, _ type: String) throws -> String {
        lock.lock(); defer { lock.unlock() }
        let out = "\(dir)/derived/\(name)-\(type).gguf"
        if FileManager.default.fileExists(atPath: out) { return out }
        try FileManager.default.createDirectory(atPath: "\(dir)/derived", withIntermediateDirectories: true)
        let input = type == "F32" ? try path(name) : try derivedUnlocked(name, "F32")
        try quantize(input, out, type)
        return out
    }

    private static func derivedUnlocked(_ name: String, _ type: String) throws -> String {
        let out = "\(dir)/derived/\(name)-\(type).gguf"
        if !FileManager.default.fileExists(atPath: out) { try quantize(try path(name), out, type) }
        return out
    }

    private static func quantize(_ input: String, _ output: String, _ type: String) throws {
        let model = try GGUFModel(path: input)
        var r = QuantizeRequest(typeName: type)
        r.allowRequantize = true
        let job = try QuantizeJob(model: model, request: r)
        _ = try GGUFQuantizer.run(input: model, plan: job.plan, metadata: job.metadata, outputPath: output, imatrix: nil, allowRequantize: true)
    }

    /// llama.cpp's recorded numbers (scripts/reference/make-engine-fixtures.sh).
    static func reference() throws -> [String: Any] {
        let url = URL(fileURLWithPath: "\(packageRoot)/Tests/InferenceTests/Fixtures/llama-cpp-reference.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    static func temporaryDirectory() throws -> String {
        let d = NSTemporaryDirectory() + "qk-infer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
