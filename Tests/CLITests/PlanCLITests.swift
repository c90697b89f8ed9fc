import Foundation
import Testing

/// `quant plan` as a user runs it.
struct PlanCLITests {
    /// Gemma-3 at 4096 tokens with q8_0/q4_0 caches and 1 GB: the JSON carries llama.cpp's KV
    /// size (4.88 + 6.09 MiB reported by llama-perplexity) and a recommendation.
    @Test func jsonForARealModel() throws {
        let path = try CLI.model("gemma-3-270m-q4_k_m.gguf")
        let r = try CLI.run(["plan", path, "--ctx", "4096", "-ctk", "q8_0", "-ctv", "q4_0", "--memory", "1GB", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let obj = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let kv = try #require(obj["kv_cache"] as? [String: Any])
        #expect(abs(Double(kv["bytes"] as! Int) / 1_048_576 - (4.88 + 6.09)) < 0.011)
        let types = try #require(obj["types"] as? [[String: Any]])
        #expect(types.count >= 30)
        let rec = try #require(obj["recommendation"] as? [String: Any])
        #expect(rec["file_type"] as? String != nil)
        #expect((rec["max_context"] as? Int ?? 0) >= 4096)
    }

    @Test func standardSizesAndComparison() throws {
        let sizes = try CLI.run(["plan", "--sizes", "7b,8b"])
        #expect(sizes.status == 0, "\(sizes.stderr)")
        let text = String(decoding: sizes.stdout, as: UTF8.self)
        #expect(text.contains("Llama-2-7B") && text.contains("Llama-3.1-8B") && text.contains("published"))
        let cmp = try CLI.run(["plan", "--compare", "llama-2-7b,llama-2-70b", "--memory", "48GB", "--ctx", "2048"])
        #expect(cmp.status == 0, "\(cmp.stderr)")
        #expect(String(decoding: cmp.stdout, as: UTF8.self).contains("Llama-2-70B"))
    }

    @Test func badArgumentsFailCleanly() throws {
        let r = try CLI.run(["plan", "7b", "--memory", "eight gigs"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("invalid size"))
        let t = try CLI.run(["plan", "7b", "-ctk", "q4_k"])
        #expect(t.status != 0 && t.stderr.contains("cache type"))
        let m = try CLI.run(["plan", "no-such-model"])
        #expect(m.status != 0)
    }
}
