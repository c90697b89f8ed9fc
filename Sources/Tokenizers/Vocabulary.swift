import GGUF
import QKCore

/// Token attributes, with llama.cpp's `llama_token_attr` bit values.
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt16
    static let unknown = TokenAttributes(rawValue: 1 << 0)
    static let unused = TokenAttributes(rawValue: 1 << 1)
    static let normal = TokenAttributes(rawValue: 1 << 2)
    static let control = TokenAttributes(rawValue: 1 << 3)
    static let userDefined = TokenAttributes(rawValue: 1 << 4)
    static let byte = TokenAttributes(rawValue: 1 << 5)
    static let lstrip = TokenAttributes(rawValue: 1 << 7)
    static let rstrip = TokenAttributes(rawValue: 1 << 8)

    /// From a `tokenizer.ggml.token_type` value (llama_token_type).
    init(tokenType: Int32) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []  // undefined
        }
    }

    init(rawValue: UInt16) { self.rawValue = rawValue }
}

/// Everything `llama_vocab::impl::load` derives from GGUF metadata, for the SPM and BPE models.
struct Vocabulary: Sendable {
    enum Model: Sendable { case spm, bpe }

    let model: Model
    let pre: String
    let preTokenizer: PreTokenizer?
    /// Token texts (indices 0..<size), then BPE merge parts that are not tokens.
    let strings: ByteStringTable
    let size: Int
    let scores: [Float]
    var attrs: [TokenAttributes]
    let merges: MergeTable
    let ignoreMerges: Bool

    var bos: Int32?, eos: Int32?, eot: Int32?, eom: Int32?, unk: Int32?, pad: Int32?
    var addBOS: Bool, addEOS: Bool, addSpacePrefix: Bool, cleanSpaces: Bool
    var eog: Set<Int32> = []
    /// Byte → token for byte fallback (SPM `<0xNN>`, BPE byte-level characters); -1 if none.
    let byteTokens: [Int32]
    /// Intern ids of the 256 byte-level characters (BPE initial symbols).
    let byteSymbols: [Int32]
    /// SPM: characters that some token has right before a "▁" other than its first
    /// character (the only places a merge can span a space; see `SPMSession`).
    var spaceJoiners: Set<UInt32> = []
    /// Control, user-defined and unknown tokens, longest text first (llama.cpp's
    /// `cache_special_tokens`).
    var specialTokens: [Int32] = []

