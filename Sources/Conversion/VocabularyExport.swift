import Foundation
import GGUF
import QKCore
import SafeTensors

/// The `tokenizer.*` metadata llama.cpp's converter writes for a checkpoint: the token list,
/// types and (SentencePiece) scores, the model and pre-tokenizer names, then `SpecialVocab`'s
/// merges, special ids, flags and chat template.
///
/// Byte-level BPE comes from `tokenizer.json` (`get_vocab_base`: ids missing from the vocabulary
/// become `[PADn]` UNUSED entries up to the config's `vocab_size`; added tokens are CONTROL when
/// special or special-looking, else USER_DEFINED with `▁` pre-normalized to a space), with the
/// pre-tokenizer named by `PreTokenizerIdentifier`. SentencePiece comes from `tokenizer.model`
/// (`_create_vocab_sentencepiece`), overridden by `added_tokens.json` and
/// `tokenizer_config.json`'s `added_tokens_decoder`.
enum VocabularyExport {
    /// GGUF token types (the same numbers as SentencePiece's piece types).
    enum TokenType: Int32 { case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6 }

    /// Writes the byte-level BPE vocabulary of `dir` into `md`.
    static func writeBPE(dir: String, config: HFConfig, into md: inout GGUFMetadata) throws {
        let path = dir + "/tokenizer.json"
        guard FileManager.default.fileExists(atPath: path) else {
            throw QuantKitError("no tokenizer.json or tokenizer.model: cannot build the vocabulary", path: dir)
        }
        let tok = try HFJSON.parse(file: path, what: "tokenizer")
        guard let model = tok["model"], model["type"]?.stringValue == "BPE" else {
            throw QuantKitError("tokenizer model is \(tok["model"]?["type"]?.stringValue ?? "missing"); only byte-level BPE (\"BPE\") is supported", path: path)
        }
        guard let vocab = model["vocab"]?.objectMembers else { throw QuantKitError("model.vocab is not an object", path: path) }
        var byID: [Int: String] = [:]
        byID.reserveCapacity(vocab.count)
        for (t, v) in vocab {
            guard let id = v.intValue, id >= 0 else { throw QuantKitError("model.vocab: token '\(t)' has no valid id", path: path) }
            byID[id] = t
        }
        // Added tokens: content → (id, special, normalized).
        // Keyed by bytes: String equality would merge canonically equivalent tokens.
        var added: [[UInt8]: (id: Int, special: Bool)] = [:]
        for a in tok["added_tokens"]?.arrayValue ?? [] {
            guard let c = a["content"]?.stringValue, let id = a["id"]?.intValue, id >= 0 else {
                throw QuantKitError("added_tokens: an entry has no content or id", path: path)
            }
            added[Array(c.utf8)] = (id, a["special"]?.boolValue ?? false)
            byID[id] = c
        }
        let maxID = byID.keys.max() ?? -1
        let n = try config.optionalInt("vocab_size") ?? (maxID + 1)
        guard maxID < n else {
            throw QuantKitError("token id \(maxID) is not below the config's vocab_size \(n)", path: path)
        }
        var tokens: [String] = [], types: [Int32] = []
        tokens.reserveCapacity(n)
        types.reserveCapacity(n)
        for i in 0 ..< n {
            guard var t = byID[i] else {
                tokens.append("[PAD\(i)]")
                types.append(TokenType.unused.rawValue)
                continue
            }
            if let a = added[Array(t.utf8)] {
                if a.special || looksSpecial(t) {
                    types.append(TokenType.control.rawValue)
                } else {
                    t = t.replacingOccurrences(of: "\u{2581}", with: " ")
                    types.append(TokenType.userDefined.rawValue)
                }
            } else {
                types.append(TokenType.normal.rawValue)
            }
            tokens.append(t)
        }
        let special = try SpecialVocab(dir: dir, tokenizer: tok, tokenizerConfig: try tokenizerConfig(dir),
                                       config: config, loadMerges: true, vocabSize: nil)
        let pre = try PreTokenizerIdentifier.identify(tokenizer: tok, tokens: tokens, types: types,
                                                      merges: special.merges, path: path)
        md["tokenizer.ggml.model"] = .string("gpt2")
        md["tokenizer.ggml.pre"] = .string(pre)
        md["tokenizer.ggml.tokens"] = .array(.string(tokens))
        md["tokenizer.ggml.token_type"] = .array(.int32(types))
        special.write(into: &md)
    }

