import Foundation
import GGUF
import Planning
import Testing

/// The real models and llama.cpp's recorded numbers the planning tests compare with.
enum Fixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    static var modelsDir: String { ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(packageRoot)/models" }
    static let fixtures = "\(packageRoot)/Tests/PlanningTests/Fixtures"

    /// Short name → shipped file (scripts/fetch-models.sh).
    static let shipped = ["smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
                          "gemma3": "gemma-3-270m-q4_k_m.gguf",
                          "qwen25": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]
    static let names = ["smollm2", "gemma3", "qwen25"]

    static func modelPath(_ name: String) throws -> String {
        let p = "\(modelsDir)/\(shipped[name]!)"
        guard FileManager.default.fileExists(atPath: p) else {
            throw FixtureError("model \(p) not found: run scripts/fetch-models.sh (CI installs it)")
        }
        return p
    }

    static func shape(_ name: String) throws -> ModelShape {
        try ModelShape(gguf: GGUFModel(path: modelPath(name)))
    }

    /// The checked-in config.json made from the model's F32 GGUF by make_hf_checkpoint.py.
    static func configShape(_ name: String) throws -> ModelShape {
        try HFConfig(path: "\(fixtures)/\(name)/config.json").shape()
    }

    /// llama.cpp's numbers (scripts/reference/make-plan-fixtures.sh).
    nonisolated(unsafe) static let reference: [String: Any] = {
        let url = URL(fileURLWithPath: "\(fixtures)/llama-cpp-plan-reference.json")
        return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] ?? [:]
    }()

    static func section(_ key: String) -> [String: [String: Any]] {
        reference[key] as? [String: [String: Any]] ?? [:]
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
