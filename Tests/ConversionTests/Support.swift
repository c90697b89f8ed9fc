import Foundation
import GGUF
import QKCore
import Quantization
@testable import Conversion

/// Inputs of the conversion tests: the real models dequantized to F32 (made with QuantKit's own
/// quantizer, as the engine tests make them), Hugging Face checkpoints rebuilt from those by the
/// shared fixture tool, and what llama.cpp's converter wrote for those checkpoints.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static var modelsDir: String { ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(packageRoot)/models" }
    static let shipped = ["smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf", "gemma3": "gemma-3-270m-q4_k_m.gguf",
                          "qwen25": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]
    private static let lock = NSLock()

    /// `name` dequantized to F32 (models/derived/NAME-F32.gguf, shared with the engine tests).
    static func f32(_ name: String) throws -> String {
        lock.lock(); defer { lock.unlock() }
        return try f32Unlocked(name)
    }

    private static func f32Unlocked(_ name: String) throws -> String {
        let out = "\(modelsDir)/derived/\(name)-F32.gguf"
        if FileManager.default.fileExists(atPath: out) { return out }
        let input = "\(modelsDir)/\(shipped[name]!)"
        guard FileManager.default.fileExists(atPath: input) else {
            throw QuantKitError("model not found: run scripts/fetch-models.sh", path: input)
        }
        try FileManager.default.createDirectory(atPath: "\(modelsDir)/derived", withIntermediateDirectories: true)
        let model = try GGUFModel(path: input)
        var r = QuantizeRequest(typeName: "F32")
        r.allowRequantize = true
        let job = try QuantizeJob(model: model, request: r)
        _ = try GGUFQuantizer.run(input: model, plan: job.plan, metadata: job.metadata, outputPath: out, imatrix: nil, allowRequantize: true)
        return out
    }

    /// The Hugging Face checkpoint rebuilt from `name`'s F32 GGUF by
    /// ../shared/tools/make_hf_checkpoint.py (cached as models/derived/hf-NAME[-bf16]).
    static func checkpoint(_ name: String, dtype: String = "f32") throws -> String {
        lock.lock(); defer { lock.unlock() }
        let dir = "\(modelsDir)/derived/hf-\(name)\(dtype == "f32" ? "" : "-" + dtype)"
        if FileManager.default.fileExists(atPath: dir + "/config.json") { return dir }
        let source = try f32Unlocked(name)
        let tool = URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared/tools/make_hf_checkpoint.py").path
        let tmp = dir + ".tmp-\(UUID().uuidString)"
        try? FileManager.default.removeItem(atPath: tmp)
        try run(["python3", tool, source, tmp, "--dtype", dtype])
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.moveItem(atPath: tmp, toPath: dir)
        return dir
    }

    static func run(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw QuantKitError("\(args.joined(separator: " ")) failed (\(p.terminationStatus))") }
    }

    /// What llama.cpp's convert_hf_to_gguf.py wrote for the fixture checkpoints
    /// (scripts/reference/make-convert-fixtures.sh): per conversion, the metadata outside
    /// general.* as [key, type, digest] and the tensors as [name, type, shape, sha256].
    static func reference(_ key: String) throws -> (metadata: [[String]], tensors: [(String, String, [Int], String)]) {
        let url = URL(fileURLWithPath: "\(packageRoot)/Tests/ConversionTests/Fixtures/llama-cpp-convert.json")
        let all = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        guard let entry = all?[key] as? [String: Any], let md = entry["metadata"] as? [[String]],
              let ts = entry["tensors"] as? [[Any]] else { throw QuantKitError("no reference conversion '\(key)'") }
        return (md, ts.map { ($0[0] as! String, $0[1] as! String, ($0[2] as! [NSNumber]).map(\.intValue), $0[3] as! String) })
    }

    /// Fills `dir` with links to `files` of checkpoint `source`, under the same names or the
    /// names `rename` gives.
    static func link(_ files: [String], from source: String, into dir: String, rename: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in files {
            try FileManager.default.createSymbolicLink(atPath: dir + "/" + (rename[f] ?? f), withDestinationPath: source + "/" + f)
        }
    }

    /// Writes `source`'s config.json into `dir` with `edit` applied.
    static func editedConfig(from source: String, into dir: String, _ edit: (inout [String: Any]) -> Void) throws -> [String: Any] {
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return config
    }

    static func temporaryDirectory() throws -> String {
        let d = NSTemporaryDirectory() + "qk-convert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Converts `dir` to `out` as `quant convert` does.
    @discardableResult
    static func convert(_ dir: String, _ out: String, _ request: ConvertRequest) throws -> ConvertSummary {
        let plan = try CheckpointConverter.plan(try HFCheckpoint(directory: dir), request)
        return try CheckpointConverter.run(plan, outputPath: out)
    }
}

/// The digests convert_fixture.py computes, recomputed from QuantKit's own output.
enum Digest {
    static func metadata(_ md: GGUFMetadata) -> [[String]] {
        md.filter { !$0.key.hasPrefix("general.") }.map { [$0.key, type($0.value), value($0.value)] }
    }

    static func type(_ v: GGUFValue) -> String {
        if case .array(let a) = v { return "ARRAY[\(a.elementType.name)]" }
        return v.type.name
    }

    static func value(_ v: GGUFValue) -> String {
        switch v {
        case .float32(let f): return String(format: "0x%08x", f.bitPattern)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return s
        case .array(let a):
            var raw: [UInt8] = []
            switch a {
            case .string(let x): for s in x { raw += Array(s.utf8); raw.append(0) }
            case .int32(let x): x.withUnsafeBytes { raw = Array($0) }
            case .uint32(let x): x.withUnsafeBytes { raw = Array($0) }
            case .float32(let x): x.withUnsafeBytes { raw = Array($0) }
            default: raw = Array("unsupported".utf8)
            }
            return "\(a.count):\(SHA256.hex(raw))"
        default: return v.int.map(String.init) ?? "?"
        }
    }
}
