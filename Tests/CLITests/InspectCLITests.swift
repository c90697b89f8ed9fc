import Foundation
import Testing

/// `quant inspect` as a user runs it: agreement with gguf-py, and no crash on hostile files.
struct InspectCLITests {
    static let models = ["SmolLM2-135M-Instruct.Q4_1.gguf", "gemma-3-270m-q4_k_m.gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]

    /// Every metadata key (type and value) and every tensor (name, type, shape, offset) of
    /// `quant inspect --json` equals what the gguf Python package reads.
    @Test(arguments: models)
    func jsonAgreesWithGGUFPy(model: String) throws {
        let path = try CLI.model(model)
        let ours = try CLI.run(["inspect", "--json", path])
        #expect(ours.status == 0, "\(ours.stderr)")
        let py = try CLI.run([], shell: "python3 '\(CLI.packageRoot)/scripts/gguf_dump.py' dump '\(path)'")
        #expect(py.status == 0, "gguf_dump.py failed (pip install gguf): \(py.stderr.suffix(500))")
        let a = try #require(try JSONSerialization.jsonObject(with: ours.stdout) as? [String: Any])
        let b = try #require(try JSONSerialization.jsonObject(with: py.stdout) as? [String: Any])
        let ma = try #require(a["metadata"] as? [[String: Any]]), mb = try #require(b["metadata"] as? [[String: Any]])
        #expect(ma.count == mb.count)
        var differences: [String] = []
        for (x, y) in zip(ma, mb) {
            let key = x["key"] as? String ?? "?"
            if key != y["key"] as? String || x["type"] as? String != y["type"] as? String
                || x["element_type"] as? String != y["element_type"] as? String {
                differences.append("\(key): key/type \(x["type"] ?? "") vs \(y["key"] ?? "") \(y["type"] ?? "")")
            } else if !Self.same(x["value"], y["value"], float32: x["type"] as? String == "FLOAT32" || x["element_type"] as? String == "FLOAT32") {
                differences.append("\(key): values differ")
            }
        }
        #expect(differences.isEmpty, "\(differences.prefix(10))")
        let ta = try #require(a["tensors"] as? [[String: Any]]), tb = try #require(b["tensors"] as? [[String: Any]])
        #expect(ta.count == tb.count && ta.count > 100)
        for (x, y) in zip(ta, tb) {
            for k in ["name", "type", "shape", "offset", "bytes"] where !Self.same(x[k], y[k], float32: false) {
                Issue.record("tensor \(x["name"] ?? "?"): \(k) \(x[k] ?? "nil") vs gguf-py \(y[k] ?? "nil")")
            }
        }
    }

    static func same(_ a: Any?, _ b: Any?, float32: Bool) -> Bool {
        switch (a, b) {
        case let (x as [Any], y as [Any]):
            return x.count == y.count && zip(x, y).allSatisfy { same($0, $1, float32: float32) }
        case let (x as NSNumber, y as NSNumber) where float32:
            return Float(x.doubleValue).bitPattern == Float(y.doubleValue).bitPattern
        case let (x as NSObject, y as NSObject):
            return x.isEqual(y)
        case (nil, nil):
            return true
        default:
            return false
        }
    }

    @Test func humanSummaryNamesTheEssentials() throws {
        let r = try CLI.run(["inspect", try CLI.model(Self.models[0])])
        #expect(r.status == 0)
        let text = String(decoding: r.stdout, as: UTF8.self)
        for needle in ["architecture", "llama", "parameters", "bits per weight", "Q4_1", "Q8_0", "vocab 49152", "context length"] {
            #expect(text.contains(needle), "missing \(needle)")
        }
        #expect(text.count < 20_000, "vocabulary must be summarised, not dumped")
    }

    /// 1,000 mutated copies of a real header: `quant inspect` exits 0 or 1 with an error line,
    /// never by a signal.
    @Test func thousandMutatedFilesNeverKillInspect() throws {
        let src = try Data(contentsOf: URL(fileURLWithPath: try CLI.model(Self.models[0])), options: .alwaysMapped)
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The header plus some data: mutations land mostly in the parsed part.
        let head = [UInt8](src.prefix(2 << 20))
        var rng = SplitMix(seed: 0x5eed)
        var rejected = 0
        // Batches of files checked by one shell loop keep process start-up cheap.
        for batch in 0 ..< 10 {
            for i in 0 ..< 100 {
                var b = head
                switch rng.next() % 4 {
                case 0: for _ in 0 ... rng.next() % 8 { let k = Int(rng.next() % UInt64(min(b.count, 1 << 16))); b[k] ^= UInt8(1 << (rng.next() % 8)) }
                case 1: b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
                case 2:
                    let k = Int(rng.next() % UInt64(min(b.count - 8, 1 << 16)))
                    let v: UInt64 = [0, 1, UInt64.max, UInt64.max / 2, 1 << 32, 1 << 63][Int(rng.next() % 6)]
                    withUnsafeBytes(of: v.littleEndian) { for j in 0 ..< 8 { b[k + j] = $0[j] } }
                default: b[Int(rng.next() % 24)] = UInt8(truncatingIfNeeded: rng.next())
                }
                try Data(b).write(to: URL(fileURLWithPath: "\(dir)/m\(i).gguf"))
            }
            let r = try CLI.run([], shell: """
                for f in '\(dir)'/m*.gguf; do '\(CLI.binary)' inspect "$f" >/dev/null 2>"$f.err"; s=$?; \
                if [ $s -gt 1 ]; then echo "$f $s"; fi; if [ $s -eq 1 ]; then echo rejected; fi; done
                """)
            let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n")
            let bad = lines.filter { $0 != "rejected" }
            #expect(bad.isEmpty, "batch \(batch): killed or odd exit: \(bad.prefix(5))")
            rejected += lines.count - bad.count
        }
        #expect(rejected > 500, "most mutations should be rejected with an error (\(rejected))")
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
