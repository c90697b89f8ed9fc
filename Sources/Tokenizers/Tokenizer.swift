import GGUF
import QKCore

/// Text ↔ token ids for a GGUF model, exactly as llama.cpp tokenizes.
///
/// Built from the `tokenizer.*` metadata of a GGUF file. Two tokenizer models are supported:
/// `llama` (SentencePiece: spaces become "▁", bigrams merge by score, unknown characters fall
/// back to `<0xNN>` byte tokens) and `gpt2` (byte-level BPE: the text is split into words by
/// the regexes `tokenizer.ggml.pre` names, then merged by rank). Special tokens are found
/// in the text first (user-defined ones always, control ones with `parseSpecial`), as
/// `llama_tokenize` does. The results match llama.cpp token for token; the tests check it
/// against llama.cpp's own output for the three real models and its reference vocabularies.
///
/// Immutable after `init`, so one instance can serve many threads.
public final class Tokenizer: Sendable {
    /// The tokenizer model.
    public enum Kind: String, Sendable {
        /// `tokenizer.ggml.model` = "llama": SentencePiece.
        case sentencePiece = "llama"
        /// `tokenizer.ggml.model` = "gpt2": byte-level BPE.
        case bytePairEncoding = "gpt2"
    }

    let vocab: Vocabulary
    private let matcher: SpecialTokenMatcher

    /// SentencePiece or byte-level BPE.
    public let kind: Kind
    /// The pre-tokenizer name (`tokenizer.ggml.pre`; "default" when absent).
    public var preTokenizer: String { vocab.pre }
    /// Number of tokens in the vocabulary.
    public var vocabularySize: Int { vocab.size }
    /// Beginning-of-sequence token, if the vocabulary has one.
    public var bos: Int32? { vocab.bos }
    /// End-of-sequence token, if the vocabulary has one.
    public var eos: Int32? { vocab.eos }
    /// End-of-turn token (metadata or found by text, e.g. `<|im_end|>`, `<end_of_turn>`).
    /// When a vocabulary has several candidates (SmolLM2: `<|im_end|>` and `<|endoftext|>`)
    /// llama.cpp's pick depends on its hash map's order; this takes the first in its list.
    /// Every candidate ends generation either way (`isEndOfGeneration`).
    public var eot: Int32? { vocab.eot }
    /// End-of-message token (`<|eom_id|>`), if any.
    public var eom: Int32? { vocab.eom }
    /// Unknown token, if any.
    public var unk: Int32? { vocab.unk }
    /// Padding token, if any.
    public var pad: Int32? { vocab.pad }
    /// Whether `encode(addSpecial: true)` starts with BOS (`tokenizer.ggml.add_bos_token`).
    public var addBOS: Bool { vocab.addBOS }
    /// Whether `encode(addSpecial: true)` ends with EOS (`tokenizer.ggml.add_eos_token`).
    public var addEOS: Bool { vocab.addEOS }
    /// Whether SentencePiece text gets a leading space (`tokenizer.ggml.add_space_prefix`).
    public var addSpacePrefix: Bool { vocab.addSpacePrefix }
    /// The Jinja chat template (`tokenizer.chat_template`), if the file has one.
    public let chatTemplate: String?
    /// Every token that ends generation (EOS, EOT, EOM and the texts llama.cpp treats so).
    public var endOfGenerationTokens: Set<Int32> { vocab.eog }

    /// Reads the tokenizer of the GGUF file at `path` (only its metadata is used).
    public convenience init(path: String) throws {
        try self.init(gguf: GGUFFile(path: path))
    }

