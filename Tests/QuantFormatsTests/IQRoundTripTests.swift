import Foundation
import GGUF
import QKCore
@testable import QuantFormats
import Testing

/// Sanity of the i-quants beyond bit-exactness: dequantize(quantize(x)) stays close to x on the
/// golden inputs (with the importance matrix), and the grid search structures are well formed.
struct IQRoundTripTests {
    static let iqTypes: [GGMLType] = [.iq3_xxs, .iq3_s, .iq2_xxs, .iq2_xs, .iq2_s, .iq1_s, .iq1_m]

    /// Upper bounds on RMS(x̂ − x) / RMS(x) per input set: (all sets but `laplace_outliers`,
    /// `laplace_outliers`). About 1.2× what ggml's quantizers achieve on all 8 rows of each set.
    static let maxRelativeRMS: [GGMLType: (typical: Double, outliers: Double)] = [
        .iq3_s: (0.20, 0.35), .iq3_xxs: (0.27, 0.40),
        .iq2_s: (0.36, 0.66), .iq2_xs: (0.42, 0.70), .iq2_xxs: (0.48, 0.88),
        .iq1_m: (0.62, 0.70), .iq1_s: (0.66, 0.84),
    ]

    static func floats(_ f: GGUFFile, _ name: String) -> [Float] {
        Array(f.data(of: f.tensor(named: name)!).bindMemory(to: Float.self))
    }

    /// Quantizes `x` (rows × n) with importance `w` and dequantizes the result.
    static func roundTrip(_ type: GGMLType, _ x: [Float], rows: Int, n: Int, importance w: [Float]?) throws -> [Float] {
        var q = [UInt8](repeating: 0, count: type.rowSize(n) * rows)
        var y = [Float](repeating: .nan, count: n * rows)
        try x.withUnsafeBufferPointer { xs in
            try q.withUnsafeMutableBytes { qb in
                if let w {
                    try w.withUnsafeBufferPointer { wp in
                        try QuantCodec.quantize(type, src: xs.baseAddress!, dst: qb.baseAddress!, rows: rows, n: n, importance: wp.baseAddress)
                    }
                } else {
                    try QuantCodec.quantize(type, src: xs.baseAddress!, dst: qb.baseAddress!, rows: rows, n: n)
                }
                try y.withUnsafeMutableBufferPointer { ys in
                    try QuantCodec.dequantize(type, src: UnsafeRawPointer(qb.baseAddress!), dst: ys.baseAddress!, count: n * rows)
                }
            }
        }
        return y
    }

    static func relativeRMS(_ y: ArraySlice<Float>, _ x: ArraySlice<Float>) -> Double {
        var err2 = 0.0, sig2 = 0.0
        for (a, b) in zip(y, x) {
            err2 += (Double(a) - Double(b)) * (Double(a) - Double(b))
            sig2 += Double(b) * Double(b)
        }
        return (err2 / sig2).squareRoot()
    }

    @Test("dequantize(quantize(x)) is close to x", arguments: iqTypes)
    func roundTrip(type: GGMLType) throws {
        let dir = GoldenQuantTests.goldenDir
        let inputs = try GGUFFile(path: "\(dir)/inputs.gguf")
        let imatrix = try GGUFFile(path: "\(dir)/inputs.imatrix.gguf")
        let bound = Self.maxRelativeRMS[type]!
        for input in inputs.tensors {
            // The golden test already quantizes every row bit-exactly; here the first two rows
            // of each set suffice (debug builds are slow), but all of `edge` (one case per row).
            let n = input.rowLength, rows = input.name == "edge" ? input.rowCount : 2
            let x = Array(Self.floats(inputs, input.name)[0 ..< rows * n])
            let count = Self.floats(imatrix, "\(input.name).counts")[0]
            let w = Self.floats(imatrix, "\(input.name).in_sum2").map { $0 / count }
            let y = try Self.roundTrip(type, x, rows: rows, n: n, importance: w)
            #expect(y.allSatisfy { $0.isFinite }, "\(type) \(input.name): non-finite output")
            let rel = Self.relativeRMS(y[...], x[...])
            let limit = input.name == "laplace_outliers" ? bound.outliers : bound.typical
            #expect(rel < limit, "\(type) \(input.name): relative RMS error \(rel) ≥ \(limit)")
            // All-zero rows (the first `edge` row) must come back exactly zero.
            for r in 0 ..< rows where x[r * n ..< (r + 1) * n].allSatisfy({ $0 == 0 }) {
                #expect(y[r * n ..< (r + 1) * n].allSatisfy { $0 == 0 }, "\(type) \(input.name) row \(r): zeros not preserved")
            }
        }
    }

