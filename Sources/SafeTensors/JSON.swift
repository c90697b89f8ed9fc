import QKCore

/// A parsed JSON value, as found in safetensors headers and Hugging Face index files.
///
/// Objects keep their members in file order (a safetensors header's order is meaningful for
/// byte-exact round trips) and numbers keep their source text, so nothing is lost or rounded
/// before the caller decides how to read it.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number, as its literal source text (e.g. "90866816", "-1.5e3").
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in file order; keys are unique (the parser rejects duplicates).
    case object([(key: String, value: JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of an integer literal that fits in `Int`; nil for anything else
    /// (fractions, exponents, other types, or numbers too large).
    public var intValue: Int? {
        guard case .number(let s) = self else { return nil }
        return Int(s)
    }

    /// The member named `key` of an object (nil for a missing key or a non-object).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// A short name of the value's kind, for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

/// A strict RFC 8259 parser over untrusted bytes.
///
/// Rejects invalid UTF-8, lone surrogate escapes, control characters in strings, duplicate
/// object keys, nesting deeper than `maxDepth`, and anything but whitespace after the value.
/// Allocation is proportional to the input, never to a number read from it.
struct JSONParser {
    private let bytes: UnsafeRawBufferPointer
    private let path: String?
    private let what: String
    private let maxDepth: Int
    private var pos = 0
    private var depth = 0

    /// Parses `bytes` as one JSON document; errors name `path` and describe `what`
    /// (e.g. "header") along with the byte offset of the problem.
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String?, what: String, maxDepth: Int = 64) throws -> JSONValue {
        var p = JSONParser(bytes: bytes, path: path, what: what, maxDepth: maxDepth)
        p.skipWhitespace()
        let v = try p.value()
        p.skipWhitespace()
        if p.pos != bytes.count { throw p.fail("unexpected data after the JSON value") }
        return v
    }

    private init(bytes: UnsafeRawBufferPointer, path: String?, what: String, maxDepth: Int) {
        self.bytes = bytes
        self.path = path
        self.what = what
        self.maxDepth = maxDepth
    }

    private func fail(_ message: String) -> QuantKitError {
        QuantKitError("invalid JSON in \(what) at byte \(pos): \(message)", path: path)
    }

    private var atEnd: Bool { pos >= bytes.count }
    private var peek: UInt8 { bytes[pos] }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func expect(_ c: UInt8, _ name: String) throws {
        guard !atEnd, peek == c else { throw fail(atEnd ? "unexpected end, expected \(name)" : "expected \(name)") }
        pos += 1
    }

    private mutating func value() throws -> JSONValue {
        guard !atEnd else { throw fail("unexpected end of data") }
        switch peek {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw fail("unexpected character \(describe(peek))")
        }
    }

    private func describe(_ b: UInt8) -> String {
        (0x21...0x7E).contains(b) ? "'\(Character(Unicode.Scalar(b)))'" : "0x\(String(b, radix: 16))"
    }

    private mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard bytes.count - pos >= n else { throw fail("unexpected end of data") }
        for i in 0..<n where bytes[pos + i] != word.utf8Start[i] { throw fail("invalid literal") }
        pos += n
    }

    private mutating func enter() throws {
        depth += 1
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth) levels") }
    }

    private mutating func object() throws -> JSONValue {
        try enter()
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        // Keys compare by their bytes: Swift's String equality is canonical equivalence, but
        // "\u00e9" and "e\u0301" are different keys to JSON (and to tokenizer vocabularies).
        var seen = Set<[UInt8]>()
        skipWhitespace()
        if !atEnd, peek == UInt8(ascii: "}") { pos += 1; depth -= 1; return .object(members) }
        while true {
            skipWhitespace()
            guard !atEnd, peek == UInt8(ascii: "\"") else { throw fail(atEnd ? "unexpected end inside an object" : "expected a string key") }
            let keyStart = pos
            let key = try string()
            guard seen.insert(Array(key.utf8)).inserted else {
                pos = keyStart
                throw fail("duplicate key \"\(Self.printable(key))\"")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':'")
            skipWhitespace()
            members.append((key, try value()))
            skipWhitespace()
            guard !atEnd else { throw fail("unexpected end inside an object") }
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "}") { pos += 1; break }
            throw fail("expected ',' or '}'")
        }
        depth -= 1
        return .object(members)
    }

    private mutating func array() throws -> JSONValue {
        try enter()
        pos += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if !atEnd, peek == UInt8(ascii: "]") { pos += 1; depth -= 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value())
            skipWhitespace()
            guard !atEnd else { throw fail("unexpected end inside an array") }
            if peek == UInt8(ascii: ",") { pos += 1; continue }
            if peek == UInt8(ascii: "]") { pos += 1; break }
            throw fail("expected ',' or ']'")
        }
        depth -= 1
        return .array(items)
    }

    private mutating func number() throws -> String {
        let start = pos
        if peek == UInt8(ascii: "-") { pos += 1 }
        func digits(_ p: inout Int, _ bytes: UnsafeRawBufferPointer) -> Int {
            let s = p
            while p < bytes.count, isDigit(bytes[p]) { p += 1 }
            return p - s
        }
        guard !atEnd, isDigit(peek) else { throw fail("invalid number") }
        if peek == 0x30 { pos += 1 } else { _ = digits(&pos, bytes) }
        if !atEnd, peek == UInt8(ascii: ".") {
            pos += 1
            guard digits(&pos, bytes) > 0 else { throw fail("invalid number") }
        }
        if !atEnd, peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            pos += 1
            if !atEnd, peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { pos += 1 }
            guard digits(&pos, bytes) > 0 else { throw fail("invalid number") }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
    }

    private mutating func hex4() throws -> UInt32 {
        guard bytes.count - pos >= 4 else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    private mutating func string() throws -> String {
        pos += 1
        let start = pos
        // Fast path: no escapes.
        while pos < bytes.count {
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<pos])
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
                pos += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("unescaped control character in string") }
            pos += 1
        }
        var out = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<pos]))
        while true {
            guard !atEnd else { throw fail("unterminated string") }
            let c = peek
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c < 0x20 { throw fail("unescaped control character in string") }
            if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
            pos += 1
            guard !atEnd else { throw fail("unterminated escape") }
            let e = peek
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var u = try hex4()
                if (0xD800...0xDBFF).contains(u) {
                    guard bytes.count - pos >= 2, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw fail("lone surrogate in \\u escape")
                    }
                    pos += 2
                    let lo = try hex4()
                    guard (0xDC00...0xDFFF).contains(lo) else { throw fail("lone surrogate in \\u escape") }
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(u) {
                    throw fail("lone surrogate in \\u escape")
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(u)!)!)
            default: throw fail("invalid escape '\\\(describe(e))'")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }

    /// `s` shortened and with control characters escaped, for error messages.
    static func printable(_ s: String, limit: Int = 80) -> String {
        var out = ""
        for (i, ch) in s.unicodeScalars.enumerated() {
            if i >= limit { out += "…"; break }
            out += ch.value < 0x20 || ch.value == 0x7F ? ch.escaped(asASCII: true) : String(ch)
        }
        return out
    }
}

