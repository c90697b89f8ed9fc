import Foundation
import Testing
@testable import Tokenizers

/// llama.cpp's own tokenizer test data (tests/test-tokenizer-0.cpp): each `.inp` string must
/// tokenize, without special tokens, to the ids on the matching line of `.out`.
@Suite struct ReferenceVocabTests {
    /// Splits an `.inp` file the way test-tokenizer-0.cpp does: on "\n__ggml_vocab_test__\n"
    /// (the file ends with one, which ends the last string; nothing else is stripped).
    static func readTests(_ name: String) throws -> [(input: String, expected: [Int32])] {
        let base = "\(TokFixtures.referenceDir)/ggml-vocab-\(name).gguf"
        guard let inp = FileManager.default.contents(atPath: base + ".inp"),
              let out = FileManager.default.contents(atPath: base + ".out") else {
            throw TokFixtures.Missing(description: "\(base).inp/.out missing (shared reference data)")
        }
        let raw = [UInt8](inp)
        let sep = Array("\n__ggml_vocab_test__\n".utf8)
        var inputs = [[UInt8]]()
        var pos = 0
        while pos < raw.count {
            var next = -1
            var i = pos
            while i + sep.count <= raw.count {
                if raw[i ..< i + sep.count].elementsEqual(sep) { next = i; break }
                i += 1
            }
            if next < 0 { inputs.append(Array(raw[pos...])); break }
            inputs.append(Array(raw[pos ..< next]))
            pos = next + sep.count
        }
        // std::getline lines; each is stripped and split on spaces.
        var lines = String(decoding: out, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        #expect(inputs.count == lines.count)
        return zip(inputs, lines).map { inp, line in
            let ids = line.split(separator: " ").compactMap { Int32($0) }
            return (String(decoding: inp, as: UTF8.self), ids)
        }
    }

    @Test(arguments: ["llama-spm", "llama-bpe", "gpt-2", "qwen2", "phi-3"])
    func matchesLlamaCpp(_ name: String) throws {
        let tok = try TokFixtures.reference(name)
        let tests = try Self.readTests(name)
        #expect(tests.count == 46)
        var failures = 0
        for (input, expected) in tests {
            let got = tok.encode(input, addSpecial: false)
            if got != expected {
                failures += 1
                Issue.record("\(name): \(input.debugDescription) → \(got), expected \(expected)")
            }
        }
        #expect(failures == 0)
    }
}
