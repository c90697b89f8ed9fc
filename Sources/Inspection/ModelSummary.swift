import Foundation
import GGUF
import QKCore

/// What `quant inspect` shows about a model file: enough to answer "what is this file?"
/// at a glance, whatever its format.
public struct ModelSummary: Sendable {
    /// Format name, e.g. "GGUF v3" or "safetensors".
    public var format: String
    public var path: String
    public var architecture: String?
    public var name: String?
    public var fileBytes: Int
    public var tensorCount: Int
    public var parameterCount: Int
    /// Bytes of tensor data.
    public var tensorBytes: Int
    /// Tensor count and bytes per element type, largest first.
    public var byType: [(type: String, count: Int, bytes: Int, parameters: Int)]
    /// Architecture hyper-parameters (key without the architecture prefix → printable value).
    public var hyperParameters: [(key: String, value: String)]
    public var contextLength: Int?
    public var tokenizerModel: String?
    public var tokenizerPre: String?
    public var vocabSize: Int?
    /// `general.file_type`, when present.
    public var fileType: Int?

    /// Bits per weight over all tensors.
    public var bitsPerWeight: Double { parameterCount > 0 ? Double(tensorBytes * 8) / Double(parameterCount) : 0 }

    /// Summarises a GGUF model (one file, or every shard of a split model).
    public init(gguf f: GGUFModel) {
        format = "GGUF v\(f.shards[0].version)" + (f.isSplit ? " (\(f.shards.count) shards)" : "")
        path = f.paths[0]
        architecture = f.architecture
        name = f["general.name"]?.string
        fileBytes = f.shards.reduce(0) { $0 + $1.fileSize }
        tensorCount = f.tensors.count
        parameterCount = f.tensors.reduce(0) { $0 + $1.elementCount }
        tensorBytes = f.tensors.reduce(0) { $0 + $1.byteCount }
        var groups: [String: (Int, Int, Int)] = [:]
        for t in f.tensors {
            let g = groups[t.type.name] ?? (0, 0, 0)
            groups[t.type.name] = (g.0 + 1, g.1 + t.byteCount, g.2 + t.elementCount)
        }
        byType = groups.map { (type: $0.key, count: $0.value.0, bytes: $0.value.1, parameters: $0.value.2) }
            .sorted { $0.bytes > $1.bytes }
        let arch = f.architecture
        let prefix = (arch ?? "") + "."
        hyperParameters = f.metadata.entries.compactMap { kv in
            guard arch != nil, kv.key.hasPrefix(prefix) else { return nil }
            return (String(kv.key.dropFirst(prefix.count)), Self.short(kv.value))
        }
        contextLength = f["\(prefix)context_length"]?.int
        tokenizerModel = f["tokenizer.ggml.model"]?.string
        tokenizerPre = f["tokenizer.ggml.pre"]?.string
        vocabSize = f["tokenizer.ggml.tokens"]?.array?.count
        fileType = f["general.file_type"]?.int
    }

    /// A value in one short line: arrays are summarised by type, length and first items.
    public static func short(_ v: GGUFValue) -> String {
        switch v {
        case .string(let s): return s.count > 80 ? "\"\(s.prefix(77))...\" (\(s.utf8.count) bytes)" : "\"\(s)\""
        case .array(let a):
            let head = (0 ..< min(a.count, a.count > 8 ? 5 : 8)).map { short(a[$0]) }.joined(separator: ", ")
            return "[\(a.elementType.name.lowercased()) × \(a.count)] [\(head)\(a.count > 8 ? ", ..." : "")]"
        case .bool(let b): return String(b)
        case .float32(let x): return "\(x)"
        case .float64(let x): return "\(x)"
        default: return v.int.map(String.init) ?? "\(v)"
        }
    }

    /// The human-readable report.
    public func render() -> String {
        var out: [String] = []
        func row(_ k: String, _ v: String) { out.append(k.padding(toLength: 20, withPad: " ", startingAt: 0) + v) }
        row("file", path)
        row("format", format)
        if let architecture { row("architecture", architecture) }
        if let name { row("name", name) }
        row("parameters", "\(parameterCount) (\(Self.count(parameterCount)))")
        row("file size", "\(fileBytes) bytes (\(Self.bytes(fileBytes)))")
        row("bits per weight", String(format: "%.3f", bitsPerWeight))
        if let fileType { row("file type", "\(fileType)") }
        if let contextLength { row("context length", "\(contextLength)") }
        if let tokenizerModel {
            row("tokenizer", tokenizerModel + (tokenizerPre.map { " (pre: \($0))" } ?? "") + (vocabSize.map { ", vocab \($0)" } ?? ""))
        }
        out.append("")
        out.append("tensors: \(tensorCount)")
        for g in byType {
            out.append("  " + g.type.padding(toLength: 8, withPad: " ", startingAt: 0)
                + String(format: "%6d tensors  %12d bytes  ", g.count, g.bytes)
                + Self.bytes(g.bytes).padding(toLength: 11, withPad: " ", startingAt: 0)
                + String(format: "%6.2f%%", 100 * Double(g.bytes) / Double(max(tensorBytes, 1))))
        }
        if !hyperParameters.isEmpty {
            out.append("")
            out.append("hyper-parameters:")
            for (k, v) in hyperParameters { out.append("  \(k) = \(v)") }
        }
        return out.joined(separator: "\n")
    }

    static func count(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1e9 { return String(format: "%.2fB", d / 1e9) }
        if d >= 1e6 { return String(format: "%.1fM", d / 1e6) }
        if d >= 1e3 { return String(format: "%.1fK", d / 1e3) }
        return "\(n)"
    }

    static func bytes(_ n: Int) -> String {
        let d = Double(n)
        if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
        if d >= 1_048_576 { return String(format: "%.1f MiB", d / 1_048_576) }
        if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
        return "\(n) B"
    }
}