    init(metadata md: GGUFMetadata, path: String?) throws {
        func fail(_ message: String) -> QuantKitError { QuantKitError(message, path: path) }

        guard let modelName = md["tokenizer.ggml.model"]?.string else {
            if md["tokenizer.ggml.tokens"] == nil {
                throw fail("this file has no tokenizer (tokenizer.ggml.tokens missing)")
            }
            throw fail("this file has no tokenizer model (tokenizer.ggml.model missing)")
        }
        let preName = md["tokenizer.ggml.pre"]?.string ?? ""
        // Defaults per model, as llama.cpp sets them before reading the metadata.
        var bos: Int32?, eos: Int32?, unk: Int32?
        var addBOS = false, addSpacePrefix = false, cleanSpaces = false, ignoreMerges = false
        switch modelName {
        case "llama":
            model = .spm
            bos = 1; eos = 2; unk = 0
            addBOS = true; addSpacePrefix = true
            pre = "default"
            preTokenizer = nil
        case "gpt2":
            model = .bpe
            bos = 11; eos = 11
            cleanSpaces = true
            let resolved = try PreTokenizer.resolve(preName, path: path)
            pre = preName.isEmpty ? "default" : preName
            preTokenizer = resolved.pre
            if let c = resolved.cleanSpaces { cleanSpaces = c }
            ignoreMerges = resolved.ignoreMerges
            if let b = resolved.addBOS { addBOS = b }
            if resolved.noBOS { bos = nil }
        default:
            throw fail("unsupported tokenizer model '\(modelName)' (supported: 'llama' = SentencePiece, 'gpt2' = byte-level BPE)")
        }
        if let v = md["tokenizer.ggml.add_space_prefix"]?.bool { addSpacePrefix = v }

        guard let tokenValue = md["tokenizer.ggml.tokens"] else {
            throw fail("this file has no tokenizer (tokenizer.ggml.tokens missing)")
        }
        guard let texts = tokenValue.array?.strings else {
            throw fail("tokenizer.ggml.tokens is not an array of strings")
        }
        let n = texts.count
        guard n > 0, n < Int(Int32.max) / 2 else { throw fail("tokenizer.ggml.tokens has \(n) tokens") }
        size = n

        var scores = [Float](repeating: 0, count: n)
        if let value = md["tokenizer.ggml.scores"] {
            guard let arr = value.array else { throw fail("tokenizer.ggml.scores is not an array") }
            guard arr.count >= n else { throw fail("tokenizer.ggml.scores has \(arr.count) entries for \(n) tokens") }
            switch arr {
            case .float32(let a): for i in 0 ..< n { scores[i] = a[i] }
            case .int32(let a): for i in 0 ..< n { scores[i] = Float(a[i]) }
            default: throw fail("tokenizer.ggml.scores has type \(arr.elementType.name), expected FLOAT32 or INT32")
            }
        }
        self.scores = scores

        var attrs = [TokenAttributes](repeating: .normal, count: n)
        if let value = md["tokenizer.ggml.token_type"] {
            guard case .array(.int32(let types)) = value else {
                throw fail("tokenizer.ggml.token_type is not an array of INT32")
            }
            guard types.count >= n else { throw fail("tokenizer.ggml.token_type has \(types.count) entries for \(n) tokens") }
            for i in 0 ..< n { attrs[i] = TokenAttributes(tokenType: types[i]) }
        }

        // Token texts. Empty texts are renamed as llama.cpp does, so they never match.
        var totalBytes = 0
        for t in texts { totalBytes += t.utf8.count }
        var table = ByteStringTable(expectedCount: n + n / 2, expectedBytes: totalBytes + n)
        for (i, t) in texts.enumerated() {
            var s = t
            if s.isEmpty { s = "[EMPTY_\(i)]" }
            s.withUTF8 { _ = table.append($0) }
        }

        let merges = model == .bpe ? try Self.readMerges(md, into: &table, fail: fail) : MergeTable(capacityFor: 16)
        self.merges = merges
        self.strings = table
        self.ignoreMerges = ignoreMerges

        // Special token ids: defaults disabled when out of range, then the metadata.
        func special(_ key: String, _ current: Int32?) -> Int32? {
            var id = current
            if let c = id, c >= n { id = nil }
            if let v = md[key]?.int, v >= 0, v <= Int(UInt32.max) {
                if v < n { id = Int32(v) }
            }
            return id
        }
        self.bos = special("tokenizer.ggml.bos_token_id", bos)
        self.eos = special("tokenizer.ggml.eos_token_id", eos)
        var eot = special("tokenizer.ggml.eot_token_id", nil)
        var eom = special("tokenizer.ggml.eom_token_id", nil)
        self.unk = special("tokenizer.ggml.unknown_token_id", unk)
        self.pad = special("tokenizer.ggml.padding_token_id", nil)
        var fimPre = special("tokenizer.ggml.fim_pre_token_id", nil)
        var fimSuf = special("tokenizer.ggml.fim_suf_token_id", nil)
        var fimMid = special("tokenizer.ggml.fim_mid_token_id", nil)
        var fimPad = special("tokenizer.ggml.fim_pad_token_id", nil)
        var fimRep = special("tokenizer.ggml.fim_rep_token_id", nil)
        var fimSep = special("tokenizer.ggml.fim_sep_token_id", nil)
        fimPre = special("tokenizer.ggml.prefix_token_id", fimPre)
        fimSuf = special("tokenizer.ggml.suffix_token_id", fimSuf)
        fimMid = special("tokenizer.ggml.middle_token_id", fimMid)

        self.addBOS = md["tokenizer.ggml.add_bos_token"]?.bool ?? addBOS
        self.addEOS = md["tokenizer.ggml.add_eos_token"]?.bool ?? false
        self.addSpacePrefix = addSpacePrefix
        self.cleanSpaces = cleanSpaces

        // Tokens llama.cpp recognises by their text (it scans its hash map, whose order is
        // unspecified; when several candidates exist we take the first in list order).
        func id(_ text: String) -> Int32? {
            let i = table.lookup(Array(text.utf8))
            return i >= 0 && i < n ? Int32(i) : nil
        }
        func firstPresent(_ list: [String]) -> Int32? {
            for t in list { if let i = id(t) { return i } }
            return nil
        }
        func markControl(_ t: Int32?) { if let t { attrs[Int(t)].insert(.control) } }
        if eot == nil {
            eot = firstPresent(["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>",
                                "<end_of_utterance>"])
            markControl(eot)
        }
        if eom == nil { eom = id("<|eom_id|>"); markControl(eom) }
        if fimPre == nil {
            fimPre = firstPresent(["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>",
                                   "▁<PRE>", "<|code_prefix|>", "<|prefix|>"])
            markControl(fimPre)
        }
        if fimSuf == nil {
            fimSuf = firstPresent(["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>",
                                   "▁<SUF>", "<|code_suffix|>", "<|suffix|>"])
            markControl(fimSuf)
        }
        if fimMid == nil {
            fimMid = firstPresent(["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
                                   "▁<MID>", "<|code_middle|>", "<|middle|>"])
            markControl(fimMid)
        }
        if fimPad == nil {
            fimPad = firstPresent(["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"])
            markControl(fimPad)
        }
        if fimRep == nil {
            fimRep = firstPresent(["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"])
            markControl(fimRep)
        }
        if fimSep == nil { fimSep = id("<|file_sep|>"); markControl(fimSep) }

        // Control tokens whose text says "unused" are unused.
        for i in 0 ..< n where attrs[i].contains(.control) && !attrs[i].contains(.unused) {
            if table.bytes(i).firstRange(of: Array("unused".utf8)) != nil { attrs[i].insert(.unused) }
        }

        // End-of-generation tokens.
        var eog = Set<Int32>()
        for t in [fimPad, fimRep, fimSep] { if let t { eog.insert(t) } }
        for text in ["<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
                     "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                     "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
                     "<｜end▁of▁sentence｜>", "[e~["] {
            if let t = id(text) { eog.insert(t); markControl(t) }
        }
        // gpt-oss: these always render.
        for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
            if let t = id(text) { attrs[Int(t)] = .userDefined }
        }
        for t in [self.eos, eot, eom] { if let t { eog.insert(t) } }
        // o200k_harmony / solar-open: "<|end|>" is not end-of-generation there.
        let eogTexts = Set(eog.map { Array(table.bytes(Int($0))) })
        func has(_ s: String) -> Bool { eogTexts.contains(Array(s.utf8)) }
        let hasCall = has("<|call|>") || has("<|calls|>")
        if hasCall && has("<|end|>") && (has("<|return|>") || has("<|flush|>")) {
            for t in eog where table.bytes(Int(t)).elementsEqual("<|end|>".utf8) {
                eog.remove(t)
                attrs[Int(t)] = .userDefined
            }
        }
        if has("<|tool_response>") || has("<|plamo:eos|>") {
            for t in eog where table.bytes(Int(t)).elementsEqual("</s>".utf8) {
                eog.remove(t)
                attrs[Int(t)] = .normal
            }
        }
        self.eog = eog
        self.eot = eot
        self.eom = eom

