import Foundation
import GGUF
import QKCore
import Testing

/// Where the tests find their inputs, and helpers shared by the GGUF tests.
enum Fixtures {
    /// The package root (three levels above this file).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0 ..< 3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The real models directory: $QUANTKIT_MODELS, else `<package root>/models`.
    static let modelsDir = ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(root)/models"

    /// The three real GGUF models the suite runs on.
    static let modelNames = [
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "gemma-3-270m-q4_k_m.gguf",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ]

    /// The path of a real model; a missing model fails the test (never a silent skip).
    static func model(_ name: String) throws -> String {
        let p = "\(modelsDir)/\(name)"
        guard FileManager.default.fileExists(atPath: p) else {
            throw Missing(description: "real model \(p) is missing: run scripts/fetch-models.sh (CI installs the models), or set QUANTKIT_MODELS")
        }
        return p
    }

    /// A missing input: fails the test with this message (never a silent skip).
    struct Missing: Error, CustomStringConvertible { var description: String }

    nonisolated(unsafe) private static var opened: [String: GGUFFile] = [:]
    private static let openLock = NSLock()

    /// A real model, parsed once and shared by every test (parsing a 262,144-token vocabulary
    /// in a debug build is not free).
    static func open(_ name: String) throws -> GGUFFile {
        let path = try model(name)
        openLock.lock()
        defer { openLock.unlock() }
        if let f = opened[path] { return f }
        let f = try GGUFFile(path: path)
        opened[path] = f
        return f
    }

    /// Small real GGUFs written by llama.cpp/gguf-py, from the shared reference data
    /// (`<root>/../shared`), when present.
    static let sharedDir = "\(root)/../shared"
    static var sharedFiles: [String] {
        let dirs = ["golden/quant", "golden/quant/expected", "reference/tokenizer"]
        return dirs.flatMap { d -> [String] in
            let full = "\(sharedDir)/\(d)"
            let names = (try? FileManager.default.contentsOfDirectory(atPath: full)) ?? []
            return names.filter { $0.hasSuffix(".gguf") }.sorted().map { "\(full)/\($0)" }
        }
    }

    /// A fresh temporary directory, removed when `body` returns.
    static func withTempDir<T>(_ body: (String) throws -> T) throws -> T {
        let dir = NSTemporaryDirectory() + "gguf-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try body(dir)
    }

    /// Runs `scripts/gguf_dump.py MODE FILE` (gguf-py) and returns its parsed JSON output.
    static func gguf_py(_ mode: String, _ file: String, stdin: Data? = nil) throws -> Any {
        try withTempDir { dir in
            let (inPath, outPath, errPath) = ("\(dir)/in", "\(dir)/out", "\(dir)/err")
            for p in [inPath, outPath, errPath] { FileManager.default.createFile(atPath: p, contents: nil) }
            if let stdin { try stdin.write(to: URL(fileURLWithPath: inPath)) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "\(root)/scripts/gguf_dump.py", mode, file]
            p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                let msg = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
                throw Missing(description: "gguf_dump.py \(mode) \(file) failed (needs python3 with `pip install gguf`): \(msg.suffix(2000))")
            }
            return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outPath)))
        }
    }

    /// True when two files have identical bytes.
    static func sameBytes(_ a: String, _ b: String) throws -> Bool {
        let fa = try MappedFile(path: a), fb = try MappedFile(path: b)
        guard fa.count == fb.count else { return false }
        guard let pa = fa.base, let pb = fb.base else { return true }
        return withExtendedLifetime((fa, fb)) { memcmp(pa, pb, fa.count) == 0 }
    }

    /// The offset of the first differing byte, for messages.
    static func firstDifference(_ a: String, _ b: String) throws -> Int? {
        let fa = try MappedFile(path: a), fb = try MappedFile(path: b)
        defer { withExtendedLifetime((fa, fb)) {} }
        let n = min(fa.count, fb.count)
        let x = try fa.bytes(at: 0, count: n), y = try fb.bytes(at: 0, count: n)
        var lo = 0
        var chunk = 1 << 20
        while lo < n {
            let len = min(chunk, n - lo)
            if memcmp(x.baseAddress! + lo, y.baseAddress! + lo, len) != 0 {
                if len == 1 { return lo }
                chunk = max(1, len / 2)
                continue
            }
            lo += len
        }
        return fa.count == fb.count ? nil : n
    }
}

