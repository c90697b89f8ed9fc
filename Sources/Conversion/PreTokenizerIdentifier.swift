import Foundation
import GGUF
import QKCore
import SafeTensors
import Tokenizers

/// Names a byte-level BPE checkpoint's pre-tokenizer (`tokenizer.ggml.pre`) the way llama.cpp's
/// converter does: tokenize a fixed probe text with the checkpoint's own tokenizer, take the
/// sha256 of the printed id list (`str(ids)` in Python: `[1, 2, 3]`) and look it up among the
/// hashes llama.cpp knows (`PreTokenizerHashes.swift`).
///
/// The tokenizer is the one `tokenizer.json` describes: its normalizer (none or NFC), its
/// pre-tokenizer (the GPT-2 byte-level regex, digit isolation followed by it, or a `Split` on
/// the Llama-3 or Qwen2 regex followed by byte-level mapping), its vocabulary and merges, and
/// the special tokens its `TemplateProcessing` post-processor adds. The splitting and merging run
/// on QuantKit's `Tokenizers` engine, which reproduces those regexes. A configuration outside
/// these, or a hash llama.cpp does not know, is an error: guessing would write a file that
/// tokenizes differently from the original.
enum PreTokenizerIdentifier {
    static let gpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
    static let llama3Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
    static let qwen2Regex = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

    /// The `tokenizer.ggml.pre` name for the tokenizer in `tokenizer` (the parsed tokenizer.json),
    /// whose GGUF token list, types and merges are given.
    static func identify(tokenizer: HFJSON, tokens: [String], types: [Int32], merges: [String], path: String) throws -> String {
        let ids = try probeIDs(tokenizer: tokenizer, tokens: tokens, types: types, merges: merges, path: path)
        let hash = SHA256.hex(Array(("[" + ids.map(String.init).joined(separator: ", ") + "]").utf8))
        guard let name = knownHashes[hash] else {
            throw QuantKitError("the BPE pre-tokenizer was not recognized (probe hash \(hash) is not one llama.cpp's converter knows)", path: path)
        }
        return name
    }

    /// The ids the checkpoint's tokenizer gives for the probe text (with its added special tokens).
    static func probeIDs(tokenizer: HFJSON, tokens: [String], types: [Int32], merges: [String], path: String) throws -> [Int32] {
        func unsupported(_ what: String) -> QuantKitError {
            QuantKitError("cannot identify the pre-tokenizer: \(what) is not supported", path: path)
        }
        var text = probeText
        if let n = tokenizer["normalizer"], !n.isNull {
            guard n["type"]?.stringValue == "NFC" else { throw unsupported("normalizer \(n["type"]?.stringValue ?? "?")") }
            text = text.precomposedStringWithCanonicalMapping
        }
        let (engine, prefixSpace) = try engineName(tokenizer["pre_tokenizer"],
                                                   ignoreMerges: tokenizer["model"]?["ignore_merges"]?.boolValue ?? false,
                                                   unsupported: unsupported)
        if prefixSpace && !text.hasPrefix(" ") { text = " " + text }
        let md: GGUFMetadata = [
            "tokenizer.ggml.model": .string("gpt2"), "tokenizer.ggml.pre": .string(engine),
            "tokenizer.ggml.tokens": .array(.string(tokens)), "tokenizer.ggml.token_type": .array(.int32(types)),
            "tokenizer.ggml.merges": .array(.string(merges)),
        ]
        let tok = try Tokenizer(metadata: md, path: path)
        let (before, after) = try specialTokens(tokenizer["post_processor"], unsupported: unsupported)
        return before + tok.encode(text, addSpecial: false, parseSpecial: false) + after
    }

    /// The `Tokenizers` pre-tokenizer whose splitting equals `pre`'s, and whether a space is
    /// prefixed to the text (ByteLevel's `add_prefix_space`).
    private static func engineName(_ pre: HFJSON?, ignoreMerges: Bool,
                                   unsupported: (String) -> QuantKitError) throws -> (String, Bool) {
        guard let pre, !pre.isNull else { throw unsupported("a tokenizer without a pre-tokenizer") }
        let steps = pre["type"]?.stringValue == "Sequence" ? pre["pretokenizers"]?.arrayValue ?? [] : [pre]
        func byteLevel(_ s: HFJSON) -> (regex: Bool, prefix: Bool)? {
            guard s["type"]?.stringValue == "ByteLevel" else { return nil }
            return (s["use_regex"]?.boolValue ?? true, s["add_prefix_space"]?.boolValue ?? true)
        }
        switch steps.count {
        case 1:
            if let b = byteLevel(steps[0]), b.regex { return ("gpt-2", b.prefix) }
        case 2:
            guard let b = byteLevel(steps[1]) else { break }
            let first = steps[0]
            if first["type"]?.stringValue == "Digits", first["individual_digits"]?.boolValue == true, b.regex {
                return ("starcoder", b.prefix)
            }
            if first["type"]?.stringValue == "Split", !b.regex,
               first["behavior"]?.stringValue == "Isolated", first["invert"]?.boolValue != true,
               let regex = first["pattern"]?["Regex"]?.stringValue {
                switch regex {
                case llama3Regex: return (ignoreMerges ? "llama-bpe" : "smaug-bpe", b.prefix)
                case qwen2Regex: return ("qwen2", b.prefix)
                case gpt2Regex: return ("gpt-2", b.prefix)
                default: throw unsupported("the Split regex \(regex.prefix(80))")
                }
            }
        default: break
        }
        let names = steps.map { $0["type"]?.stringValue ?? "?" }.joined(separator: " + ")
        throw unsupported("the pre-tokenizer \(names)")
    }

    /// Special-token ids a `TemplateProcessing` post-processor puts before and after `$A`.
    private static func specialTokens(_ pp: HFJSON?, unsupported: (String) -> QuantKitError) throws -> ([Int32], [Int32]) {
        guard let pp, !pp.isNull else { return ([], []) }
        var before: [Int32] = [], after: [Int32] = []
        for p in pp["processors"]?.arrayValue ?? [pp] {
            switch p["type"]?.stringValue {
            case "ByteLevel": continue
            case "TemplateProcessing":
                var seenA = false
                for item in p["single"]?.arrayValue ?? [] {
                    if item["Sequence"] != nil { seenA = true; continue }
                    guard let name = item["SpecialToken"]?["id"]?.stringValue,
                          let ids = p["special_tokens"]?[name]?["ids"]?.arrayValue else { throw unsupported("a TemplateProcessing item") }
                    let v = ids.compactMap { $0.intValue.map(Int32.init) }
                    if seenA { after += v } else { before += v }
                }
            default: throw unsupported("post-processor \(p["type"]?.stringValue ?? "?")")
            }
        }
        return (before, after)
    }
}
