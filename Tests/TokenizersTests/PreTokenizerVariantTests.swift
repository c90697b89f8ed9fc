import Foundation
import GGUF
import Testing
@testable import Tokenizers

/// Every supported `tokenizer.ggml.pre` against llama.cpp (Fixtures/pre-tokenizers.json): the
/// GPT-2 reference vocabulary with its pre-tokenizer name replaced (made with gguf-py's
/// gguf_new_metadata.py and tokenized by llama.cpp), rebuilt here in memory the same way.
@Suite struct PreTokenizerVariantTests {
    nonisolated(unsafe) static let fixture: [String: Any]? = {
        guard let data = FileManager.default.contents(atPath: "\(TokFixtures.fixturesDir)/pre-tokenizers.json") else {
            return nil
        }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }()

    static var names: [String] {
        ((fixture?["variants"] as? [String: Any])?.keys).map { Array($0).sorted() } ?? []
    }

    @Test func fixturePresent() {
        #expect(Self.fixture != nil, "Fixtures/pre-tokenizers.json missing: run scripts/make-tokenizer-fixtures.sh")
        #expect(Self.names.count >= 15)
    }

    @Test(arguments: names)
    func matchesLlamaCpp(_ pre: String) throws {
        let fx = try #require(Self.fixture)
        let cases = fx["cases"] as? [[String: Any]] ?? []
        let variant = try #require((fx["variants"] as? [String: Any])?[pre] as? [String: Any])
        let base = try GGUFFile(path: "\(TokFixtures.referenceDir)/ggml-vocab-gpt-2.gguf")
        var md = base.metadata
        md["tokenizer.ggml.pre"] = .string(pre)
        let tok = try Tokenizer(metadata: md, path: "gpt-2 as \(pre)")
        #expect(tok.preTokenizer == pre)
        #expect(tok.addBOS == variant["add_bos"] as? Bool)
        #expect((tok.bos ?? -1) == (variant["bos"] as? NSNumber)?.int32Value)

        let tokens = variant["tokens"] as? [[NSNumber]] ?? []
        let detok = variant["detokenized"] as? [Any] ?? []
        #expect(tokens.count == cases.count && detok.count == cases.count && cases.count >= 30)
        for (i, c) in cases.enumerated() where i < tokens.count {
            let bytes = (c["text_hex"] as? String).map(LlamaFixtureTests.unhex) ?? Array((c["text"] as? String ?? "").utf8)
            let expected = tokens[i].map(\.int32Value)
            let got = bytes.withUnsafeBufferPointer {
                tok.encode(utf8: $0, addSpecial: c["add_special"] as? Bool ?? false,
                           parseSpecial: c["parse_special"] as? Bool ?? false)
            }
            #expect(got == expected, "\(pre): '\(c["name"] as? String ?? "?")'")
            // Detokenized: the input itself (null), a string, or {"hex": ...} when not UTF-8.
            var want = bytes
            if let d = detok[i] as? String { want = Array(d.utf8) }
            if let d = detok[i] as? [String: String], let h = d["hex"] { want = LlamaFixtureTests.unhex(h) }
            #expect(tok.decodeBytes(expected) == want, "\(pre): detokenized '\(c["name"] as? String ?? "?")'")
        }
    }
}