    @Test("more bits give smaller errors on Gaussian data")
    func errorOrdering() throws {
        let inputs = try GGUFFile(path: "\(GoldenQuantTests.goldenDir)/inputs.gguf")
        let t = inputs.tensor(named: "gauss")!
        let x = Array(Self.floats(inputs, "gauss")[0 ..< 2 * t.rowLength])
        let w = [Float](repeating: 1, count: t.rowLength)
        // Ascending bits per weight: 1.5625, 1.75, 2.0625, 2.3125, 2.5625, 3.0625, 3.4375.
        let order: [GGMLType] = [.iq1_s, .iq1_m, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s]
        let errors = try order.map { Self.relativeRMS(try Self.roundTrip($0, x, rows: 2, n: t.rowLength, importance: w)[...], x[0 ..< 2 * t.rowLength]) }
        for i in 1 ..< order.count {
            #expect(errors[i] < errors[i - 1], "\(order[i]) (\(errors[i])) is not better than \(order[i - 1]) (\(errors[i - 1]))")
        }
    }

    @Test("importance weights are required exactly where ggml requires them")
    func requiresImportance() {
        for type in Self.iqTypes {
            #expect(QuantCodec.requiresImportance(type) == [.iq2_xxs, .iq2_xs, .iq1_s].contains(type), "\(type)")
        }
        var x = [Float](repeating: 0.5, count: 256), q = [UInt8](repeating: 0, count: 256)
        #expect(throws: QuantKitError.self) {
            try QuantCodec.quantize(.iq2_xxs, src: &x, dst: &q, rows: 1, n: 256)
        }
    }

    /// ggml's construction, literally: sort all grid points by (distance, index) and keep those
    /// within the `nwant` smallest distinct distances.
    static func referenceNeighbours(_ g: IQGridIndex, _ u: Int, nwant: Int) -> [Int] {
        let bits = g.dims == 8 ? 2 : 3
        var d2j: [(Int, Int)] = []
        for j in 0 ..< g.gridSize {
            var d2 = 0
            for k in 0 ..< g.dims {
                let p = 2 * ((u >> (bits * k)) & ((1 << bits) - 1)) + 1
                let diff = Int(g.grid[j * g.dims + k]) - p
                d2 += diff * diff
            }
            d2j.append((d2, j))
        }
        d2j.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        var out: [Int] = [], d = d2j[0].0, nhave = 1
        for (dist, j) in d2j {
            if dist > d {
                if nhave == nwant { break }
                d = dist; nhave += 1
            }
            out.append(j)
        }
        return out
    }

    @Test("grid search tables match ggml's construction")
    func gridIndex() {
        let cases: [(IQGridIndex, Int, Int, Int)] = [  // index, nwant, map size, sampling stride
            (.iq2xxs, 2, 43692, 101), (.iq2xs, 2, 43692, 103), (.iq2s, 1, 43692, 107), (.iq1s, 3, 43692, 211),
            (.iq3xxs, 2, 4096, 3), (.iq3s, 3, 4096, 5),
        ]
        for (g, nwant, mapSize, stride) in cases {
            for j in 0 ..< g.gridSize {
                var u = 0
                for k in 0 ..< g.dims { u |= ((Int(g.grid[j * g.dims + k]) - 1) / 2) << ((g.dims == 8 ? 2 : 3) * k) }
                #expect(Int(g.map[u]) == j, "grid point \(j) of \(g.gridSize) does not map to itself")
            }
            for u in Swift.stride(from: 0, to: mapSize, by: stride) where g.map[u] < 0 {
                let list = g.neighbourList(u)
                let got = (0 ..< Int(list[0])).map { Int(list[1 + $0]) }
                let want = Self.referenceNeighbours(g, u, nwant: nwant)
                if got != want {
                    Issue.record("grid of \(g.gridSize): neighbours of \(u) are \(got), ggml has \(want)")
                    break
                }
            }
        }
    }
}
