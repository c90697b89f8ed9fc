/// A JSON value with ordered objects and exact numbers, for machine-readable summaries.
///
/// Integers keep all 64 bits (u64 values above 2^53 are printed exactly), floats are printed
/// with the shortest text that reads back to the same Float/Double, and non-finite floats
/// (which JSON cannot express) become the strings "nan", "inf" and "-inf".
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Float)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// The JSON text. `pretty` puts object members on their own indented lines (arrays of
    /// plain values stay on one line, so a 262,144-token vocabulary is one long line).
    public func serialized(pretty: Bool = false) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0)
        if pretty { out += "\n" }
        return out
    }

    private func write(to out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let v): out += String(v)
        case .uint(let v): out += String(v)
        case .float(let v): Self.writeFloat(v.isFinite ? v.description : nil, v, to: &out)
        case .double(let v): Self.writeFloat(v.isFinite ? v.description : nil, Float(v), to: &out)
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            let nested = pretty && items.contains { if case .array = $0 { true } else if case .object = $0 { true } else { false } }
            out += "["
            for (i, v) in items.enumerated() {
                if i > 0 { out += pretty && !nested ? ", " : "," }
                if nested { out += "\n" + String(repeating: "  ", count: indent + 1) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if nested && !items.isEmpty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                Self.writeString(k, to: &out)
                out += pretty ? ": " : ":"
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty && !members.isEmpty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    private static func writeFloat(_ text: String?, _ f: Float, to out: inout String) {
        if let text { out += text; return }
        out += f.isNaN ? "\"nan\"" : f < 0 ? "\"-inf\"" : "\"inf\""
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        var plain = true
        // Escaped besides what JSON requires: U+FEFF (Foundation's JSONSerialization drops a
        // raw one at the start of a string; 8 tokens of Gemma's vocabulary begin with one) and
        // U+2028/U+2029 (not valid raw in JavaScript strings). Their UTF-8 forms start 0xE2/0xEF.
        for u in s.utf8 where u < 0x20 || u == 0x22 || u == 0x5C || u == 0xE2 || u == 0xEF { plain = false; break }
        if plain { out += s } else {
            for ch in s.unicodeScalars {
                switch ch {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where ch.value < 0x20 || ch.value == 0xFEFF || ch.value == 0x2028 || ch.value == 0x2029:
                    let hex = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(ch)
                }
            }
        }
        out += "\""
    }
}

extension GGUFValue {
    /// The value as JSON: numbers, bools and strings as themselves, arrays as JSON arrays
    /// (an array of arrays as a list of {"element_type", "value"} objects, so every inner
    /// array keeps its own type).
    public var json: JSONValue {
        switch self {
        case .uint8(let v): .int(Int64(v))
        case .int8(let v): .int(Int64(v))
        case .uint16(let v): .int(Int64(v))
        case .int16(let v): .int(Int64(v))
        case .uint32(let v): .int(Int64(v))
        case .int32(let v): .int(Int64(v))
        case .uint64(let v): .uint(v)
        case .int64(let v): .int(v)
        case .float32(let v): .float(v)
        case .float64(let v): .double(v)
        case .bool(let v): .bool(v)
        case .string(let v): .string(v)
        case .array(let a): a.json
        }
    }
}

extension GGUFArray {
    /// The elements as a JSON array (see `GGUFValue.json`).
    public var json: JSONValue {
        switch self {
        case .uint8(let a): .array(a.map { .int(Int64($0)) })
        case .int8(let a): .array(a.map { .int(Int64($0)) })
        case .uint16(let a): .array(a.map { .int(Int64($0)) })
        case .int16(let a): .array(a.map { .int(Int64($0)) })
        case .uint32(let a): .array(a.map { .int(Int64($0)) })
        case .int32(let a): .array(a.map { .int(Int64($0)) })
        case .uint64(let a): .array(a.map { .uint($0) })
        case .int64(let a): .array(a.map { .int($0) })
        case .float32(let a): .array(a.map { .float($0) })
        case .float64(let a): .array(a.map { .double($0) })
        case .bool(let a): .array(a.map { .bool($0) })
        case .string(let a): .array(a.map { .string($0) })
        case .array(let a): .array(a.map { .object([("element_type", .string($0.elementType.name)), ("value", $0.json)]) })
        }
    }
}

extension GGUFMetadata {
    /// Every entry, in order, as `{"key", "type", ["element_type",] "value"}` with complete
    /// values (large arrays included).
    public var json: JSONValue {
        .array(entries.map { e in
            var m: [(String, JSONValue)] = [("key", .string(e.key)), ("type", .string(e.value.type.name))]
            if case .array(let a) = e.value { m.append(("element_type", .string(a.elementType.name))) }
            m.append(("value", e.value.json))
            return .object(m)
        })
    }
}

extension GGUFTensorInfo {
    /// `{"name", "type", "shape", "offset", "bytes"}` (shape innermost first, offset relative
    /// to the data section, type by ggml name).
    public var json: JSONValue {
        .object([("name", .string(name)), ("type", .string(type.name)),
                 ("shape", .array(shape.map { .int(Int64($0)) })),
                 ("offset", .int(Int64(offset))), ("bytes", .int(Int64(byteCount)))])
    }
}

extension GGUFFile {
    /// A complete machine-readable description: version, alignment, data section offset, every
    /// metadata entry with its exact type and full value, and every tensor. This is the format
    /// of `quant inspect --json`, and what the tests compare with gguf-py's reading.
    public func jsonSummary() -> JSONValue {
        .object([("path", .string(path)), ("version", .int(Int64(version))), ("alignment", .int(Int64(alignment))),
                 ("data_offset", .int(Int64(dataOffset))), ("file_size", .int(Int64(fileSize))),
                 ("metadata", metadata.json), ("tensors", .array(tensors.map(\.json)))])
    }
}

extension GGUFModel {
    /// Like `GGUFFile.jsonSummary()` for the whole model: the first shard's header fields and
    /// metadata, a "shards" list of paths, and every tensor of every shard with a "shard" index.
    public func jsonSummary() -> JSONValue {
        let f = shards[0]
        let ts: [JSONValue] = tensors.indices.map { i in
            guard case .object(var m) = tensors[i].json else { return .null }
            m.append(("shard", .int(Int64(tensorShards[i]))))
            return .object(m)
        }
        return .object([("path", .string(f.path)), ("version", .int(Int64(f.version))), ("alignment", .int(Int64(f.alignment))),
                        ("data_offset", .int(Int64(f.dataOffset))), ("file_size", .int(Int64(f.fileSize))),
                        ("shards", .array(paths.map { .string($0) })),
                        ("metadata", metadata.json), ("tensors", .array(ts))])
    }
}
