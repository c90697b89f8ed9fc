import Calibration
import Foundation
import Quantization
import Testing

/// `--show-statistics` figures against llama-imatrix's own `--show-statistics` output for the
/// same file (Tests/CalibrationTests/Fixtures/llama-smollm2-F32.statistics.txt).
@Suite struct ImatrixStatisticsTests {
    @Test func matchesLlamaImatrixStatistics() throws {
        let stats = ImatrixStatistics(try ImatrixData(path: Fixtures.llamaImatrix("smollm2", "F32")))
        let text = try String(contentsOfFile: "\(Fixtures.dir)/llama-smollm2-F32.statistics.txt", encoding: .utf8)
        let byKey = Dictionary(uniqueKeysWithValues: stats.tensors.map { ("\($0.layer) \($0.kind)", $0) })
        var checked = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "%", with: "") }
            guard f.count == 13, let layer = Int(f[0]), let t = byKey["\(layer) \(f[1])"] else { continue }
            let v = f[2...].map { Double($0)! }
            // Printed with 2–4 decimals: agree to the last printed digit (float vs double sums).
            func close(_ ours: Double, _ theirs: Double, _ decimals: Int, _ what: String) {
                let tol = 0.6 * pow(10, Double(-decimals)) + 1e-4 * abs(theirs)
                #expect(abs(ours - theirs) <= tol, "\(t.name) \(what): \(ours) vs \(theirs)")
            }
            close(t.sum, v[0], 2, "Σ"); close(t.min, v[1], 4, "min"); close(t.max, v[2], 4, "max")
            close(t.mean, v[3], 2, "mean"); close(t.stddev, v[4], 2, "σ"); close(100 * t.active, v[5], 2, "active")
            #expect(t.columns == Int(v[6]))
            close(t.entropy, v[7], 4, "entropy"); close(100 * t.entropyNormalized, v[8], 2, "E(norm)")
            close(100 * t.zScoreShare, v[9], 2, "ZD"); close(t.cosineToPreviousLayer ?? 0, v[10], 4, "cos")
            checked += 1
        }
        #expect(checked == 210)
        #expect(stats.layers.count == 30)
        // Our extra figure: the top 1% of columns' share is at least 1% and at most all of it.
        #expect(stats.tensors.allSatisfy { $0.top1PercentShare >= 0.0099 && $0.top1PercentShare <= 1 })
    }
}
