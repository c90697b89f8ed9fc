import Foundation
import GGUF
import QKCore
import QuantFormats
import Testing

/// Sanity of each codec independent of ggml: dequantize(quantize(x)) must stay close to x, with
/// an error that shrinks as bits grow. Run on the golden inputs (real weights and synthetic
/// distributions; the `edge` set only has to come back finite).
struct RoundTripTests {
    /// Largest allowed RMS(error)/RMS(x) per type, on every non-edge input set, with and without
    /// importance weights: about 1.25× the worst set today (in parentheses; Gaussian after it).
    static let bounds: [GGMLType: Float] = [
        .q8_0: 0.013,   // (0.0106; gauss 0.0054)
        .q6_K: 0.038,   // (0.0301; 0.018)
        .q5_K: 0.062,   // (0.0498; 0.036)
        .q5_1: 0.062,   // (0.0493; 0.038)
        .q5_0: 0.087,   // (0.0699; 0.043)
        .q4_K: 0.114,   // (0.0913; 0.072)
        .q4_1: 0.144,   // (0.1149; 0.079)
        .q4_0: 0.140,   // (0.1124; 0.087)
        .iq4_nl: 0.124, // (0.0990; 0.077)
        .iq4_xs: 0.125, // (0.0999; 0.078)
        .mxfp4: 0.180,  // (0.1442; 0.114)
        .q3_K: 0.214,   // (0.1709; 0.152)
        .q2_K: 0.400,   // (0.3230; 0.298)
        .tq2_0: 0.950,  // (0.8453; 0.814) ternary: not meant for non-ternary weights
        .tq1_0: 0.950,
    ]

    /// Each line must be strictly increasing in accuracy (decreasing error) on Gaussian input.
    static let orderings: [[GGMLType]] = [
        [.tq2_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_0],
        [.q4_0, .q5_0, .q8_0],
        [.q4_1, .q5_1, .q8_0],
        [.mxfp4, .iq4_nl, .q5_0],
    ]

    static let goldenDir = GoldenQuantTests.goldenDir

    struct Inputs {
        var sets: [(name: String, x: [Float], n: Int, rows: Int, weights: [Float])] = []
    }

    static func loadInputs() throws -> Inputs {
        let inputs = try GGUFFile(path: "\(goldenDir)/inputs.gguf")
        let imatrix = try GGUFFile(path: "\(goldenDir)/inputs.imatrix.gguf")
        var r = Inputs()
        for t in inputs.tensors {
            let sum2 = GoldenQuantTests.floats(imatrix, imatrix.tensor(named: "\(t.name).in_sum2")!)
            let count = GoldenQuantTests.floats(imatrix, imatrix.tensor(named: "\(t.name).counts")!)[0]
            r.sets.append((t.name, GoldenQuantTests.floats(inputs, t), t.rowLength, t.rowCount, sum2.map { $0 / count }))
        }
        return r
    }

    /// RMS(dequantize(quantize(x)) − x) / RMS(x).
    static func relativeError(_ type: GGMLType, _ x: [Float], n: Int, rows: Int, weights: [Float]?) throws -> (Float, Bool) {
        var q = [UInt8](repeating: 0, count: type.rowSize(n) * rows)
        var y = [Float](repeating: .nan, count: x.count)
        try x.withUnsafeBufferPointer { xs in
            try q.withUnsafeMutableBytes { qb in
                if let weights {
                    try weights.withUnsafeBufferPointer { w in
                        try QuantCodec.quantize(type, src: xs.baseAddress!, dst: qb.baseAddress!, rows: rows, n: n, importance: w.baseAddress)
                    }
                } else {
                    try QuantCodec.quantize(type, src: xs.baseAddress!, dst: qb.baseAddress!, rows: rows, n: n)
                }
            }
        }
        try q.withUnsafeBytes { qb in
            try y.withUnsafeMutableBufferPointer { yb in
                try QuantCodec.dequantize(type, src: qb.baseAddress!, dst: yb.baseAddress!, count: x.count)
            }
        }
        var e2: Double = 0, x2: Double = 0
        for i in 0 ..< x.count {
            let d = Double(y[i]) - Double(x[i])
            e2 += d * d
            x2 += Double(x[i]) * Double(x[i])
        }
        return (Float((e2 / max(x2, .leastNonzeroMagnitude)).squareRoot()), y.allSatisfy(\.isFinite))
    }

    @Test("dequantize(quantize(x)) is close to x", arguments: Array(bounds.keys).sorted { $0.rawValue < $1.rawValue })
    func roundTrip(type: GGMLType) throws {
        guard QuantCodec.codec(type) != nil else { return }
        let bound = Self.bounds[type]!
        let inputs = try Self.loadInputs()
        for set in inputs.sets {
            for w in [nil, set.weights] {
                let (err, finite) = try Self.relativeError(type, set.x, n: set.n, rows: set.rows, weights: w)
                #expect(finite, "\(type.name) \(set.name): non-finite output")
                if set.name.contains("edge") { continue }
                #expect(err <= bound, "\(type.name) \(set.name)\(w == nil ? "" : ".imat"): relative RMS error \(err) > \(bound)")
            }
        }
    }

    @Test("more bits give smaller errors")
    func errorDecreasesWithBits() throws {
        let inputs = try Self.loadInputs()
        guard let g = inputs.sets.first(where: { $0.name.lowercased().contains("gauss") }) else {
            Issue.record("no Gaussian input set")
            return
        }
        for line in Self.orderings where line.allSatisfy({ QuantCodec.codec($0) != nil }) {
            let errs = try line.map { try Self.relativeError($0, g.x, n: g.n, rows: g.rows, weights: nil).0 }
            for k in 1 ..< line.count {
                #expect(errs[k] < errs[k - 1], "\(line[k].name) (\(errs[k])) is not better than \(line[k - 1].name) (\(errs[k - 1]))")
            }
        }
    }

    @Test("TQ1_0 and TQ2_0 store the same trits")
    func ternaryTypesAgree() throws {
        guard QuantCodec.codec(.tq1_0) != nil, QuantCodec.codec(.tq2_0) != nil else { return }
        let inputs = try Self.loadInputs()
        for set in inputs.sets {
            var outs: [[Float]] = []
            for type in [GGMLType.tq1_0, .tq2_0] {
                var q = [UInt8](repeating: 0, count: type.rowSize(set.n) * set.rows)
                var y = [Float](repeating: .nan, count: set.x.count)
                try set.x.withUnsafeBufferPointer { xs in
                    try q.withUnsafeMutableBytes { qb in
                        try QuantCodec.quantize(type, src: xs.baseAddress!, dst: qb.baseAddress!, rows: set.rows, n: set.n)
                    }
                }
                try q.withUnsafeBytes { qb in
                    try y.withUnsafeMutableBufferPointer { yb in
                        try QuantCodec.dequantize(type, src: qb.baseAddress!, dst: yb.baseAddress!, count: set.x.count)
                    }
                }
                outs.append(y)
            }
            let differing = zip(outs[0], outs[1]).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            #expect(differing == 0, "\(set.name): TQ1_0 and TQ2_0 disagree on \(differing) values")
        }
    }
}
