import Foundation
import Testing

/// `quant perplexity`, `generate` and `bench` as a user runs them: results, exit codes, errors.
@Suite struct EngineCLITests {
    var smol: String { get throws { try CLI.model("SmolLM2-135M-Instruct.Q4_1.gguf") } }
    var text: String { get throws { try CLI.model("text/eng/history.txt") } }

    @Test func perplexityJSON() throws {
        let r = try CLI.run(["perplexity", "-m", smol, "-f", text, "-c", "128", "--chunks", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
        let ppl = try #require(j["perplexity"] as? Double)
        #expect(ppl > 5 && ppl < 100)
        #expect(j["chunks"] as? Int == 2 && j["scoredTokens"] as? Int == 126)
    }

    @Test func generateGreedy() throws {
        let r = try CLI.run(["generate", "-m", smol, "-p", "The capital of France is", "-n", "8", "--temp", "0"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = String(decoding: r.stdout, as: UTF8.self)
        #expect(out.hasPrefix("The capital of France is") && out.contains("Paris"))
        #expect(r.stderr.contains("tokens/s"))
    }

    @Test func benchJSON() throws {
        let r = try CLI.run(["bench", "-m", smol, "-p", "32", "-n", "4", "-r", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONSerialization.jsonObject(with: r.stdout) as! [[String: Any]]
        #expect(j.map { $0["test"] as? String } == ["pp32", "tg4"])
        #expect(j.allSatisfy { ($0["mean"] as? Double ?? 0) > 0 })
    }

    @Test func clearErrors() throws {
        let dir = NSTemporaryDirectory() + "qk-engine-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("Far too short.".utf8).write(to: URL(fileURLWithPath: "\(dir)/short.txt"))
        let short = try CLI.run(["perplexity", "-m", smol, "-f", "\(dir)/short.txt", "-c", "128"])
        #expect(short.status == 1 && short.stderr.contains("needs at least 256"))
        let ctx = try CLI.run(["perplexity", "-m", smol, "-f", text, "-c", "100000"])
        #expect(ctx.status == 1 && ctx.stderr.contains("trained context of 8192"))
        let missing = try CLI.run(["generate", "-m", "\(dir)/nope.gguf", "-p", "hi"])
        #expect(missing.status == 1 && missing.stderr.contains("nope.gguf"))
        // A file without a vocabulary: the embedding-only MiniLM is not a GGUF; use a quantizer golden file.
        let golden = URL(fileURLWithPath: CLI.packageRoot).deletingLastPathComponent().appendingPathComponent("shared/golden/quant/inputs.gguf").path
        let noArch = try CLI.run(["perplexity", "-m", golden, "-f", text])
        #expect(noArch.status == 1 && noArch.stderr.contains("inputs.gguf"))
        #expect(!noArch.stderr.contains("Fatal error"))
    }
}
