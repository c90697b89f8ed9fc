@testable import QuantFormats
import Testing

/// The lane-parallel sub-block scale search gives exactly the reference's levels, min and scale
/// for every parameter set ggml calls it with, on ordinary and degenerate sub-blocks.
struct KQuantFastTests {
    /// (n, nmax, rmin, rdelta, nstep, useMad) as Q4_K, Q5_K, Q2_K and the weighted paths call it.
    static let calls: [(Int, Int, Float, Float, Int, Bool)] = [
        (32, 15, -1, 0.1, 20, false), (32, 31, -0.5, 0.1, 15, false), (16, 3, -0.5, 0.1, 15, true),
        (32, 15, -0.9, 0.05, 36, false), (32, 31, -0.9, 0.05, 36, false), (16, 3, -0.9, 0.05, 36, false),
        (32, 15, -1, 0.1, 0, false),
    ]

    static func subBlock(_ n: Int, _ kind: Int, _ rng: inout SystemRandomNumberGenerator) -> (x: [Float], w: [Float]) {
        var x = (0 ..< n).map { _ in Float.random(in: -1 ... 1, using: &rng) * Float.random(in: 1e-3 ... 10, using: &rng) }
        var w = x.map { abs($0) + Float.random(in: 0 ... 1, using: &rng) }
        switch kind % 10 {
        case 0: x[Int.random(in: 0 ..< n, using: &rng)] = .nan
        case 1: x[Int.random(in: 0 ..< n, using: &rng)] = [Float.infinity, -.infinity][kind % 2]
        case 2: x = x.map { abs($0) }                                    // min above zero
        case 3: x = Array(repeating: x[0], count: n)                     // constant
        case 4: x = x.map { $0 * 1e30 }                                  // huge
        case 5: x = x.map { $0 * 1e-30 }                                 // tiny
        case 6: w = w.map { _ in Float.random(in: 0 ... 1, using: &rng) < 0.7 ? 0 : 1 } // mostly zero weights
        case 7: w[Int.random(in: 0 ..< n, using: &rng)] = .nan
        case 8: x = x.map { ($0 * 4).rounded() / 4 }                     // on a grid: many exact ties
        default: break
        }
        return (x, w)
    }

    @Test func fastEqualsReference() {
        var rng = SystemRandomNumberGenerator()
        for (n, nmax, rmin, rdelta, nstep, mad) in Self.calls {
            for trial in 0 ..< 3000 {
                let (x, w) = Self.subBlock(n, trial, &rng)
                var la = [UInt8](repeating: 0, count: n), lb = la, aux = la
                var minA: Float = 0, minB: Float = 0
                let sa = KQuantFast.makeQkx2Quants(n, nmax, x, w, &la, &minA, &aux, rmin, rdelta, nstep, mad)
                let sb = KQuantHelpers.makeQkx2Quants(n, nmax, x, w, &lb, &minB, &aux, rmin, rdelta, nstep, mad)
                if la != lb || sa.bitPattern != sb.bitPattern || minA.bitPattern != minB.bitPattern {
                    Issue.record("n \(n) nmax \(nmax) nstep \(nstep) trial \(trial): fast (\(sa), \(minA), \(la)) ≠ reference (\(sb), \(minB), \(lb)) for x \(x) w \(w)")
                    return
                }
            }
        }
    }
}
