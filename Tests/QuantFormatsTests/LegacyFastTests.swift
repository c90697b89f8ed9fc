@testable import QuantFormats
import Testing

/// The lane-parallel legacy quantizers give the reference implementations' bytes, including on
/// blocks that force their fallbacks (NaN, infinities, ±0 extremes, constant and huge values).
struct LegacyFastTests {
    typealias Row = @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<UInt8>, Int) -> Void
    static let pairs: [(String, Int, Row, Row)] = [
        ("Q4_0", 18, LegacyFast.q4_0, Q4_0.quantizeRow), ("Q4_1", 20, LegacyFast.q4_1, Q4_1.quantizeRow),
        ("Q5_0", 22, LegacyFast.q5_0, Q5_0.quantizeRow), ("Q5_1", 24, LegacyFast.q5_1, Q5_1.quantizeRow),
    ]

    static func block(_ kind: Int, _ rng: inout SystemRandomNumberGenerator) -> [Float] {
        var x = (0 ..< 32).map { _ in Float.random(in: -1 ... 1, using: &rng) * Float.random(in: 1e-3 ... 100, using: &rng) }
        switch kind % 9 {
        case 0: x[Int.random(in: 0 ..< 32, using: &rng)] = .nan
        case 1: x[Int.random(in: 0 ..< 32, using: &rng)] = [Float.infinity, -.infinity][kind % 2]
        case 2: x = x.map { abs($0) }; x[3] = 0; x[9] = -0.0          // zero minimum with ±0 tie
        case 3: x = x.map { -abs($0) }; x[5] = -0.0; x[7] = 0          // zero maximum
        case 4: x = Array(repeating: 0.25, count: 32)                   // constant
        case 5: x = x.map { $0 * 1e30 }                                 // huge
        case 6: x = x.map { $0 * 1e-30 }                                // tiny
        case 7: let v = x[0]; x[1] = -v; x[2] = v                       // |max| tie with opposite signs
        default: break
        }
        return x
    }

    @Test func fastEqualsReference() {
        var rng = SystemRandomNumberGenerator()
        for (name, bytes, fast, ref) in Self.pairs {
            for trial in 0 ..< 4000 {
                let x = (0 ..< 4).flatMap { Self.block(trial + $0, &rng) }
                var a = [UInt8](repeating: 0, count: 4 * bytes), b = a
                fast(x, &a, x.count)
                ref(x, &b, x.count)
                if a != b {
                    Issue.record("\(name) trial \(trial): fast path differs from the reference for \(x)")
                    break
                }
            }
        }
    }
}