/// Compares a parsed JSON summary (ours, or gguf_dump.py's reading by gguf-py) with what our
/// reader holds, entry by entry, and returns every disagreement.
enum Agreement {
    static func compare(_ file: GGUFFile, _ json: Any, label: String) -> [String] {
        var problems: [String] = []
        func note(_ s: String) { if problems.count < 50 { problems.append("\(label): \(s)") } }
        guard let top = json as? [String: Any] else { return ["\(label): not a JSON object"] }
        if (top["version"] as? NSNumber)?.intValue != Int(file.version) { note("version \(top["version"] ?? "nil") vs \(file.version)") }
        if (top["alignment"] as? NSNumber)?.intValue != file.alignment { note("alignment \(top["alignment"] ?? "nil") vs \(file.alignment)") }
        if (top["data_offset"] as? NSNumber)?.intValue != file.dataOffset { note("data_offset \(top["data_offset"] ?? "nil") vs \(file.dataOffset)") }
        let md = top["metadata"] as? [[String: Any]] ?? []
        if md.count != file.metadata.count { note("\(md.count) metadata entries vs \(file.metadata.count)") }
        for (e, ours) in zip(md, file.metadata) {
            let key = e["key"] as? String ?? "?"
            guard key == ours.key else { note("key '\(key)' where we have '\(ours.key)'"); continue }
            guard e["type"] as? String == ours.value.type.name else {
                note("'\(key)': type \(e["type"] ?? "nil") vs \(ours.value.type.name)"); continue
            }
            if case .array(let a) = ours.value, e["element_type"] as? String != a.elementType.name {
                note("'\(key)': element type \(e["element_type"] ?? "nil") vs \(a.elementType.name)"); continue
            }
            if let why = mismatch(ours.value, e["value"] as Any) { note("'\(key)': \(why)") }
        }
        let ts = top["tensors"] as? [[String: Any]] ?? []
        if ts.count != file.tensors.count { note("\(ts.count) tensors vs \(file.tensors.count)") }
        for (t, ours) in zip(ts, file.tensors) {
            let name = t["name"] as? String ?? "?"
            let shape = (t["shape"] as? [NSNumber])?.map(\.intValue)
            if name != ours.name || t["type"] as? String != ours.type.name || shape != ours.shape
                || (t["offset"] as? NSNumber)?.intValue != ours.offset || (t["bytes"] as? NSNumber)?.intValue != ours.byteCount {
                note("tensor \(t) vs ours \(ours.name) \(ours.type.name) \(ours.shape) offset \(ours.offset) bytes \(ours.byteCount)")
            }
        }
        return problems
    }

    /// Why a JSON value differs from ours (nil if it agrees exactly).
    static func mismatch(_ v: GGUFValue, _ j: Any) -> String? {
        switch v {
        case .string(let s): return (j as? String) == s ? nil : "\(j) vs \"\(s)\""
        case .bool(let b): return (j as? NSNumber).map { isBool($0) && $0.boolValue == b } == true ? nil : "\(j) vs \(b)"
        case .float32(let f): return floatAgrees(j, f.isNaN ? nil : f.isInfinite ? nil : Double(f), f.isNaN, f < 0) { Float($0).bitPattern == f.bitPattern } ? nil : "\(j) vs \(f)"
        case .float64(let d): return floatAgrees(j, d.isFinite ? d : nil, d.isNaN, d < 0) { $0.bitPattern == d.bitPattern } ? nil : "\(j) vs \(d)"
        case .array(let a):
            if case .string(let s) = a {
                guard let js = j as? [String] else { return "not a string array" }
                return js == s ? nil : "string arrays differ (\(js.count) vs \(s.count) elements)"
            }
            guard let items = j as? [Any], items.count == a.count else { return "array of \((j as? [Any])?.count ?? -1) vs \(a.count) elements" }
            if case .array(let inner) = a {
                for (k, (x, y)) in zip(inner, items).enumerated() {
                    guard let o = y as? [String: Any], o["element_type"] as? String == x.elementType.name else { return "element \(k): bad nested array" }
                    if let why = mismatch(.array(x), o["value"] as Any) { return "element \(k): \(why)" }
                }
                return nil
            }
            // Fast paths for the big arrays (scores, token types).
            if case .float32(let fs) = a {
                for k in 0 ..< fs.count {
                    let f = fs[k], y = items[k]
                    if f.isFinite, let n = y as? NSNumber, Float(n.doubleValue).bitPattern == f.bitPattern { continue }
                    if let why = mismatch(.float32(f), y) { return "element \(k): \(why)" }
                }
                return nil
            }
            if case .int32(let xs) = a {
                for k in 0 ..< xs.count {
                    if let n = items[k] as? NSNumber, !isBool(n), n.objCType[0] != 100 /* "d" */, n.int64Value == Int64(xs[k]) { continue }
                    return "element \(k): \(items[k]) vs \(xs[k])"
                }
                return nil
            }
            for k in 0 ..< a.count {
                if let why = mismatch(a[k], items[k]) { return "element \(k): \(why)" }
            }
            return nil
        default:
            // Every integer type: compare the exact decimal text (u64 and i64 extremes included).
            let text: String
            switch v {
            case .uint64(let u): text = String(u)
            case .int64(let i): text = String(i)
            default: text = String(v.int!)
            }
            guard let n = j as? NSNumber, !isBool(n), String(cString: n.objCType) != "d" || n is NSDecimalNumber else { return "\(j) vs \(text)" }
            return n.stringValue == text ? nil : "\(j) vs \(text)"
        }
    }

    /// JSONSerialization's class for true/false (NSNumber subclasses; 1 is not one of them).
    static let boolClass: ObjectIdentifier = {
        let parsed = try! JSONSerialization.jsonObject(with: Data("[true]".utf8)) as! [NSNumber]
        return ObjectIdentifier(type(of: parsed[0]))
    }()

    static func isBool(_ n: NSNumber) -> Bool { ObjectIdentifier(type(of: n)) == boolClass }

    /// A float agrees when finite and equal (as judged by `same`), or both are the same
    /// non-finite string.
    static func floatAgrees(_ j: Any, _ finite: Double?, _ nan: Bool, _ negative: Bool, same: (Double) -> Bool) -> Bool {
        if let s = j as? String { return finite == nil && s == (nan ? "nan" : negative ? "-inf" : "inf") }
        guard let n = j as? NSNumber, !isBool(n), finite != nil else { return false }
        return same(n.doubleValue)
    }
}
