@testable import QuantFormats
import Testing

/// The lane-parallel scale search gives exactly the scalar reference's levels and scale.
struct KQuantSearchTests {
    @Test(arguments: [4, 8, 16, 32])
    func parallelSearchEqualsReference(nmax: Int) {
        var rng = SystemRandomNumberGenerator()
        for trial in 0 ..< 3000 {
            let n = trial % 2 == 0 ? 16 : 32
            let spread = Float.random(in: 1e-3 ... 10, using: &rng)
            var x = (0 ..< n).map { _ in Float.random(in: -1 ... 1, using: &rng) * spread }
            if trial % 7 == 0 { x[trial % n] *= 20 }                 // an outlier
            if trial % 11 == 0 { for i in 0 ..< n where i % 3 == 0 { x[i] = 0 } }
            let w = (0 ..< n).map { _ in Float.random(in: 0 ... 5, using: &rng) }
            var l1 = [Int8](repeating: 0, count: n), l2 = l1
            let s1 = KQuantHelpers.makeQxQuants(n, nmax, x, &l1, weights: w)
            let s2 = KQuantHelpers.makeQxQuantsReference(n, nmax, x, &l2, weights: w)
            #expect(s1.bitPattern == s2.bitPattern && l1 == l2, "trial \(trial): \(s1) vs \(s2)")
            if s1.bitPattern != s2.bitPattern || l1 != l2 { return }
        }
    }
}
