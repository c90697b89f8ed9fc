import Foundation
import Testing
@testable import Tokenizers

/// Checks against output of llama.cpp itself (Fixtures/*.json, written by
/// scripts/make-tokenizer-fixtures.sh through scripts/tokenize_reference.c): token ids of
/// edge cases, language and code samples (llama_tokenize), their detokenization
/// (llama_detokenize), count + hash of the ids of every whole text file in models/text,
/// every token's piece (llama_token_to_piece), special ids, end-of-generation set and the
/// built-in chat template.
@Suite struct LlamaFixtureTests {
    /// A fixture file, parsed.
    struct Fixture {
        let json: [String: Any]
        var cases: [[String: Any]] { json["cases"] as? [[String: Any]] ?? [] }

        init(_ name: String) throws {
            let path = "\(TokFixtures.fixturesDir)/\(name).json"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TokFixtures.Missing(description: "\(path) missing: run scripts/make-tokenizer-fixtures.sh")
            }
            json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }

        func int(_ key: String) -> Int32? { (json[key] as? NSNumber).map { $0.int32Value } }
    }

    static let realModels = ["SmolLM2-135M-Instruct.Q4_1", "gemma-3-270m-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m"]
    static let referenceVocabs = ["llama-spm", "llama-bpe", "gpt-2", "qwen2", "phi-3"]

    static func tokenizer(for fixture: String) throws -> Tokenizer {
        if fixture.hasPrefix("ggml-vocab-") {
            return try TokFixtures.reference(String(fixture.dropFirst("ggml-vocab-".count)))
        }
        return try TokFixtures.model(fixture + ".gguf")
    }

    static func fnv64(_ bytes: UnsafeRawBufferPointer, _ h0: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64 {
        var h = h0
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    static func unhex(_ s: String) -> [UInt8] {
        let c = Array(s.utf8)
        return stride(from: 0, to: c.count - 1, by: 2).map { UInt8(String(decoding: c[$0 ..< $0 + 2], as: UTF8.self), radix: 16)! }
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    // MARK: - Token ids and detokenization of the listed cases

    static func checkCases(_ fixture: String) throws {
        let tok = try tokenizer(for: fixture)
        let fx = try Fixture(fixture)
        var checked = 0
        for c in fx.cases where c["digest"] as? Bool != true {
            let name = c["name"] as? String ?? "?"
            // Malformed UTF-8 comes as hex and goes in as raw bytes.
            let bytes = (c["text_hex"] as? String).map(Self.unhex) ?? Array((c["text"] as? String ?? "").utf8)
            let addSpecial = c["add_special"] as? Bool ?? false
            let parseSpecial = c["parse_special"] as? Bool ?? false
            let expected = (c["tokens"] as? [NSNumber] ?? []).map(\.int32Value)
            let got = bytes.withUnsafeBufferPointer { tok.encode(utf8: $0, addSpecial: addSpecial, parseSpecial: parseSpecial) }
            #expect(got == expected, "\(fixture) '\(name)' (add_special \(addSpecial), parse_special \(parseSpecial))")
            let decoded = tok.decodeBytes(expected)
            if c["roundtrip"] as? Bool == true {
                #expect(decoded == bytes, "\(fixture) '\(name)': decode(encode(text)) != text")
            } else if let d = c["detokenized"] as? String {
                #expect(decoded == Array(d.utf8), "\(fixture) '\(name)': detokenized text differs")
            } else if let h = c["detokenized_hex"] as? String {
                #expect(decoded.map { String(format: "%02x", $0) }.joined() == h, "\(fixture) '\(name)'")
            }
            checked += 1
        }
        #expect(checked >= 30)
    }

    @Test(arguments: referenceVocabs.map { "ggml-vocab-\($0)" })
    func referenceVocabCases(_ fixture: String) throws { try Self.checkCases(fixture) }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage), arguments: realModels)
    func realModelCases(_ fixture: String) throws { try Self.checkCases(fixture) }

    // MARK: - Whole text files, compared by count and hash of the ids

    static func checkDigests(_ fixture: String) throws {
        let tok = try tokenizer(for: fixture)
        let fx = try Fixture(fixture)
        var checked = 0
        for c in fx.cases where c["digest"] as? Bool == true {
            let file = c["file"] as? String ?? ""
            let path = "\(TokFixtures.modelsDir)/text/\(file)"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw TokFixtures.Missing(description: "\(path) missing: run scripts/fetch-models.sh")
            }
            let text = String(decoding: data, as: UTF8.self)
            let ids = tok.encode(text, addSpecial: c["add_special"] as? Bool ?? false,
                                 parseSpecial: c["parse_special"] as? Bool ?? false)
            let hash = ids.withUnsafeBytes { fnv64($0) }
            #expect(ids.count == (c["count"] as? NSNumber)?.intValue, "\(fixture) \(file): token count")
            #expect(hex(hash) == c["fnv64"] as? String, "\(fixture) \(file): token ids differ from llama.cpp")
            let decoded = tok.decodeBytes(ids)
            #expect(hex(decoded.withUnsafeBytes { fnv64($0) }) == c["detokenized_fnv64"] as? String,
                    "\(fixture) \(file): detokenized text differs from llama.cpp")
            checked += 1
        }
        #expect(checked >= 8)
    }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage),
          arguments: realModels + referenceVocabs.map { "ggml-vocab-\($0)" })
    func wholeTextFiles(_ fixture: String) throws { try Self.checkDigests(fixture) }

    // MARK: - Vocabulary facts, pieces, chat template

    static func checkVocabulary(_ fixture: String) throws {
        let tok = try tokenizer(for: fixture)
        let fx = try Fixture(fixture)
        let null = Int32(-1)
        #expect(tok.vocabularySize == (fx.json["vocab_size"] as? NSNumber)?.intValue)
        #expect((tok.bos ?? null) == fx.int("bos"))
        #expect((tok.eos ?? null) == fx.int("eos"))
        #expect(tok.addBOS == fx.json["add_bos"] as? Bool)
        #expect(tok.addEOS == fx.json["add_eos"] as? Bool)
        let eog = Set((fx.json["eog"] as? [NSNumber] ?? []).map(\.int32Value))
        #expect(tok.endOfGenerationTokens == eog)
        for id in eog { #expect(tok.isEndOfGeneration(id)) }
        if let eot = tok.eot { #expect(tok.isEndOfGeneration(eot)) }

        var control = Set<Int32>()
        for r in fx.json["control_ranges"] as? [[NSNumber]] ?? [] {
            for id in r[0].int32Value ... r[1].int32Value { control.insert(id) }
        }
        var controlMismatches = 0
        for id in 0 ..< Int32(tok.vocabularySize) where tok.isControl(id) != control.contains(id) {
            controlMismatches += 1
        }
        #expect(controlMismatches == 0, "\(fixture): control attribute differs for \(controlMismatches) tokens")

        // Every token's piece, hashed as (id, length, bytes) like the C side.
        for special in [false, true] {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for id in 0 ..< Int32(tok.vocabularySize) {
                let p = tok.piece(id, special: special)
                var idLE = id, len = Int32(p.count)
                h = withUnsafeBytes(of: &idLE) { fnv64($0, h) }
                h = withUnsafeBytes(of: &len) { fnv64($0, h) }
                h = p.withUnsafeBytes { fnv64($0, h) }
            }
            let key = special ? "pieces_special_fnv64" : "pieces_fnv64"
            #expect(hex(h) == fx.json[key] as? String, "\(fixture): \(key)")
        }
        for s in fx.json["piece_samples"] as? [[Any]] ?? [] {
            guard let id = (s[0] as? NSNumber)?.int32Value, let hexPiece = s[1] as? String else { continue }
            let got = tok.piece(id).map { String(format: "%02x", $0) }.joined()
            #expect(got == hexPiece, "\(fixture): piece(\(id))")
        }

        for chat in fx.json["chat"] as? [[String: Any]] ?? [] {
            let messages = (chat["messages"] as? [[String: String]] ?? []).map { (role: $0["role"]!, content: $0["content"]!) }
            let add = chat["add_assistant"] as? Bool ?? false
            if let expected = chat["result"] as? String {
                #expect(try tok.applyChatTemplate(messages, addAssistantPrompt: add) == expected, "\(fixture): chat template")
            }
        }
    }

    @Test(arguments: referenceVocabs.map { "ggml-vocab-\($0)" })
    func referenceVocabFacts(_ fixture: String) throws { try Self.checkVocabulary(fixture) }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage), arguments: realModels)
    func realModelFacts(_ fixture: String) throws { try Self.checkVocabulary(fixture) }
}
