import Planning
import Quantization
import Testing

/// The quality tables hold recorded measurements only.
@Suite struct QualityTableTests {
    /// QuantKit's rows equal what llama-perplexity printed (the fixture's "quality" section).
    @Test func measuredRowsMatchTheRecordedRuns() throws {
        let keys = ["smollm2": "llama", "gemma3": "gemma3", "qwen25": "qwen2"]
        var compared = 0
        for name in Fixtures.names {
            let shape = try Fixtures.shape(name)
            #expect(shape.architecture == keys[name])
            let runs = try #require(Fixtures.section("quality")[name] as? [String: [String: Double]])
            for (type, run) in runs {
                let t = try FileType.choice(named: type).fileType
                let e = try #require(QualityTable.measured(t, model: shape), "\(name) \(type) missing from QualityTable")
                #expect(e.meanKLD == run["mean_kld"] && e.pplRatio == run["ppl_ratio"] && e.sameTopPercent == run["same_top_p"],
                        "\(name) \(type)")
                compared += 1
            }
        }
        #expect(compared >= 21)
    }

    /// The ranking follows the published KLD, and every ranked type has its source.
    @Test func rankingAndSources() {
        let order = QualityTable.qualityOrder
        #expect(order.first == .f16 && order.contains(.q4_K_M) && order.last == .iq1_S)
        let kld = order.compactMap { QualityTable.reference($0)?.meanKLD }
        #expect(kld.count == order.count && kld == kld.sorted())
        #expect(QualityTable.entries.allSatisfy { !$0.source.isEmpty })
    }
}