        // Special tokens, longest first (ties by id: llama.cpp's sort leaves them unspecified).
        let specialMask: TokenAttributes = [.control, .userDefined, .unknown]
        var specials = (0 ..< n).filter { !attrs[$0].isDisjoint(with: specialMask) }.map { Int32($0) }
        specials.sort { a, b in
            let la = table.range(Int(a)).count, lb = table.range(Int(b)).count
            return la != lb ? la > lb : a < b
        }
        specialTokens = specials

        // Per-model attribute fixes llama.cpp applies by name.
        let modelLower = (md["general.name"]?.string ?? "").lowercased()
        let arch = md["general.architecture"]?.string ?? ""
        if ["jina-v2-de", "jina-v2-es", "jina-v2-code"].contains(where: { preName.contains($0) })
            || ["nomic-bert-moe", "jina-bert-v3"].contains(where: { arch.contains($0) }) {
            if let t = id("<mask>") { attrs[Int(t)].insert(.lstrip) }
        } else if modelLower.contains("phi-3") || modelLower.contains("phi3") {
            for t in specials { attrs[Int(t)].insert(.rstrip) }
            if let t = id("</s>") { attrs[Int(t)].insert(.rstrip) }
            for text in ["<unk>", "<s>", "<|endoftext|>"] { if let t = id(text) { attrs[Int(t)].remove(.rstrip) } }
        } else if modelLower.contains("modern-bert") {
            if let t = id("[MASK]") { attrs[Int(t)].insert(.lstrip) }
        }
        self.attrs = attrs

