import Foundation
import GGUF
import QKCore
import Quantization
import Testing

/// Real models, their F32/Q8_0 derivations (shared with the engine tests under models/derived)
/// and llama.cpp's recorded outputs (scripts/reference/make-imatrix-fixtures.sh).
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static var models: String { ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(packageRoot)/models" }
    static let dir = "\(packageRoot)/Tests/CalibrationTests/Fixtures"
    static var text: String { "\(models)/text/eng/history.txt" }

    static let shipped = ["smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
                          "qwen25": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]

    /// llama-imatrix's matrix for `model` at `type` (4 chunks of 512 tokens of history.txt).
    static func llamaImatrix(_ model: String, _ type: String) -> String { "\(dir)/llama-\(model)-\(type).imatrix.gguf" }

    /// The recorded hashes and figures.
    static func reference() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/llama-cpp-imatrix.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    private static let lock = NSLock()

    /// `name` at `type` ("F32": the shipped model dequantized; "Q8_0": quantized from that),
    /// byte-identical to llama-quantize's files of the same name.
    static func model(_ name: String, _ type: String) throws -> String {
        lock.lock(); defer { lock.unlock() }
        let f32 = "\(models)/derived/\(name)-F32.gguf"
        try FileManager.default.createDirectory(atPath: "\(models)/derived", withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: f32) {
            let src = "\(models)/\(shipped[name]!)"
            guard FileManager.default.fileExists(atPath: src) else { throw Failure("model \(src) not found: run scripts/fetch-models.sh") }
            try quantize(src, f32, "F32")
        }
        if type == "F32" { return f32 }
        let out = "\(models)/derived/\(name)-\(type).gguf"
        if !FileManager.default.fileExists(atPath: out) { try quantize(f32, out, type) }
        return out
    }

    static func quantize(_ input: String, _ output: String, _ type: String, imatrix: String? = nil) throws {
        let model = try GGUFModel(path: input)
        var r = QuantizeRequest(typeName: type)
        r.allowRequantize = true
        r.imatrixPath = imatrix
        let job = try QuantizeJob(model: model, request: r)
        _ = try GGUFQuantizer.run(input: model, plan: job.plan, metadata: job.metadata, outputPath: output,
                                  imatrix: job.imatrix, allowRequantize: true)
    }

    static func temporaryDirectory() throws -> String {
        let d = NSTemporaryDirectory() + "qk-calib-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// sha256 of the file's bytes from `offset` on (`sha256sum`).
    /// Checks that `ours` has `theirs`' counts and sizes entry by entry, and returns the relative
    /// differences of all sums (unsorted).
    static func compare(_ ours: ImatrixData, _ theirs: ImatrixData) -> [Double] {
        var rel: [Double] = []
        for (name, t) in theirs.entries {
            guard let o = ours.entries[name] else { continue }
            #expect(o.counts == t.counts, "\(name)")
            #expect(o.sums.count == t.sums.count, "\(name)")
            for (a, b) in zip(o.sums, t.sums) { rel.append(abs(Double(a) - Double(b)) / max(abs(Double(b)), 1e-30)) }
        }
        return rel
    }

    static func sha256(_ path: String, from offset: Int = 0) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "tail -c +$((\(offset) + 1)) \"$0\" | sha256sum", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: out, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
