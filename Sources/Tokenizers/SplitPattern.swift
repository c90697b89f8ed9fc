import QKCore

/// A regex made of quantified character classes (`\s?\p{L}+`, `[0-9][0-9][0-9]`, `\s+$`),
/// matched the way llama.cpp's std::regex fallback matches it.
///
/// llama.cpp hands std::regex a "collapsed" text when the regex uses `\p{..}`: ASCII stays,
/// non-ASCII whitespace becomes 0x0B and every other non-ASCII codepoint becomes one byte
/// naming its category (0xD1 number, 0xD2 letter, 0xD3 punctuation, 0xD4 mark, 0xD5 symbol,
/// 0xD0 anything else), and `\p{X}` becomes that byte plus the ASCII members of X. Without
/// `\p{..}` the regex runs on codepoints (non-ASCII whitespace still turned into 0x0B).
/// Matches are leftmost, quantifiers greedy with backtracking, as in ECMAScript; the text
/// between matches becomes pieces of its own.
struct SplitPattern: Sendable {
    struct CharClass: Sendable {
        var negated = false
        /// Members below 256.
        var low = [Bool](repeating: false, count: 256)
        /// Members from 256 up, as closed ranges.
        var ranges: [ClosedRange<UInt32>] = []

        @inline(__always)
        func contains(_ e: UInt32) -> Bool {
            let inside = e < 256 ? low[Int(e)] : ranges.contains { $0.contains(e) }
            return inside != negated
        }

        mutating func add(_ r: ClosedRange<UInt32>) {
            if r.lowerBound < 256 {
                for e in r.lowerBound ... min(r.upperBound, 255) { low[Int(e)] = true }
            }
            if r.upperBound >= 256 { ranges.append(max(r.lowerBound, 256) ... r.upperBound) }
        }

        mutating func addSpace() { for e: UInt32 in [9, 10, 11, 12, 13, 32] { low[Int(e)] = true } }
    }

    struct Atom: Sendable {
        var cls: CharClass
        var min: Int
        var max: Int
    }

    let atoms: [Atom]
    let anchoredEnd: Bool
    let collapsed: Bool

    /// Categories `\p{X}` can name, with their collapsed byte and ASCII members (llama.cpp's
    /// `k_ucat_cpt` and `k_ucat_map`).
    private static let categories: [String: (UInt32, [ClosedRange<UInt32>])] = {
        let letter: (UInt32, [ClosedRange<UInt32>]) = (0xD2, [0x41 ... 0x5A, 0x61 ... 0x7A])
        return [
            "N": (0xD1, [0x30 ... 0x39]),
            "L": letter, "Lu": letter, "Ll": letter, "Lt": letter, "Lm": letter, "Lo": letter,
            "P": (0xD3, [0x21 ... 0x23, 0x25 ... 0x2A, 0x2C ... 0x2F, 0x3A ... 0x3B, 0x3F ... 0x40,
                         0x5B ... 0x5D, 0x5F ... 0x5F, 0x7B ... 0x7B, 0x7D ... 0x7D]),
            "M": (0xD4, []),
            "S": (0xD5, [0x24 ... 0x24, 0x2B ... 0x2B, 0x3C ... 0x3E, 0x5E ... 0x5E, 0x60 ... 0x60,
                         0x7C ... 0x7C, 0x7E ... 0x7E]),
        ]
    }()