        (byteTokens, byteSymbols) = Self.byteTables(model, table, n)
        if model == .spm { spaceJoiners = Self.spaceJoiners(table, n) }
    }

    /// BPE merges: both parts interned (parts that are not tokens get ids past the
    /// vocabulary), then each pair mapped to its rank and to the id of the joined text.
    private static func readMerges(_ md: GGUFMetadata, into table: inout ByteStringTable,
                                   fail: (String) -> QuantKitError) throws -> MergeTable {
        guard let value = md["tokenizer.ggml.merges"] else {
            throw fail("BPE tokenizer without merges (tokenizer.ggml.merges missing)")
        }
        guard let list = value.array?.strings else { throw fail("tokenizer.ggml.merges is not an array of strings") }
        var parts = [(left: Int32, right: Int32, rank: Int32)]()
        parts.reserveCapacity(list.count)
        for (i, m) in list.enumerated() {
            var m = m
            m.withUTF8 { b in
                // llama.cpp splits at the first space after the first byte.
                guard b.count > 1, let pos = b[1...].firstIndex(of: 0x20) else { return }
                let l = table.intern(UnsafeBufferPointer(rebasing: b[..<pos]))
                let r = table.intern(UnsafeBufferPointer(rebasing: b[(pos + 1)...]))
                parts.append((Int32(l), Int32(r), Int32(i)))
            }
        }
        var merges = MergeTable(capacityFor: parts.count)
        var joined = [UInt8]()
        for p in parts {
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: table.bytes(Int(p.left)))
            joined.append(contentsOf: table.bytes(Int(p.right)))
            merges.insert(left: p.left, right: p.right, rank: p.rank, result: Int32(table.lookup(joined)))
        }
        return merges
    }

    /// Byte → token for byte fallback (SPM: `<0xNN>`, else the byte itself as a token) and,
    /// for BPE, byte → intern id of its byte-level character.
    private static func byteTables(_ model: Model, _ table: ByteStringTable, _ n: Int) -> ([Int32], [Int32]) {
        let uni = UnicodeTables.shared
        var byteTokens = [Int32](repeating: -1, count: 256)
        var byteSymbols = [Int32](repeating: -1, count: 256)
        let hex = Array("0123456789ABCDEF".utf8)
        for b in 0 ..< 256 {
            switch model {
            case .spm:
                let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // <0xNN>
                var t = table.lookup(name)
                if t < 0 || t >= n { t = table.lookup([UInt8(b)]) }
                byteTokens[b] = t >= 0 && t < n ? Int32(t) : -1
            case .bpe:
                let packed = uni.byteToUTF8[b]
                let utf8: [UInt8] = packed & 0xFF == 1
                    ? [UInt8(truncatingIfNeeded: packed >> 8)]
                    : [UInt8(truncatingIfNeeded: packed >> 8), UInt8(truncatingIfNeeded: packed >> 16)]
                let t = table.lookup(utf8)
                byteSymbols[b] = Int32(t)
                byteTokens[b] = t >= 0 && t < n ? Int32(t) : -1
            }
        }
        return (byteTokens, byteSymbols)
    }

    /// The characters some token has right before a "▁" that is not its first character.
    private static func spaceJoiners(_ table: ByteStringTable, _ n: Int) -> Set<UInt32> {
        var joiners = Set<UInt32>()
        table.arena.withUnsafeBufferPointer { a in
            for t in 0 ..< n {
                let r = table.range(t)
                var k = r.lowerBound + 1
                while k + 3 <= r.upperBound {
                    if a[k] == 0xE2 && a[k + 1] == 0x96 && a[k + 2] == 0x81 {
                        // The character before: back up over continuation bytes.
                        var s = k - 1
                        while s > r.lowerBound && a[s] & 0xC0 == 0x80 { s -= 1 }
                        joiners.insert(UTF8Util.decode(UnsafeBufferPointer(rebasing: a[s ..< r.upperBound]), 0).0)
                    }
                    k += 1
                }
            }
        }
        return joiners
    }

    /// The text of token `id` as stored in the vocabulary.
    func text(_ id: Int) -> ArraySlice<UInt8> { strings.bytes(id) }
}
