@testable import QuantFormats
import Testing

/// The vectorized nearest-codebook search (used by release builds, so covered by the golden
/// test there) against ggml's scalar `best_index_int8` port (used by debug builds).
struct IQ4Tests {
    /// Values where the two could part ways: every entry, every midpoint, their float
    /// neighbours, beyond both ends, zeros, infinities and NaN.
    static var boundaryValues: [Float] {
        let v = IQ4_NL.kvaluesF
        var xs: [Float] = [0, -0, .infinity, -.infinity, .nan, -.nan, 1e30, -1e30, .leastNonzeroMagnitude,
                           -.leastNonzeroMagnitude, 200, -200, 113.5, -127.5]
        for k in 0 ..< 16 {
            xs += [v[k], v[k].nextUp, v[k].nextDown]
            if k < 15 {
                let m = (v[k] + v[k + 1]) / 2
                xs += [m, m.nextUp, m.nextDown, m.nextUp.nextUp, m.nextDown.nextDown]
            }
        }
        return xs
    }

    @Test("bestIndicesSIMD picks the same entries as best_index_int8")
    func simdMatchesScalar() {
        var rng = SystemRandomNumberGenerator()
        var xs = Self.boundaryValues
        for _ in 0 ..< 2000 { xs.append(Float.random(in: -160 ... 160, using: &rng)) }
        while xs.count % 32 != 0 { xs.append(0) }
        let scales: [Float] = [1, -1, 0, 0.37, -2.5, Float.random(in: -3 ... 3, using: &rng), .infinity]
        IQ4_NL.kvaluesF.withUnsafeBufferPointer { v in
            xs.withUnsafeBufferPointer { x in
                var out = [UInt8](repeating: 0xff, count: 32)
                for s in scales {
                    for g in stride(from: 0, to: x.count, by: 32) {
                        IQ4_NL.bestIndicesSIMD(v.baseAddress!, s, x.baseAddress! + g, &out)
                        for j in 0 ..< 32 {
                            let want = IQ4_NL.bestIndex(v.baseAddress!, s * x[g + j])
                            #expect(Int(out[j]) == want, "s = \(s), x = \(x[g + j]): \(out[j]) vs \(want)")
                        }
                    }
                }
            }
        }
    }
}
