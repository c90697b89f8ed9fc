import Foundation
import GGUF
import QKCore
import Testing
@testable import Tokenizers

/// Behaviour on small hand-made vocabularies, errors, pieces, end-of-generation tokens and
/// the Unicode tables.
@Suite struct TokenizerTests {
    /// A tiny SentencePiece vocabulary: control tokens, 256 byte tokens and a few pieces.
    static func tinySPM(extra: [(String, Float, Int32)] = []) throws -> Tokenizer {
        var tokens = ["<unk>", "<s>", "</s>"]
        var scores: [Float] = [0, 0, 0]
        var types: [Int32] = [2, 3, 3]
        for b in 0 ..< 256 {
            tokens.append(String(format: "<0x%02X>", b))
            scores.append(0)
            types.append(6)
        }
        let pieces: [(String, Float, Int32)] = [("▁", -1, 1), ("a", -2, 1), ("b", -2, 1), ("ab", -1.5, 1),
                                                ("▁a", -1.2, 1), ("▁ab", -0.5, 1), ("bb", -0.1, 1), ("<tag>", 0, 4)]
        for (t, s, ty) in pieces + extra {
            tokens.append(t)
            scores.append(s)
            types.append(ty)
        }
        let md: GGUFMetadata = [
            "tokenizer.ggml.model": .string("llama"),
            "tokenizer.ggml.tokens": .array(.string(tokens)),
            "tokenizer.ggml.scores": .array(.float32(scores)),
            "tokenizer.ggml.token_type": .array(.int32(types)),
        ]
        return try Tokenizer(metadata: md, path: "tiny.gguf")
    }

    @Test func sentencePieceMergesByScore() throws {
        let tok = try Self.tinySPM()
        let id = { (s: String) in tok.tokenID(forText: s)! }
        // "▁abb": "bb" (-0.1) merges before "▁a"/"ab"; then nothing joins "▁a" + "bb".
        #expect(tok.encode("abb", addSpecial: false) == [id("▁a"), id("bb")])
        // "▁ab" wins over "▁a" + "b".
        #expect(tok.encode("ab", addSpecial: false) == [id("▁ab")])
        // BOS from the SPM defaults; unknown characters fall back to their UTF-8 bytes.
        let euro: [Int32] = [1, id("▁a"), 3 + 0xE2, 3 + 0x82, 3 + 0xAC]
        #expect(tok.encode("a€") == euro)
        // The space SentencePiece put in front goes away again, unless a BOS came first
        // (llama_detokenize keeps it then, with or without remove_special).
        #expect(tok.decode(tok.encode("a€ ab", addSpecial: false)) == "a€ ab")
        #expect(tok.decode(tok.encode("a€ ab")) == " a€ ab")
        #expect(tok.decode(tok.encode("a€ ab"), removeSpecial: true) == " a€ ab")
        #expect(tok.decode(tok.encode("a€ ab"), special: true) == "<s> a€ ab")
        #expect(tok.decode(tok.encode("a€ ab"), special: true, removeSpecial: true) == " a€ ab")
        // A user-defined token is matched in raw text even without parseSpecial; the text
        // after a special token gets a space in front again.
        #expect(tok.encode("a<tag>b", addSpecial: false) == [id("▁a"), id("<tag>"), id("▁"), id("b")])
    }

