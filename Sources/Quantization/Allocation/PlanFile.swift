import Foundation
import QKCore

/// Per-tensor type choices as text, in the spirit of llama-quantize's `--tensor-type-file`:
/// one `NAME=TYPE` line per tensor; `#` starts a comment (the written file puts each tensor's
/// bytes and estimated error there); blank lines are ignored.
public enum PlanFile {
    /// Parses `NAME=TYPE` lines into a type per tensor name.
    public static func parse(_ text: String, path: String? = nil) throws -> [String: GGMLType] {
        var types: [String: GGMLType] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = (raw.firstIndex(of: "#").map { raw[..<$0] } ?? raw[...]).trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let eq = line.lastIndex(of: "=") else {
                throw QuantKitError("line \(i + 1): expected NAME=TYPE, got '\(line)'", path: path)
            }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            let typeName = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard let type = GGMLType(name: typeName.uppercased()) ?? GGMLType(name: typeName) else {
                throw QuantKitError("line \(i + 1): unknown type '\(typeName)' for tensor '\(name)'", path: path)
            }
            guard types.updateValue(type, forKey: name) == nil else {
                throw QuantKitError("line \(i + 1): tensor '\(name)' is listed twice", path: path)
            }
        }
        return types
    }

    /// Reads a plan file.
    public static func read(path: String) throws -> [String: GGMLType] {
        guard let data = FileManager.default.contents(atPath: path) else { throw QuantKitError("cannot read plan file", path: path) }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Every tensor of `plan` as `NAME=TYPE`, with bytes and estimated error as comments.
    public static func format(_ plan: SizedPlan) -> String {
        var out = "# quant quantize plan: \(plan.fileBytes) bytes, estimated error \(String(format: "%.6g", plan.totalError))\n"
        for p in plan.plan {
            let err = plan.estimatedError[p.name] ?? 0
            out += "\(p.name)=\(p.outputType.name)  # \(p.outputBytes) bytes, error \(String(format: "%.4g", err))\n"
        }
        return out
    }
}
