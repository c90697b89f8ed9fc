import Foundation
import GGUF
import QKCore
import Testing
@testable import Tokenizers

/// Where the tokenizer tests find their inputs.
enum TokFixtures {
    /// The package root (three levels above this file).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// llama.cpp's reference vocabularies and their expected tokenizations
    /// (`ggml-vocab-<name>.gguf` with `.inp` and `.out`), from the shared reference data.
    static let referenceDir = "\(root)/../shared/reference/tokenizer"

    /// The JSON fixtures generated with llama.cpp by scripts/make-tokenizer-fixtures.sh.
    static let fixturesDir = "\(root)/Tests/TokenizersTests/Fixtures"

    /// The real models directory: $QUANTKIT_MODELS, else `<package root>/models`.
    static let modelsDir = ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(root)/models"

    static let smol = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let gemma = "gemma-3-270m-q4_k_m.gguf"
    static let qwen = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"

    /// Whether the real model `name` is installed (scripts/fetch-models.sh).
    static func hasModel(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(modelsDir)/\(name)")
    }

    /// Whether all three real models are installed.
    static var hasModels: Bool { [smol, gemma, qwen].allSatisfy(hasModel) }

    /// A missing input: fails the test with this message.
    struct Missing: Error, CustomStringConvertible { var description: String }

    nonisolated(unsafe) private static var cache: [String: Tokenizer] = [:]
    private static let lock = NSLock()

    /// The tokenizer of the GGUF at `path`, loaded once and shared by the tests.
    static func tokenizer(at path: String) throws -> Tokenizer {
        lock.lock()
        defer { lock.unlock() }
        if let t = cache[path] { return t }
        guard FileManager.default.fileExists(atPath: path) else {
            throw Missing(description: "\(path) is missing")
        }
        let t = try Tokenizer(path: path)
        cache[path] = t
        return t
    }

    /// The tokenizer of the real model `name`.
    static func model(_ name: String) throws -> Tokenizer {
        try tokenizer(at: "\(modelsDir)/\(name)")
    }

    /// The tokenizer of llama.cpp's reference vocabulary `ggml-vocab-<name>.gguf`.
    static func reference(_ name: String) throws -> Tokenizer {
        try tokenizer(at: "\(referenceDir)/ggml-vocab-\(name).gguf")
    }

    /// Shown when the real models are absent and their tests are skipped.
    static let skipMessage: Comment = "real model files absent: run scripts/fetch-models.sh or set QUANTKIT_MODELS"
}
