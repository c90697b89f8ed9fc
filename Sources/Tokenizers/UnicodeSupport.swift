/// Unicode facts the pre-tokenizers need, matching llama.cpp's `unicode.cpp` bit for bit.
///
/// llama.cpp classifies every codepoint into one general-category bucket (letter, number,
/// punctuation, ...) plus a whitespace flag, from tables generated from Unicode 15.1. Swift's
/// standard library knows a newer Unicode; characters assigned after 15.1 are treated as
/// unassigned here so that both split text identically (checked for all 0x110000 codepoints
/// against llama.cpp's own table when this was written).
enum CodepointFlags {
    static let undefined: UInt16 = 0x0001
    static let number: UInt16 = 0x0002  // \p{N}
    static let letter: UInt16 = 0x0004  // \p{L}
    static let separator: UInt16 = 0x0008  // \p{Z}
    static let mark: UInt16 = 0x0010  // \p{M}
    static let punctuation: UInt16 = 0x0020  // \p{P}
    static let symbol: UInt16 = 0x0040  // \p{S}
    static let control: UInt16 = 0x0080  // \p{C}
    static let categoryMask: UInt16 = 0x00FF
    static let whitespace: UInt16 = 0x0100  // \s

    /// Flags of `c`, computed from the standard library (slow path; see `UnicodeTables`).
    static func compute(_ c: UInt32) -> UInt16 {
        guard c < 0x110000 else { return undefined }
        // Surrogate codepoints are not scalars; UnicodeData.txt lists them as Cs (control).
        guard let scalar = Unicode.Scalar(c) else { return control }
        let p = scalar.properties
        if let age = p.age, age.major > 15 || (age.major == 15 && age.minor > 1) { return undefined }
        var f: UInt16
        switch p.generalCategory {
        case .unassigned: f = undefined
        case .control, .format, .privateUse, .surrogate: f = control
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f = letter
        case .nonspacingMark, .spacingMark, .enclosingMark: f = mark
        case .decimalNumber, .letterNumber, .otherNumber: f = number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: f = punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: f = symbol
        case .spaceSeparator, .lineSeparator, .paragraphSeparator: f = separator
        @unknown default: f = undefined
        }
        // Unicode's White_Space property: the same 25 codepoints as llama.cpp's whitespace set.
        if p.isWhitespace { f |= whitespace }
        return f
    }
}

/// Precomputed tables shared by all tokenizers (built once, on first use, in ~15 ms).
final class UnicodeTables: Sendable {
    static let shared = UnicodeTables()

    /// Flags of every codepoint of the Basic Multilingual Plane; others are computed on demand.
    let bmp: [UInt16]
    /// GPT-2's byte-level alphabet: the codepoint standing for each byte.
    let byteToCodepoint: [UInt32]
    /// The inverse: byte for codepoints below 0x144, -1 for codepoints that stand for no byte.
    let codepointToByte: [Int16]
    /// UTF-8 of `byteToCodepoint[b]`, packed: length in the low byte, then up to 2 bytes.
    let byteToUTF8: [UInt32]

    private init() {
        bmp = (0 ..< 0x10000).map { CodepointFlags.compute(UInt32($0)) }
        // Printable Latin-1 bytes stand for themselves; the rest are shifted to 256, 257, ...
        var map = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0 ..< 256 {
            if (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = 256 + n
                n += 1
            }
        }
        byteToCodepoint = map
        var inverse = [Int16](repeating: -1, count: 0x144)
        for b in 0 ..< 256 { inverse[Int(map[b])] = Int16(b) }
        codepointToByte = inverse
        byteToUTF8 = map.map { c in
            c < 0x80 ? 1 | (c << 8) : 2 | ((0xC0 | (c >> 6)) << 8) | ((0x80 | (c & 0x3F)) << 16)
        }
    }

    /// Flags of codepoint `c`.
    @inline(__always)
    func flags(_ c: UInt32) -> UInt16 {
        c < 0x10000 ? bmp.withUnsafeBufferPointer { $0[Int(c)] } : CodepointFlags.compute(c)
    }
}

/// UTF-8 helpers with llama.cpp's exact behaviour on malformed input.
enum UTF8Util {
    /// Length of the UTF-8 sequence starting with `lead`, from its high nibble only
    /// (llama.cpp's `unicode_len_utf8`: continuation bytes count as 1).
    @inline(__always)
    static func sequenceLength(_ lead: UInt8) -> Int {
        switch lead >> 4 {
        case 0xC, 0xD: 2
        case 0xE: 3
        case 0xF: 4
        default: 1
        }
    }

    /// Decodes one codepoint at `i` like llama.cpp's `unicode_cpt_from_utf8`, returning the
    /// codepoint and its byte length; malformed input gives U+FFFD and length 1.
    @inline(__always)
    static func decode(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 & 0x80 == 0 { return (b0, 1) }
        let n = p.count
        @inline(__always) func cont(_ k: Int) -> UInt32? {
            k < n && p[k] & 0xC0 == 0x80 ? UInt32(p[k] & 0x3F) : nil
        }
        if b0 & 0x40 == 0 { return (0xFFFD, 1) }
        if b0 & 0x20 == 0 {
            if let c1 = cont(i + 1) { return (((b0 & 0x1F) << 6) | c1, 2) }
            return (0xFFFD, 1)
        }
        if b0 & 0x10 == 0 {
            if let c1 = cont(i + 1), let c2 = cont(i + 2) { return (((b0 & 0x0F) << 12) | (c1 << 6) | c2, 3) }
            return (0xFFFD, 1)
        }
        if b0 & 0x08 == 0 {
            if let c1 = cont(i + 1), let c2 = cont(i + 2), let c3 = cont(i + 3) {
                return (((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3, 4)
            }
        }
        return (0xFFFD, 1)
    }

    /// Whether `p` is well-formed UTF-8 (shortest forms, no surrogates, at most U+10FFFF).
    static func isValid(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = p.count
        while i < n {
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            let len: Int, lo: UInt32
            switch b0 {
            case 0xC2 ... 0xDF: len = 2; lo = 0x80
            case 0xE0 ... 0xEF: len = 3; lo = 0x800
            case 0xF0 ... 0xF4: len = 4; lo = 0x10000
            default: return false
            }
            guard i + len <= n else { return false }
            let (c, used) = decode(p, i)
            if used != len || c < lo || c > 0x10FFFF || (0xD800 ... 0xDFFF).contains(c) { return false }
            i += len
        }
        return true
    }

    /// `p` decoded and re-encoded as llama.cpp does before byte-level BPE
    /// (`unicode_cpts_from_utf8` then `unicode_cpt_to_utf8`).
    static func reencoded(_ p: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(p.count + 8)
        var i = 0
        while i < p.count {
            let (c, len) = decode(p, i)
            append(c, to: &out)
            i += len
        }
        return out
    }

    /// Appends the UTF-8 encoding of `c` (llama.cpp's `unicode_cpt_to_utf8`).
    @inline(__always)
    static func append(_ c: UInt32, to out: inout [UInt8]) {
        switch c {
        case 0 ..< 0x80:
            out.append(UInt8(c))
        case 0x80 ..< 0x800:
            out.append(UInt8(0xC0 | (c >> 6)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        case 0x800 ..< 0x10000:
            out.append(UInt8(0xE0 | (c >> 12)))
            out.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        default:
            out.append(UInt8(0xF0 | ((c >> 18) & 0x07)))
            out.append(UInt8(0x80 | ((c >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((c >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (c & 0x3F)))
        }
    }
}