    /// Reads the tokenizer of an open GGUF file.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(metadata: gguf.metadata, path: gguf.path)
    }

    /// Reads the tokenizer of an open (possibly split) model; the first shard holds it.
    public convenience init(model: GGUFModel) throws {
        try self.init(metadata: model.metadata, path: model.paths.first)
    }

    /// Reads the tokenizer from GGUF metadata. `path` names the file in error messages.
    /// Throws when the metadata has no vocabulary, names a tokenizer model other than
    /// "llama" or "gpt2", or a pre-tokenizer this implementation does not support.
    public init(metadata: GGUFMetadata, path: String? = nil) throws {
        vocab = try Vocabulary(metadata: metadata, path: path)
        kind = vocab.model == .spm ? .sentencePiece : .bytePairEncoding
        matcher = SpecialTokenMatcher(tokens: vocab.specialTokens, vocab: vocab)
        chatTemplate = metadata["tokenizer.chat_template"]?.string
    }

    // MARK: - Encoding

    /// Token ids for `text`, as llama.cpp's `llama_tokenize(vocab, text, addSpecial, parseSpecial)`.
    ///
    /// - Parameters:
    ///   - addSpecial: add BOS/EOS where the metadata asks for them (`addBOS`, `addEOS`).
    ///   - parseSpecial: turn the texts of control tokens (e.g. `<|im_start|>`) into their ids;
    ///     without it they are tokenized as plain text. User-defined tokens are always matched.
    public func encode(_ text: String, addSpecial: Bool = true, parseSpecial: Bool = false) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(utf8: $0, addSpecial: addSpecial, parseSpecial: parseSpecial) }
    }

    /// `encode` on raw bytes, as llama.cpp takes them: normally UTF-8, but malformed input is
    /// handled the way llama.cpp handles it too (kept as bytes by SentencePiece, replaced by
    /// U+FFFD per bad byte before byte-level BPE).
    public func encode(utf8 text: UnsafeBufferPointer<UInt8>, addSpecial: Bool = true,
                       parseSpecial: Bool = false) -> [Int32] {
        var out = [Int32]()
        out.reserveCapacity(text.count / 3 + 2)
        let fragments = matcher.partition(text, parseSpecial: parseSpecial)
        if addSpecial && vocab.addBOS, let bos = vocab.bos { out.append(bos) }
        switch vocab.model {
        case .spm:
            var prevSpecial = true  // a leading space goes before the first text
            var escaped = [UInt8]()
            var cache = WordCache()
            for f in fragments {
                guard f.token < 0 else {
                    out.append(f.token)
                    prevSpecial = true
                    continue
                }
                escaped.removeAll(keepingCapacity: true)
                escaped.reserveCapacity(f.end - f.start + 3)
                if vocab.addSpacePrefix && prevSpecial { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) }
                for k in f.start ..< f.end {
                    let b = text[k]
                    if b == 0x20 { escaped.append(contentsOf: [0xE2, 0x96, 0x81]) } else { escaped.append(b) }
                }
                escaped.withUnsafeBufferPointer { SPMSession.tokenize($0, vocab: vocab, cache: &cache, into: &out) }
                prevSpecial = false
            }
        case .bpe:
            var session = BPESession(vocab: vocab)
            var ends = [Int32]()
            for f in fragments {
                guard f.token < 0 else { out.append(f.token); continue }
                let raw = UnsafeBufferPointer(rebasing: text[f.start ..< f.end])
                // llama.cpp splits codepoints and re-encodes them: malformed bytes become U+FFFD.
                let clean = UTF8Util.isValid(raw) ? nil : UTF8Util.reencoded(raw)
                func run(_ piece: UnsafeBufferPointer<UInt8>) {
                    ends.removeAll(keepingCapacity: true)
                    vocab.preTokenizer?.split(piece, into: &ends)
                    var s = 0
                    for e in ends {
                        session.tokenize(word: UnsafeBufferPointer(rebasing: piece[s ..< Int(e)]), into: &out)
                        s = Int(e)
                    }
                }
                if let clean { clean.withUnsafeBufferPointer(run) } else { run(raw) }
            }
        }
        if addSpecial && vocab.addEOS, let eos = vocab.eos { out.append(eos) }
        return out
    }

    // MARK: - Decoding

    /// The bytes token `id` stands for when printed, as `llama_token_to_piece(special: false)`:
    /// "▁" → space and `<0x0A>` → byte 0x0A (SentencePiece), GPT-2's byte-level characters →
    /// their bytes (BPE), user-defined tokens → their text, control and unknown tokens → nothing.
    /// With `special`, control tokens give their text too. Out-of-range ids give nothing.
    public func piece(_ id: Int32, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < vocab.size else { return [] }
        let attrs = vocab.attrs[Int(id)]
        if !special && !attrs.isDisjoint(with: [.unknown, .control]) { return [] }
        let text = vocab.text(Int(id))
        if !attrs.isDisjoint(with: [.unknown, .control, .userDefined]) { return Array(text) }
        if attrs.contains(.normal) {
            switch vocab.model {
            case .spm: return Self.unescapeSpaces(text)
            case .bpe: return Self.byteLevelDecode(text)
            }
        }
        if attrs.contains(.byte) {
            // "<0xNN>"
            let t = Array(text)
            guard t.count >= 5, let v = UInt8(String(decoding: t[3 ..< 5], as: UTF8.self), radix: 16) else { return [] }
            return [v]
        }
        return []
    }

    /// Text for `ids`, as llama.cpp's `llama_detokenize(removeSpecial, unparse_special: special)`
    /// (by default as `common_detokenize`): the pieces joined, the leading space SentencePiece
    /// added removed, and for BPE vocabularies that ask for it (`clean_spaces`) spaces before
    /// punctuation cleaned up. With `removeSpecial`, a leading BOS and a trailing EOS the
    /// vocabulary adds are dropped first. Invalid UTF-8 (a character cut between tokens)
    /// becomes U+FFFD.
    public func decode(_ ids: [Int32], special: Bool = false, removeSpecial: Bool = false) -> String {
        String(decoding: decodeBytes(ids, special: special, removeSpecial: removeSpecial), as: UTF8.self)
    }

    /// `decode` as raw bytes.
    public func decodeBytes(_ ids: [Int32], special: Bool = false, removeSpecial: Bool = false) -> [UInt8] {
        var ids = ids[...]
        var removeSpace = vocab.addSpacePrefix
        if removeSpecial && vocab.addBOS, let first = ids.first, first == vocab.bos {
            removeSpace = false
            ids = ids.dropFirst()
        }
        if removeSpecial && vocab.addEOS, let last = ids.last, last == vocab.eos { ids = ids.dropLast() }
        var out = [UInt8]()
        for id in ids {
            var p = piece(id, special: special)
            if removeSpace, p.first == 0x20 { p.removeFirst() }
            removeSpace = false
            out.append(contentsOf: p)
        }
        return vocab.cleanSpaces ? Self.cleanUpSpaces(out) : out
    }

    /// Whether `id` ends generation (EOS, EOT, EOM, `<|im_end|>`, `<end_of_turn>`, ...).
    public func isEndOfGeneration(_ id: Int32) -> Bool { vocab.eog.contains(id) }

    /// Whether `id` is a control token (printed as nothing by `piece`).
    public func isControl(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocab.size && vocab.attrs[Int(id)].contains(.control)
    }

    /// The raw vocabulary text of token `id` (e.g. "▁the", "Ġthe", "<|im_start|>").
    public func tokenText(_ id: Int32) -> String {
        guard id >= 0, Int(id) < vocab.size else { return "" }
        return String(decoding: vocab.text(Int(id)), as: UTF8.self)
    }

    /// The id of the token whose vocabulary text is exactly `text`, if any.
    public func tokenID(forText text: String) -> Int32? {
        let i = vocab.strings.lookup(Array(text.utf8))
        return i >= 0 && i < vocab.size ? Int32(i) : nil
    }

    // MARK: - Helpers

    private static func unescapeSpaces(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(text.count)
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == 0xE2, i + 2 < text.endIndex, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    /// llama.cpp's `llama_decode_text`: byte-level characters back to bytes.
    private static func byteLevelDecode(_ text: ArraySlice<UInt8>) -> [UInt8] {
        let inverse = UnicodeTables.shared.codepointToByte
        var out = [UInt8]()
        out.reserveCapacity(text.count)
        Array(text).withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count {
                let (c, len) = UTF8Util.decode(p, i)
                if c < 0x144, inverse[Int(c)] >= 0 {
                    out.append(UInt8(inverse[Int(c)]))
                } else {
                    // llama.cpp writes "[UNK_BYTE_0x<hex of the character>" + whole text + "]".
                    var enc = [UInt8]()
                    UTF8Util.append(c, to: &enc)
                    out.append(contentsOf: Array("[UNK_BYTE_0x".utf8))
                    for b in enc { out.append(contentsOf: Array(String(b, radix: 16).leftPadded(2).utf8)) }
                    out.append(contentsOf: p)
                    out.append(0x5D)
                }
                i += len
            }
        }
        return out
    }

    /// llama.cpp's `clean_spaces` passes: " ?" " !" " ." " ," lose the space, " ' " loses
    /// both spaces, and " 's" " 'm" " 're" " 've" lose theirs.
    static func cleanUpSpaces(_ t: [UInt8]) -> [UInt8] {
        guard t.count > 1 else { return t }
        var a = [UInt8]()
        a.reserveCapacity(t.count)
        a.append(t[0])
        for i in 1 ..< t.count {
            let x = t[i]
            if t[i - 1] == 0x20 && (x == 0x3F || x == 0x21 || x == 0x2E || x == 0x2C) { a.removeLast() }
            a.append(x)
        }
        var b = [UInt8]()
        b.reserveCapacity(a.count)
        if !a.isEmpty { b.append(a[0]) }
        var i = 1
        while i < a.count {
            let x = a[i]
            if x == 0x27 && i + 1 < a.count && a[i - 1] == 0x20 && a[i + 1] == 0x20 {
                b.removeLast()
                b.append(x)
                a[i + 1] = 0  // llama.cpp blanks the dropped space in place; later checks see that
                i += 2
                continue
            }
            b.append(x)
            i += 1
        }
        var c = [UInt8]()
        c.reserveCapacity(b.count)
        if !b.isEmpty { c.append(b[0]) }
        for i in 1 ..< max(b.count, 1) {
            let x = b[i]
            if b[i - 1] == 0x20 && x == 0x27 && i + 1 < b.count {
                let x1 = b[i + 1]
                if x1 == 0x73 || x1 == 0x6D {
                    c.removeLast()
                } else if i + 2 < b.count {
                    let x2 = b[i + 2]
                    if (x1 == 0x72 && x2 == 0x65) || (x1 == 0x76 && x2 == 0x65) { c.removeLast() }
                }
            }
            c.append(x)
        }
        return c
    }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String {
        count >= n ? self : String(repeating: "0", count: n - count) + self
    }
}
