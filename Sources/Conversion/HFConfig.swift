import QKCore
import SafeTensors

/// A checkpoint's `config.json`, read the way llama.cpp's converter reads its hyper-parameters:
/// a multimodal file's `text_config` is lifted to the top level, and a value is looked up
/// under the first of several names that is present (`find_hparam`).
///
/// Every accessor that must succeed throws a `QuantKitError` naming the file and the key, so a
/// broken or foreign config is reported before anything is written.
public struct HFConfig: Sendable {
    /// Where the config was read from.
    public let path: String
    /// The members, `text_config`'s merged over the top level.
    let members: [String: HFJSON]

    /// Reads `config.json` at `path`.
    public init(path: String) throws {
        let json = try HFJSON.parse(file: path, what: "config")
        guard let top = json.objectMembers else { throw QuantKitError("config is not a JSON object", path: path) }
        var m: [String: HFJSON] = [:]
        for (k, v) in top { m[k] = v }
        if let text = m["text_config"]?.objectMembers {
            for (k, v) in text { m[k] = v }
        }
        self.path = path
        members = m
    }

    /// The raw value of `key` (nil when absent; JSON `null` counts as absent, as in Python's
    /// `dict.get` followed by an `is not None` test).
    public subscript(key: String) -> HFJSON? {
        guard let v = members[key], !v.isNull else { return nil }
        return v
    }

    /// The Hugging Face class named first in `architectures`.
    public func architectureClass() throws -> String {
        guard let list = self["architectures"]?.arrayValue, let first = list.first?.stringValue else {
            throw QuantKitError("config has no \"architectures\" list naming the model class", path: path)
        }
        return first
    }

    /// The integer under the first of `keys` present; nil when none is.
    public func optionalInt(_ keys: String...) throws -> Int? {
        for k in keys {
            guard let v = self[k] else { continue }
            guard v.isIntegerLiteral, let i = v.intValue else {
                throw QuantKitError("\"\(k)\" must be an integer, found \(v.kindDescription) \(Self.show(v))", path: path)
            }
            return i
        }
        return nil
    }

    /// The positive integer under the first of `keys` present, or an error naming them.
    public func int(_ keys: String...) throws -> Int {
        for k in keys where self[k] != nil {
            let v = try optionalInt(k)!
            guard v > 0 else { throw QuantKitError("\"\(k)\" must be positive, found \(v)", path: path) }
            return v
        }
        throw QuantKitError("missing \"\(keys[0])\"\(keys.count > 1 ? " (or \(keys.dropFirst().joined(separator: ", ")))" : "")", path: path)
    }

    /// The number under the first of `keys` present (integers read as numbers too).
    public func optionalDouble(_ keys: String...) throws -> Double? {
        for k in keys {
            guard let v = self[k] else { continue }
            guard let d = v.doubleValue else {
                throw QuantKitError("\"\(k)\" must be a number, found \(v.kindDescription) \(Self.show(v))", path: path)
            }
            return d
        }
        return nil
    }

    /// The boolean under `key`, if present.
    public func optionalBool(_ key: String) throws -> Bool? {
        guard let v = self[key] else { return nil }
        guard let b = v.boolValue else { throw QuantKitError("\"\(key)\" must be true or false, found \(v.kindDescription)", path: path) }
        return b
    }

    static func show(_ v: HFJSON) -> String {
        switch v {
        case .number(let s): return s
        case .string(let s): return "\"\(s.prefix(40))\""
        case .bool(let b): return "\(b)"
        default: return ""
        }
    }
}