    /// Parses `regex`; anything beyond classes, escapes, literals, quantifiers and a final
    /// `$` is refused.
    init(_ regex: String, path: String? = nil) throws {
        func unsupported() -> QuantKitError {
            QuantKitError("pre-tokenizer regex '\(regex)' is not supported", path: path)
        }
        let s = Array(regex.unicodeScalars).map(\.value)
        let usesCategories = Self.categories.keys.contains { regex.contains("\\p{\($0)}") }
        collapsed = usesCategories
        if usesCategories, s.contains(where: { $0 >= 128 }) { throw unsupported() }
        var i = 0
        var atoms = [Atom]()
        var anchored = false

        // One escape (after the backslash, at i); adds to cls or returns a literal char.
        func escape(into cls: inout CharClass) throws -> UInt32? {
            guard i < s.count else { throw unsupported() }
            let e = s[i]
            i += 1
            switch e {
            case 0x73: cls.addSpace(); return nil  // \s
            case 0x64: cls.add(0x30 ... 0x39); return nil  // \d
            case 0x70:  // \p{X}
                guard i < s.count, s[i] == 0x7B, let close = s[i...].firstIndex(of: 0x7D) else { throw unsupported() }
                let name = String(String.UnicodeScalarView(s[(i + 1) ..< close].compactMap(Unicode.Scalar.init)))
                guard let (code, ascii) = Self.categories[name] else { throw unsupported() }
                cls.add(code ... code)
                for r in ascii { cls.add(r) }
                i = close + 1
                return nil
            case 0x72: return 0x0D
            case 0x6E: return 0x0A
            case 0x74: return 0x09
            case 0x66: return 0x0C
            case 0x76: return 0x0B
            default:
                // Escaped punctuation stands for itself; letters and digits would be classes
                // or back-references this matcher does not know.
                if (0x30 ... 0x39).contains(e) || (0x41 ... 0x5A).contains(e) || (0x61 ... 0x7A).contains(e) {
                    throw unsupported()
                }
                return e
            }
        }

        while i < s.count {
            var cls = CharClass()
            let ch = s[i]
            i += 1
            switch ch {
            case 0x5B:  // [ ... ]
                if i < s.count, s[i] == 0x5E { cls.negated = true; i += 1 }
                var first = true
                while true {
                    guard i < s.count else { throw unsupported() }
                    var c = s[i]
                    if c == 0x5D && !first { i += 1; break }
                    first = false
                    i += 1
                    if c == 0x5C {
                        guard let lit = try escape(into: &cls) else { continue }
                        c = lit
                    }
                    // A range a-b (a '-' before ']' is literal).
                    if i + 1 < s.count, s[i] == 0x2D, s[i + 1] != 0x5D {
                        i += 1
                        var hi = s[i]
                        i += 1
                        if hi == 0x5C {
                            var dummy = CharClass()
                            guard let lit = try escape(into: &dummy) else { throw unsupported() }
                            hi = lit
                        }
                        guard hi >= c else { throw unsupported() }
                        cls.add(c ... hi)
                    } else {
                        cls.add(c ... c)
                    }
                }
            case 0x5C:
                if let lit = try escape(into: &cls) { cls.add(lit ... lit) }
            case 0x24 where i == s.count:  // $ at the very end
                anchored = true
                continue
            case 0x28, 0x29, 0x7C, 0x2E, 0x5E, 0x24, 0x3F, 0x2A, 0x2B, 0x7B, 0x7D:
                throw unsupported()
            default:
                cls.add(ch ... ch)
            }
            // Quantifier.
            var lo = 1, hi = 1
            if i < s.count {
                switch s[i] {
                case 0x3F: lo = 0; hi = 1; i += 1
                case 0x2B: lo = 1; hi = Int.max; i += 1
                case 0x2A: lo = 0; hi = Int.max; i += 1
                case 0x7B:
                    guard let close = s[i...].firstIndex(of: 0x7D) else { throw unsupported() }
                    let body = String(String.UnicodeScalarView(s[(i + 1) ..< close].compactMap(Unicode.Scalar.init)))
                    let parts = body.split(separator: ",", omittingEmptySubsequences: false)
                    guard let a = Int(parts[0]), parts.count <= 2 else { throw unsupported() }
                    lo = a
                    hi = parts.count == 1 ? a : (parts[1].isEmpty ? Int.max : Int(parts[1]) ?? -1)
                    guard hi >= lo else { throw unsupported() }
                    i = close + 1
                default: break
                }
                if i < s.count, s[i] == 0x3F || s[i] == 0x2B { throw unsupported() }  // lazy/possessive
            }
            atoms.append(Atom(cls: cls, min: lo, max: hi))
        }
        guard !atoms.isEmpty, atoms.contains(where: { $0.min > 0 }) else { throw unsupported() }
        self.atoms = atoms
        anchoredEnd = anchored
    }

    /// The character std::regex sees for codepoint `c` with flags `f`.
    @inline(__always)
    private func effective(_ c: UInt32, _ f: UInt16) -> UInt32 {
        if c < 128 { return c }
        if f & CodepointFlags.whitespace != 0 { return 0x0B }
        guard collapsed else { return c }
        switch f & CodepointFlags.categoryMask {
        case CodepointFlags.number: return 0xD1
        case CodepointFlags.letter: return 0xD2
        case CodepointFlags.punctuation: return 0xD3
        case CodepointFlags.mark: return 0xD4
        case CodepointFlags.symbol: return 0xD5
        default: return 0xD0
        }
    }

    /// Splits codepoints lo..<hi into matches and the gaps between them (end offsets to `out`).
    func split(_ cp: UnsafeBufferPointer<UInt32>, _ fl: UnsafeBufferPointer<UInt16>,
               _ lo: Int, _ hi: Int, _ out: inout [Int32]) {
        var eff = [UInt32](repeating: 0, count: hi - lo)
        for k in lo ..< hi { eff[k - lo] = effective(cp[k], fl[k]) }
        eff.withUnsafeBufferPointer { e in
            let n = e.count
            func match(_ p: Int, _ a: Int) -> Int? {
                if a == atoms.count { return !anchoredEnd || p == n ? p : nil }
                let atom = atoms[a]
                var k = 0
                while k < atom.max && p + k < n && atom.cls.contains(e[p + k]) { k += 1 }
                while k >= atom.min {
                    if let end = match(p + k, a + 1) { return end }
                    k -= 1
                }
                return nil
            }
            var p = 0, gap = 0
            while p < n {
                if let end = match(p, 0), end > p {
                    if p > gap { out.append(Int32(lo + p)) }
                    out.append(Int32(lo + end))
                    p = end
                    gap = end
                } else {
                    p += 1
                }
            }
            if gap < n { out.append(Int32(hi)) }
        }
    }
}