    /// Writes the SentencePiece vocabulary of `dir` (its `tokenizer.model`) into `md`.
    static func writeSentencePiece(dir: String, config: HFConfig, into md: inout GGUFMetadata) throws {
        let sp = try SentencePieceModel(path: dir + "/tokenizer.model")
        let n = try config.optionalInt("vocab_size_per_layer_input", "vocab_size") ?? sp.pieces.count
        var tokens = (0 ..< n).map { "[PAD\($0)]" }
        var scores = [Float](repeating: -10000, count: n)
        var types = [Int32](repeating: TokenType.unused.rawValue, count: n)
        for (i, p) in sp.pieces.enumerated() where i < n {
            let t: TokenType
            switch p.type {
            case .unknown: t = .unknown
            case .control: t = .control
            case .unused: t = .unused
            case .byte: t = .byte
            case .normal, .userDefined: t = .normal
            }
            tokens[i] = p.text
            scores[i] = p.score
            types[i] = t.rawValue
        }
        let addedPath = dir + "/added_tokens.json"
        if FileManager.default.fileExists(atPath: addedPath) {
            for (k, v) in try HFJSON.parse(file: addedPath, what: "added tokens").objectMembers ?? [] {
                guard let id = v.intValue, id >= 0 else { throw QuantKitError("token '\(k)' has no valid id", path: addedPath) }
                guard id < n else { continue }
                tokens[id] = k
                scores[id] = -1000
                types[id] = TokenType.userDefined.rawValue
            }
        }
        let tc = try tokenizerConfig(dir)
        for (k, v) in tc?["added_tokens_decoder"]?.objectMembers ?? [] {
            guard let id = Int(k), id >= 0, var content = v["content"]?.stringValue else {
                throw QuantKitError("added_tokens_decoder entry '\(k)' has no valid id or content", path: dir + "/tokenizer_config.json")
            }
            guard id < n else { continue }
            if v["special"]?.boolValue == true || looksSpecial(content) {
                types[id] = TokenType.control.rawValue
            } else {
                content = content.replacingOccurrences(of: "\u{2581}", with: " ")
                types[id] = TokenType.userDefined.rawValue
            }
            scores[id] = -1000
            tokens[id] = content
        }
        let tokPath = dir + "/tokenizer.json"
        let tok = FileManager.default.fileExists(atPath: tokPath) ? try HFJSON.parse(file: tokPath, what: "tokenizer") : nil
        let special = try SpecialVocab(dir: dir, tokenizer: tok, tokenizerConfig: tc, config: config,
                                       loadMerges: false, vocabSize: tokens.count)
        md["tokenizer.ggml.model"] = .string("llama")
        md["tokenizer.ggml.pre"] = .string("default")
        md["tokenizer.ggml.tokens"] = .array(.string(tokens))
        md["tokenizer.ggml.scores"] = .array(.float32(scores))
        md["tokenizer.ggml.token_type"] = .array(.int32(types))
        special.write(into: &md)
    }

    /// How many token rows the vocabulary has (Gemma trims its embedding matrix to it).
    static func sentencePieceCount(dir: String, config: HFConfig) throws -> Int {
        if let n = try config.optionalInt("vocab_size_per_layer_input", "vocab_size") { return n }
        return try SentencePieceModel(path: dir + "/tokenizer.model").pieces.count
    }

    /// `tokenizer_config.json`, when present.
    static func tokenizerConfig(_ dir: String) throws -> HFJSON? {
        let p = dir + "/tokenizer_config.json"
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        return try HFJSON.parse(file: p, what: "tokenizer config")
    }

    /// llama.cpp's `does_token_look_special`: added tokens that ought to be control tokens even
    /// when not marked special.
    static func looksSpecial(_ t: String) -> Bool {
        if ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].contains(t) { return true }
        if t.hasPrefix("<|") && t.hasSuffix("|>") { return true }
        if t.hasPrefix("<\u{FF5C}") && t.hasSuffix("\u{FF5C}>") { return true }
        return t.hasPrefix("<unused") && t.hasSuffix(">")
    }
}