/// JSON text output matching the two writers QuantKit reproduces byte for byte: serde_json
/// (the Rust core of the `safetensors` library; raw UTF-8, minimal escapes) and Python's
/// `json.dumps` defaults (`ensure_ascii=True`, used by Hugging Face index files).
enum JSONText {
    /// `s` as a quoted JSON string. With `asciiOnly`, non-ASCII characters are written as
    /// `\uXXXX` escapes (surrogate pairs above U+FFFF), like Python's `json.dumps`.
    static func quoted(_ s: String, asciiOnly: Bool = false) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0..<0x20: out += hexEscape(scalar.value)
            case 0x7F... where asciiOnly:
                if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    out += hexEscape(0xD800 + (v >> 10)) + hexEscape(0xDC00 + (v & 0x3FF))
                } else {
                    out += hexEscape(scalar.value)
                }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func hexEscape(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - h.count)) + h
    }
}

// MARK: - Reading Hugging Face JSON files (config.json, tokenizer.json, …)

extension JSONValue {
    /// Parses one whole JSON document from `bytes` with the same strict parser the safetensors
    /// reader uses; errors name `path` and `what` (e.g. "config") and the byte offset.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String? = nil, what: String = "JSON document",
                             maxDepth: Int = 64) throws -> JSONValue {
        try JSONParser.parse(bytes, path: path, what: what, maxDepth: maxDepth)
    }

    /// Reads and parses the JSON file at `path`.
    public static func parse(file path: String, what: String = "JSON document") throws -> JSONValue {
        let mapped = try MappedFile(path: path)
        return try parse(mapped.bytes(at: 0, count: mapped.count), path: path, what: what)
    }

    /// The string, for a JSON string.
    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    /// The boolean, for a JSON `true`/`false`.
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The elements, for a JSON array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// The members in file order, for a JSON object.
    public var objectMembers: [(key: String, value: JSONValue)]? { if case .object(let m) = self { m } else { nil } }
    /// True for JSON `null`.
    public var isNull: Bool { if case .null = self { true } else { false } }
    /// Any number as a Double (what Python's `json` module reads a float literal as; integers
    /// beyond 2^53 round).
    public var doubleValue: Double? { if case .number(let s) = self { Double(s) } else { nil } }
    /// True for a number written as an integer literal (no fraction or exponent), as Python's
    /// `json` module reads it into an `int`.
    public var isIntegerLiteral: Bool {
        guard case .number(let s) = self else { return false }
        return !s.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
    }
    /// A short name of the value's kind ("a string", "an object", …) for error messages.
    public var kindDescription: String { kindName }
}
