import Foundation
import GGUF
import QKCore
import SafeTensors

/// The tokenizer facts llama.cpp's converter gathers besides the vocabulary itself (gguf-py's
/// `SpecialVocab`): merges, special token ids, whether BOS/EOS/SEP are added, the chat
/// template and normalizer flags, from `tokenizer.json`, `tokenizer_config.json`,
/// `chat_template.jinja`/`chat_template.json` and `config.json`, with the same precedence and
/// the same order of keys in the output.
struct SpecialVocab {
    var merges: [String] = []
    /// (type, id) in the order they were first set: bos, eos, unk, sep, pad, cls, mask, eot, eom.
    var ids: [(String, Int)] = []
    /// (type, add?) in the order they were first set.
    var add: [(String, Bool)] = []
    var chatTemplate: String?
    var lowercase: Bool?
    var stripAccents: Bool?
    private var types = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]
    private let vocabSize: Int?

    /// Reads the checkpoint directory `dir`. `tokenizer`/`tokenizerConfig` are the parsed
    /// files (nil when absent); `vocabSize` bounds the ids when given (SentencePiece vocabularies).
    init(dir: String, tokenizer: HFJSON?, tokenizerConfig: HFJSON?, config: HFConfig,
         loadMerges: Bool, vocabSize: Int?) throws {
        self.vocabSize = vocabSize
        let tokenizerPath = dir + "/tokenizer.json"
        var tc: [String: HFJSON]? = tokenizerConfig?.objectMembers.map { Dictionary($0.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }) }
        var added: [(String, Int)] = []
        if let tokenizer {
            if loadMerges, let m = tokenizer["model"]?["merges"]?.arrayValue, !m.isEmpty {
                merges = try Self.readMerges(m, path: tokenizerPath)
            }
            if let n = tokenizer["normalizer"], !n.isNull { parseNormalizer(n) }
            for a in tokenizer["added_tokens"]?.arrayValue ?? [] {
                if let c = a["content"]?.stringValue, let id = a["id"]?.intValue { added.append((c, id)) }
            }
            func tcString(_ k: String) -> String? { Self.tokenText(tc?[k]) }
            var bos = tcString("bos_token"), eos = tcString("eos_token")
            let cls = tcString("cls_token"), sep = tcString("sep_token")
            if (bos ?? "").isEmpty, let cls, !cls.isEmpty, tc != nil { tc!["bos_token"] = .string(cls); bos = cls }
            if (eos ?? "").isEmpty, let sep, !sep.isEmpty, tc != nil { tc!["eos_token"] = .string(sep); eos = sep }
            if let pp = tokenizer["post_processor"], !pp.isNull {
                for p in pp["processors"]?.arrayValue ?? [pp] {
                    switch p["type"]?.stringValue {
                    case "ByteLevel":
                        setDefault("bos", false)
                        setDefault("eos", false)
                    case "TemplateProcessing":
                        try template(p, bos: &bos, eos: &eos, cls: cls, sep: sep, tc: &tc, path: tokenizerPath)
                    case "RobertaProcessing":
                        throw QuantKitError("post_processor RobertaProcessing (an encoder tokenizer) is not supported", path: tokenizerPath)
                    default: break
                    }
                }
            }
        }
        if let tc {
            chatTemplate = try Self.chatTemplate(dir: dir, tokenizerConfig: tc)
            for t in types {
                if let b = tc["add_\(t)_token"]?.boolValue, !add.contains(where: { $0.0 == t }) { add.append((t, b)) }
                guard let content = Self.tokenText(tc["\(t)_token"]) else { continue }
                if let id = added.first(where: { $0.0 == content })?.1 { try setID(t, id) }
            }
        }
        for t in types {
            if let id = try config.optionalInt("\(t)_token_id") { try setID(t, id) }
        }
    }

    /// The GGUF entries, in gguf-py's order: merges, ids, add flags, chat template, normalizer.
    func write(into md: inout GGUFMetadata) {
        if !merges.isEmpty { md["tokenizer.ggml.merges"] = .array(.string(merges)) }
        let idKeys = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
                      "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"]
        for (t, id) in ids {
            if let k = idKeys[t] { md["tokenizer.ggml." + k] = .uint32(UInt32(id)) }
        }
        for (t, b) in add where ["bos", "eos", "sep"].contains(t) { md["tokenizer.ggml.add_\(t)_token"] = .bool(b) }
        if let chatTemplate { md["tokenizer.chat_template"] = .string(chatTemplate) }
        if let lowercase { md["tokenizer.ggml.normalizer.lowercase"] = .bool(lowercase) }
        if let stripAccents { md["tokenizer.ggml.normalizer.strip_accents"] = .bool(stripAccents) }
    }

    private mutating func setDefault(_ t: String, _ v: Bool) {
        if !add.contains(where: { $0.0 == t }) { add.append((t, v)) }
    }

    private mutating func setAdd(_ t: String, _ v: Bool) {
        if let i = add.firstIndex(where: { $0.0 == t }) { add[i].1 = v } else { add.append((t, v)) }
    }

    private mutating func setID(_ t: String, _ id: Int) throws {
        guard id >= 0 else { throw QuantKitError("invalid id \(id) for the \(t) token") }
        if let n = vocabSize, id >= n { return }  // out of range: skipped, as gguf-py does
        if !ids.contains(where: { $0.0 == t }) { ids.append((t, id)) }
    }

    private mutating func parseNormalizer(_ n: HFJSON) {
        switch n["type"]?.stringValue {
        case "Lowercase": lowercase = true
        case "StripAccents": stripAccents = true
        case "BertNormalizer":
            if let v = n["lowercase"]?.boolValue { lowercase = v }
            if let v = n["strip_accents"]?.boolValue { stripAccents = v }
        case "Sequence":
            for x in n["normalizers"]?.arrayValue ?? [] { parseNormalizer(x) }
        default: break
        }
    }

    /// gguf-py's reading of a simple `TemplateProcessing`: a special token before `$A` means
    /// BOS is added, one after it EOS, one between `$A` and `$B` in the pair template SEP.
    private mutating func template(_ p: HFJSON, bos: inout String?, eos: inout String?, cls: String?, sep: String?,
                                   tc: inout [String: HFJSON]?, path: String) throws {
        let single = p["single"]?.arrayValue ?? []
        var pair = p["pair"]?.arrayValue ?? []
        func special(_ x: HFJSON?) -> String? { x?["SpecialToken"]?["id"]?.stringValue }
        var first: String?, last: String?
        if single.count > 1 {
            if let f = special(single.first), !f.isEmpty {
                first = f
                if tc == nil { bos = f } else if f != bos && f != cls {
                    throw QuantKitError("TemplateProcessing starts with '\(f)', which is neither the BOS nor the CLS token of tokenizer_config.json: not supported", path: path)
                }
                setAdd("bos", f == bos || f == cls)
            }
            if let l = special(single.last), !l.isEmpty {
                last = l
                if tc == nil { eos = l } else if l != eos {
                    throw QuantKitError("TemplateProcessing ends with '\(l)', which is not the EOS token of tokenizer_config.json: not supported", path: path)
                }
                setAdd("eos", l == eos)
            }
        }
        guard !pair.isEmpty else { return }
        let start = first != nil && special(pair.first) == first ? 1 : 0
        let stop = last != nil && special(pair.last) == last ? pair.count - 1 : pair.count
        pair = start < stop ? Array(pair[start ..< stop]) : []
        guard !pair.isEmpty else { return }
        let a = pair.first?["Sequence"]?["id"]?.stringValue, b = pair.last?["Sequence"]?["id"]?.stringValue
        guard a == "A", b == "B", pair.count > 2 else { return }
        let middle = Array(pair[1 ..< pair.count - 1])
        var addSep = false
        if let e = special(middle.first) {
            if (e == sep || e == eos) && last == nil { addSep = true }
        }
        if middle.count == 2, let e = special(middle[1]), e == sep || e == eos { addSep = true }
        setAdd("sep", addSep)
        if addSep && sep == nil && tc != nil { tc!["sep_token"] = eos.map { .string($0) } }
    }

    /// A `*_token` entry of tokenizer_config.json: a string or `{"content": …}`.
    static func tokenText(_ v: HFJSON?) -> String? {
        guard let v else { return nil }
        return v.stringValue ?? v["content"]?.stringValue
    }

    private static func readMerges(_ m: [HFJSON], path: String) throws -> [String] {
        var out: [String] = []
        out.reserveCapacity(m.count)
        if m[0].stringValue != nil {
            for x in m {
                guard let s = x.stringValue else { throw QuantKitError("model.merges mixes strings and other values", path: path) }
                out.append(s)
            }
            return out
        }
        // Pairs (transformers ≥ 4.45): a space inside a part is written as U+0120 ('Ġ').
        for x in m {
            guard let p = x.arrayValue, p.count == 2, let l = p[0].stringValue, let r = p[1].stringValue else {
                throw QuantKitError("model.merges: unknown merge format (expected \"a b\" strings or [a, b] pairs)", path: path)
            }
            func enc(_ s: String) -> String { s.contains(" ") ? String(s.unicodeScalars.map { $0 == " " ? "\u{120}" : Character($0) }) : s }
            out.append(enc(l) + " " + enc(r))
        }
        return out
    }

    private static func chatTemplate(dir: String, tokenizerConfig tc: [String: HFJSON]) throws -> String? {
        if let t = tc["chat_template"], !t.isNull {
            guard let s = t.stringValue else {
                throw QuantKitError("chat_template lists several named templates: not supported yet", path: dir + "/tokenizer_config.json")
            }
            return s
        }
        let jinja = dir + "/chat_template.jinja", json = dir + "/chat_template.json"
        if let text = try? String(contentsOfFile: jinja, encoding: .utf8) { return text }
        if FileManager.default.fileExists(atPath: json) {
            return try HFJSON.parse(file: json, what: "chat template")["chat_template"]?.stringValue
        }
        return nil
    }
}
