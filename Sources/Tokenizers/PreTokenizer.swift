import QKCore

/// Splits text into the words byte-level BPE merges within, per `tokenizer.ggml.pre`.
///
/// llama.cpp applies a list of regexes one after the other, each splitting the pieces the
/// previous one left. The common GPT-2, Llama-3 and Qwen2 regexes run as hand-written
/// matchers (`unicode_regex_split_custom_*`), reproduced here with their quirks; the simpler
/// ones (digit isolation, punctuation runs, ...) go through `SplitPattern`, a small matcher for
/// regexes made of quantified character classes, with std::regex's semantics on llama.cpp's
/// "collapsed" text (every non-ASCII codepoint replaced by a byte naming its category).
struct PreTokenizer: Sendable {
    enum Pass: Sendable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// Llama-3 (`digits` = 3, `\p{N}{1,3}`), Qwen2 (`digits` = 1) and Qwen3.5 (letters
        /// include marks) style: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, ...
        case llama3(digits: Int, marks: Bool)
        case pattern(SplitPattern)
    }

    let passes: [Pass]

    struct Resolved {
        var pre: PreTokenizer
        var cleanSpaces: Bool? = nil
        var ignoreMerges = false
        var addBOS: Bool? = nil
        var noBOS = false
    }

    static let gpt2Regex = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"

    /// The pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre` = `name`, with the flags
    /// that name also sets. Names llama.cpp knows but whose regexes need a full regex engine
    /// (alternations with lookaheads: tekken, gpt-4o, deepseek-v3, ...) are refused.
    static func resolve(_ name: String, path: String?) throws -> Resolved {
        func p(_ passes: [Pass]) -> PreTokenizer { PreTokenizer(passes: passes) }
        func pat(_ s: String) throws -> Pass { .pattern(try SplitPattern(s, path: path)) }
        let llama3 = p([.llama3(digits: 3, marks: false)])
        let qwen2 = p([.llama3(digits: 1, marks: false)])
        let gpt2 = p([.gpt2])
        let starcoder = p([try pat("\\p{N}"), .gpt2])
        switch name {
        case "", "default":
            return Resolved(pre: p([try pat("[\\p{P}\\$\\+<=>\\^~\\|]+"), .gpt2, try pat("\\p{N}+"),
                                    try pat("[0-9][0-9][0-9]")]))
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano":
            return Resolved(pre: llama3, ignoreMerges: true, addBOS: true)
        case "dbrx", "smaug-bpe":
            return Resolved(pre: llama3)
        case "chatglm-bpe":
            return Resolved(pre: llama3, noBOS: true)
        case "glm4", "glm5":
            return Resolved(pre: llama3, ignoreMerges: true, noBOS: true)
        case "deepseek-llm":
            // The character classes are written with escapes: some of their characters
            // (e.g. U+1F7D) have canonical equivalents that editors may silently substitute.
            return Resolved(pre: p([
                try pat("[\r\n]"),
                try pat("\\s?[A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+"),
                try pat("\\s?[!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}]+"),
                try pat("\\s+$"),
                try pat("[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+"),
                try pat("\\p{N}+"),
            ]), cleanSpaces: false)
        case "deepseek-coder":
            return Resolved(pre: p([try pat("[\r\n]"), try pat("\\s?\\p{L}+"), try pat("\\s?\\p{P}+"),
                                    try pat("[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+"), try pat("\\p{N}")]), cleanSpaces: false)
        case "falcon":
            return Resolved(pre: p([try pat("[\\p{P}\\$\\+<=>\\^~\\|`]+"), .gpt2, try pat("[0-9][0-9][0-9]")]))
        case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum",
             "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "exaone4":
            return Resolved(pre: gpt2)
        case "trillion", "granite-docling":
            return Resolved(pre: gpt2, cleanSpaces: false)
        case "starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2":
            return Resolved(pre: starcoder)
        case "smollm", "command-r":
            return Resolved(pre: starcoder, cleanSpaces: false)
        case "qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2":
            return Resolved(pre: qwen2, cleanSpaces: false)
        case "stablelm2", "megrez":
            return Resolved(pre: qwen2)
        case "qwen35":
            return Resolved(pre: p([.llama3(digits: 1, marks: true)]), cleanSpaces: false)
        case "poro-chat":
            return Resolved(pre: p([try pat(" ?[^(\\s|.,!?\u{2026}\u{3002}\u{FF0C}\u{3001}\u{964}\u{6D4}\u{60C})]+")]), cleanSpaces: false)
        case "bloom", "gpt3-finnish":
            return Resolved(pre: p([try pat(" ?[^(\\s|.,!?\u{2026}\u{3002}\u{FF0C}\u{3001}\u{964}\u{6D4}\u{60C})]+")]))
        case "viking":
            return Resolved(pre: p([try pat(" ?[^(\\s|.,!?\u{2026}\u{3002}\u{FF0C}\u{3001}\u{964}\u{6D4}\u{60C})]+"), try pat("\\p{N}")]), cleanSpaces: false)
        default:
            throw QuantKitError("unsupported pre-tokenizer '\(name)' (tokenizer.ggml.pre)", path: path)
        }
    }

    /// Splits valid UTF-8 `text` into words; appends each word's end offset (in bytes) to `ends`.
    func split(_ text: UnsafeBufferPointer<UInt8>, into ends: inout [Int32]) {
        guard !text.isEmpty else { return }
        // Codepoints, their byte offsets and flags.
        let uni = UnicodeTables.shared
        var cps = [UInt32](), offs = [Int32](), fls = [UInt16]()
        cps.reserveCapacity(text.count)
        offs.reserveCapacity(text.count + 1)
        fls.reserveCapacity(text.count)
        uni.bmp.withUnsafeBufferPointer { bmp in
            var i = 0
            while i < text.count {
                let (c, len) = UTF8Util.decode(text, i)
                cps.append(c)
                offs.append(Int32(i))
                fls.append(c < 0x10000 ? bmp[Int(c)] : CodepointFlags.compute(c))
                i += len
            }
        }
        offs.append(Int32(text.count))
        var segs: [Int32] = [Int32(cps.count)]
        var next = [Int32]()
        cps.withUnsafeBufferPointer { cp in
            fls.withUnsafeBufferPointer { fl in
                for pass in passes {
                    next.removeAll(keepingCapacity: true)
                    next.reserveCapacity(segs.count * 2)
                    var lo = 0
                    for end in segs {
                        let hi = Int(end)
                        switch pass {
                        case .gpt2: Self.splitGPT2(cp, fl, lo, hi, &next)
                        case .llama3(let digits, let marks): Self.splitLlama3(cp, fl, lo, hi, digits, marks, &next)
                        case .pattern(let p): p.split(cp, fl, lo, hi, &next)
                        }
                        lo = hi
                    }
                    swap(&segs, &next)
                }
            }
        }
        for e in segs { ends.append(offs[Int(e)]) }
    }

    private static let outOfRange: UInt32 = 0xFFFF_FFFF

    /// llama.cpp's `unicode_regex_split_custom_gpt2` on codepoints lo..<hi.
    static func splitGPT2(_ cp: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<UInt16>,
                          _ lo: Int, _ hi: Int, _ out: inout [Int32]) {
        let L = CodepointFlags.letter, N = CodepointFlags.number, W = CodepointFlags.whitespace
        @inline(__always) func f(_ p: Int) -> UInt16 { p < hi ? fl[p] : 0 }
        @inline(__always) func c(_ p: Int) -> UInt32 { p < hi ? cp[p] : outOfRange }
        var prev = lo
        @inline(__always) func emit(_ end: Int) {
            if end > prev { out.append(Int32(end)) }
            prev = end
        }
        var pos = lo
        while pos < hi {
            let cpt = cp[pos], flags = fl[pos]
            // 's|'t|'re|'ve|'m|'ll|'d
            if cpt == 0x27 && pos + 1 < hi {
                let n1 = cp[pos + 1]
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 { pos += 2; emit(pos); continue }
                if pos + 2 < hi {
                    let n2 = cp[pos + 2]
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                        pos += 3; emit(pos); continue
                    }
                }
            }
            var flags2 = cpt == 0x20 ? f(pos + 1) : flags
            // <space>?\p{L}+   <space>?\p{N}+   <space>?[^\s\p{L}\p{N}]+
            if flags2 & L != 0 || flags2 & N != 0 || (flags2 & (W | L | N) == 0 && flags2 != 0) {
                let cls: UInt16 = flags2 & L != 0 ? L : (flags2 & N != 0 ? N : 0)
                if cpt == 0x20 { pos += 1 }
                if cls != 0 {
                    while flags2 & cls != 0 { pos += 1; flags2 = f(pos) }
                } else {
                    while flags2 & (W | L | N) == 0 && flags2 != 0 { pos += 1; flags2 = f(pos) }
                }
                emit(pos)
                continue
            }
            var nws = 0
            while f(pos + nws) & W != 0 { nws += 1 }
            // \s+(?!\S)
            if nws > 1 && c(pos + nws) != outOfRange { pos += nws - 1; emit(pos); continue }
            // \s+
            if nws > 0 { pos += nws; emit(pos); continue }
            pos += 1
            emit(pos)
        }
    }

    /// llama.cpp's `unicode_regex_split_custom_llama3` (digits 3), `_qwen2` (digits 1) and
    /// `_qwen35` (digits 1, marks) on codepoints lo..<hi.
    static func splitLlama3(_ cp: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<UInt16>,
                            _ lo: Int, _ hi: Int, _ digits: Int, _ marks: Bool, _ out: inout [Int32]) {
        let N = CodepointFlags.number, W = CodepointFlags.whitespace
        let LM = marks ? CodepointFlags.letter | CodepointFlags.mark : CodepointFlags.letter
        @inline(__always) func f(_ p: Int) -> UInt16 { p < hi ? fl[p] : 0 }
        @inline(__always) func c(_ p: Int) -> UInt32 { p < hi ? cp[p] : outOfRange }
        @inline(__always) func lower(_ c: UInt32) -> UInt32 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
        var prev = lo
        @inline(__always) func emit(_ end: Int) {
            if end > prev { out.append(Int32(end)) }
            prev = end
        }
        var pos = lo
        while pos < hi {
            let cpt = cp[pos], flags = fl[pos]
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            if cpt == 0x27 && pos + 1 < hi {
                let n1 = lower(cp[pos + 1])
                if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 { pos += 2; emit(pos); continue }
                if pos + 2 < hi {
                    let n2 = lower(cp[pos + 2])
                    if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                        pos += 3; emit(pos); continue
                    }
                }
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(cpt == 0x0D || cpt == 0x0A || flags & N != 0) {
                if (flags | f(pos + 1)) & LM != 0 {
                    pos += 1
                    while f(pos) & LM != 0 { pos += 1 }
                    emit(pos)
                    continue
                }
            }
            // \p{N}{1,3} or \p{N}
            if flags & N != 0 {
                if digits == 1 {
                    pos += 1
                } else {
                    var ini = pos
                    while f(pos) & N != 0 {
                        pos += 1
                        if pos - ini >= digits { emit(pos); ini = pos }
                    }
                }
                emit(pos)
                continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            var flags2 = cpt == 0x20 ? f(pos + 1) : flags
            if flags2 & (W | LM | N) == 0 && flags != 0 {
                if cpt == 0x20 { pos += 1 }
                while flags2 & (W | LM | N) == 0 && flags2 != 0 { pos += 1; flags2 = f(pos) }
                var c2 = c(pos)
                while c2 == 0x0D || c2 == 0x0A { pos += 1; c2 = c(pos) }
                emit(pos)
                continue
            }
            var nws = 0
            var lastEndRN = 0
            while f(pos + nws) & W != 0 {
                let c2 = cp[pos + nws]
                if c2 == 0x0D || c2 == 0x0A { lastEndRN = pos + nws + 1 }
                nws += 1
            }
            // \s*[\r\n]+
            if lastEndRN > 0 { pos = lastEndRN; emit(pos); continue }
            // \s+(?!\S)
            if nws > 1 && c(pos + nws) != outOfRange { pos += nws - 1; emit(pos); continue }
            // \s+
            if nws > 0 { pos += nws; emit(pos); continue }
            pos += 1
            emit(pos)
        }
    }
}
