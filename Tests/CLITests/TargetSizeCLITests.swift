import Foundation
import Testing

/// `quant quantize --target-size`: the file fits, the plan replays, and an impossible target
/// fails with the smallest reachable size named.
struct TargetSizeCLITests {
    static let quick = ["--candidate-types", "Q4_0,Q5_0,Q8_0,Q4_K,Q6_K"]

    @Test func fitsTargetAndReplaysPlan() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try CLI.derivedF32("smollm2")
        let r = try CLI.run(["quantize", model, "\(dir)/a.gguf", "--target-size", "95MB", "--plan-out", "\(dir)/plan.txt",
                             "--quiet"] + Self.quick)
        #expect(r.status == 0, "\(r.stderr)")
        let size = try FileManager.default.attributesOfItem(atPath: "\(dir)/a.gguf")[.size] as! Int
        #expect(size <= 95_000_000)
        #expect(String(decoding: r.stdout, as: UTF8.self).contains("file size: \(size) bytes"))
        let b = try CLI.run(["quantize", model, "\(dir)/b.gguf", "--plan-in", "\(dir)/plan.txt", "--quiet"])
        #expect(b.status == 0, "\(b.stderr)")
        #expect(FileManager.default.contents(atPath: "\(dir)/a.gguf") == FileManager.default.contents(atPath: "\(dir)/b.gguf"))
        // --dry-run writes nothing.
        let d = try CLI.run(["quantize", model, "\(dir)/c.gguf", "--target-bpw", "5", "--dry-run", "--quiet"] + Self.quick)
        #expect(d.status == 0, "\(d.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/c.gguf"))
    }

    /// The measurements cache holds the raw measurements: a second run that reads it (and the
    /// cached sensitivity factors) chooses exactly what the first chose. (It once held the
    /// factor-weighted errors, so a rerun applied the factors twice.)
    @Test func cachedMeasurementsReplayTheSamePlan() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try CLI.derivedF32("smollm2")
        let args = ["quantize", model, "\(dir)/o.gguf", "--target-size", "88MB", "--dry-run", "--measurements", "\(dir)/m.json",
                    "--sensitivity-text", "\(CLI.models)/text/eng/history.txt", "--verify-plans", "1", "--candidate-types", "Q4_0,Q8_0,Q4_K,Q6_K"]
        let first = try CLI.run(args)
        #expect(first.status == 0, "\(first.stderr)")
        let factors = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/m.json.factors.json"))) as! [String: Double]
        #expect(factors.keys.contains { $0.hasPrefix("ffn_down.weight@") } && factors["(all at base type)"]! > 0)
        let second = try CLI.run(args)
        #expect(second.status == 0, "\(second.stderr)")
        func summary(_ out: Data) -> [String] {
            String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
                .filter { $0.hasPrefix("blk.") || $0.hasPrefix("file size") }
                .map { $0.replacingOccurrences(of: #", measured in [0-9.]+ s"#, with: "", options: .regularExpression) }
        }
        #expect(summary(first.stdout).count > 100)
        #expect(summary(first.stdout) == summary(second.stdout))
    }

    @Test func tooSmallTargetNamesTheMinimum() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["quantize", try CLI.derivedF32("smollm2"), "\(dir)/o.gguf", "--target-size", "10MiB", "--quiet"] + Self.quick)
        #expect(r.status != 0)
        #expect(r.stderr.contains("too small") && r.stderr.contains("smallest file"), "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func typeAndTargetTogetherIsRefused() throws {
        let r = try CLI.run(["quantize", try CLI.derivedF32("smollm2"), "/tmp/never.gguf", "Q4_K_M", "--target-size", "90MB"])
        #expect(r.status != 0 && r.stderr.contains("not both"), "\(r.stderr)")
    }
}