    @Test func piecesOfByteAndControlTokens() throws {
        let tok = try Self.tinySPM()
        #expect(tok.piece(3 + 0x0A) == [0x0A])
        #expect(tok.piece(3 + 0xFF) == [0xFF])
        #expect(tok.piece(tok.tokenID(forText: "▁ab")!) == Array(" ab".utf8))
        #expect(tok.piece(1) == [])  // <s> is control
        #expect(tok.piece(1, special: true) == Array("<s>".utf8))
        #expect(tok.piece(-1) == [] && tok.piece(100_000) == [])
        #expect(tok.isEndOfGeneration(2))  // </s>: the default EOS
        #expect(!tok.isEndOfGeneration(1))
    }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage))
    func realModelPieces() throws {
        let gemma = try TokFixtures.model(TokFixtures.gemma)
        let qwen = try TokFixtures.model(TokFixtures.qwen)
        let smol = try TokFixtures.model(TokFixtures.smol)
        #expect(gemma.kind == .sentencePiece && qwen.kind == .bytePairEncoding && smol.kind == .bytePairEncoding)
        #expect(gemma.vocabularySize == 262_144)
        #expect(gemma.piece(gemma.tokenID(forText: "<0x0A>")!) == [0x0A])
        #expect(gemma.piece(gemma.tokenID(forText: "<0xE2>")!) == [0xE2])
        #expect(gemma.piece(gemma.tokenID(forText: "▁hello")!) == Array(" hello".utf8))
        #expect(qwen.piece(qwen.tokenID(forText: "Ċ")!) == [0x0A])  // byte-level "\n"
        #expect(qwen.piece(qwen.tokenID(forText: "Ġworld")!) == Array(" world".utf8))
        #expect(smol.piece(smol.tokenID(forText: "Ġ")!) == [0x20])
        #expect(qwen.piece(qwen.tokenID(forText: "Ã©")!) == [0xC3, 0xA9])  // "é" as two byte-level characters
        #expect(qwen.piece(151644) == [] && qwen.piece(151644, special: true) == Array("<|im_start|>".utf8))
    }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage))
    func endOfGeneration() throws {
        let gemma = try TokFixtures.model(TokFixtures.gemma)
        let qwen = try TokFixtures.model(TokFixtures.qwen)
        let smol = try TokFixtures.model(TokFixtures.smol)
        for (tok, texts) in [(gemma, ["<eos>", "<end_of_turn>"]), (qwen, ["<|im_end|>", "<|endoftext|>"]),
                             (smol, ["<|im_end|>", "<|endoftext|>"])] {
            for t in texts { #expect(tok.isEndOfGeneration(tok.tokenID(forText: t)!), "\(t)") }
            #expect(tok.isEndOfGeneration(tok.eos!))
            #expect(!tok.isEndOfGeneration(tok.encode("hello", addSpecial: false)[0]))
        }
        #expect(gemma.bos == 2 && gemma.addBOS && !gemma.addEOS)
        #expect(qwen.bos == 151643 && !qwen.addBOS)
        #expect(smol.bos == 1 && !smol.addBOS)
    }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage))
    func roundTrips() throws {
        let texts = ["Hello, world!", "  two leading spaces", "tabs\tand\nnewlines\r\n", "Ünïcödé ✓ 😀 日本語",
                     "x = [1, 2, 3]  # comment\n    return x", "12345678 0.5", ""]
        for name in [TokFixtures.smol, TokFixtures.gemma, TokFixtures.qwen] {
            let tok = try TokFixtures.model(name)
            for t in texts {
                #expect(tok.decode(tok.encode(t, addSpecial: false)) == t, "\(name): \(t.debugDescription)")
                // BOS/EOS and other control tokens print as nothing.
                #expect(tok.decode(tok.encode(t, addSpecial: true)) == t)
            }
        }
    }

    @Test(.enabled(if: TokFixtures.hasModels, TokFixtures.skipMessage))
    func concurrentEncodingAgrees() async throws {
        let tok = try TokFixtures.model(TokFixtures.qwen)
        let text = String(repeating: "The quick brown fox jumps over the lazy dog 1234. ", count: 200)
        let expected = tok.encode(text)
        let results = await withTaskGroup(of: [Int32].self) { group in
            for _ in 0 ..< 8 { group.addTask { tok.encode(text) } }
            return await group.reduce(into: [[Int32]]()) { $0.append($1) }
        }
        #expect(results.count == 8 && results.allSatisfy { $0 == expected })
    }

    // MARK: - Errors

    static func error(_ md: GGUFMetadata) -> String {
        do {
            _ = try Tokenizer(metadata: md, path: "m.gguf")
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func clearErrors() throws {
        #expect(Self.error([:]) == "m.gguf: this file has no tokenizer (tokenizer.ggml.tokens missing)")
        #expect(Self.error(["tokenizer.ggml.model": .string("llama")])
            == "m.gguf: this file has no tokenizer (tokenizer.ggml.tokens missing)")
        let tokens: GGUFValue = .array(.string(["a", "b"]))
        #expect(Self.error(["tokenizer.ggml.model": .string("bert"), "tokenizer.ggml.tokens": tokens])
            .contains("m.gguf: unsupported tokenizer model 'bert'"))
        #expect(Self.error(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": tokens,
                            "tokenizer.ggml.pre": .string("tekken"), "tokenizer.ggml.merges": .array(.string([]))])
            .contains("unsupported pre-tokenizer 'tekken'"))
        #expect(Self.error(["tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.tokens": tokens])
            .contains("tokenizer.ggml.merges missing"))
        #expect(Self.error(["tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.tokens": .array(.int32([1]))])
            .contains("not an array of strings"))
        #expect(Self.error(["tokenizer.ggml.model": .string("llama"), "tokenizer.ggml.tokens": tokens,
                            "tokenizer.ggml.scores": .array(.float32([0]))]).contains("scores has 1 entries for 2 tokens"))
        #expect(throws: QuantKitError.self) { try Tokenizer(path: "/nonexistent/model.gguf") }
    }

    @Test func unsupportedRegexesAreRefused() {
        #expect(throws: QuantKitError.self) { try SplitPattern("a|b") }
        #expect(throws: QuantKitError.self) { try SplitPattern("(?=x)") }
        #expect(throws: QuantKitError.self) { try SplitPattern("\\p{Han}+") }
        #expect((try? SplitPattern("\\s?[A-Za-zµ]+")) != nil)
    }

    // MARK: - Pre-tokenizers and Unicode

    static func words(_ pre: String, _ text: String) throws -> [String] {
        let p = try PreTokenizer.resolve(pre, path: nil).pre
        var ends = [Int32]()
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { p.split($0, into: &ends) }
        var start = 0
        return ends.map { e in
            defer { start = Int(e) }
            return String(decoding: bytes[start ..< Int(e)], as: UTF8.self)
        }
    }

    @Test func preTokenizerSplits() throws {
        #expect(try Self.words("gpt-2", "Hello world's  x\n\n 12345") == ["Hello", " world", "'s", " ", " x", "\n\n", " 12345"])
        #expect(try Self.words("llama-bpe", "I'M  12345\r\n\nok") == ["I", "'M", " ", " ", "123", "45", "\r\n\n", "ok"])
        #expect(try Self.words("qwen2", "ab12 c") == ["ab", "1", "2", " c"])
        #expect(try Self.words("smollm", "x 2024!") == ["x", " ", "2", "0", "2", "4", "!"])
        #expect(try Self.words("default", "a+b 1234") == ["a", "+", "b", " ", "123", "4"])
    }

    @Test func codepointFlagsFollowUnicode151() {
        let f = CodepointFlags.self
        #expect(f.compute(0x41) == f.letter)
        #expect(f.compute(0x35) == f.number)
        #expect(f.compute(0x20) == f.separator | f.whitespace)
        #expect(f.compute(0x0A) == f.control | f.whitespace)
        #expect(f.compute(0x3000) == f.separator | f.whitespace)
        #expect(f.compute(0x0301) == f.mark)
        #expect(f.compute(0xD800) == f.control)  // surrogate
        #expect(f.compute(0x1F600) == f.symbol)  // 😀
        #expect(f.compute(0x1FAE9) == f.undefined)  // assigned in Unicode 16, unknown to llama.cpp's tables
        #expect(f.compute(0x110000) == f.undefined)
    }
}
