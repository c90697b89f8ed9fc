#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DotKernels
import QKCore

/// The element-wise and row-wise operations of a transformer block, with ggml's numerics where
/// they matter (RMS sums in double, GELU through an F16 table, RoPE angles by repeated products).
public enum Ops {
    /// y = (x · 1/√(mean(x²)+ε)) ⊙ w over each of `rows` rows of length `n`; y may alias x.
    public static func rmsNorm(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, n: Int,
                               weight: UnsafePointer<Float>, eps: Float) {
        for r in 0 ..< rows {
            let xr = x + r * n, yr = y + r * n
            // As ggml: float squares summed in double, in order.
            var sum = 0.0
            for i in 0 ..< n { sum += Double(xr[i] * xr[i]) }
            let mean = Float(sum / Double(n))
            let scale = 1 / (mean + eps).squareRoot()
            for j in 0 ..< n { yr[j] = (xr[j] * scale) * weight[j] }
        }
    }

    /// x += y, `count` elements.
    @inlinable
    public static func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count { x[i] += y[i] }
    }

    /// Adds `bias` (length n) to each of `rows` rows.
    public static func addBias(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int, bias: UnsafePointer<Float>) {
        for r in 0 ..< rows { add(x + r * n, bias, count: n) }
    }

    /// g = silu(g) ⊙ u (SwiGLU), `count` elements.
    public static func swiglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, count: Int) {
        for i in 0 ..< count {
            let x = g[i]
            g[i] = x / (1 + expf(-x)) * u[i]
        }
    }

    /// ggml's GELU (tanh form) of every F16 value, rounded to F16: ggml evaluates GELU through
    /// this table, so the engine does too.
    static let geluTable: [Float] = (0 ..< 65536).map { bits in
        let x = HalfFloat.f32(f16: UInt16(bits))
        let y = 0.5 * x * (1 + tanhf(0.79788456080286535587989211986876 * x * (1 + 0.044715 * x * x)))
        return HalfFloat.f32(f16: HalfFloat.f16Bits(y))
    }

    /// g = gelu(g) ⊙ u (GeGLU), `count` elements, as ggml computes it.
    public static func geglu(_ g: UnsafeMutablePointer<Float>, _ u: UnsafePointer<Float>, count: Int) {
        geluTable.withUnsafeBufferPointer { table in
            for i in 0 ..< count {
                let x = g[i]
                if x <= -10 { g[i] = 0 }
                else if x >= 10 { g[i] = x * u[i] }
                else { g[i] = table[Int(HalfFloat.f16Bits(x))] * u[i] }
            }
        }
    }

    /// Scales `count` elements by `s`.
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by s: Float) {
        for i in 0 ..< count { x[i] *= s }
    }

    /// Rounds `count` floats to F16 precision in place (the KV cache holds F16 values).
    public static func roundToHalf(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0 ..< count { x[i] = Float(Float16(x[i])) }
    }
}

/// RoPE angles for one position: cos/sin per dimension pair, computed as ggml's rope cache does
/// (θ multiplied by base^(-2/dims) pair after pair, in float).
public struct Rope: Sendable {
    public let dims: Int
    public let style: RopeStyle
    let thetaScale: Float
    let factors: [Float]?

    public init(dims: Int, base: Float, style: RopeStyle, factors: [Float]? = nil) {
        self.dims = dims
        self.style = style
        self.thetaScale = powf(base, -2 / Float(dims))
        self.factors = factors
    }

    /// Writes cos/sin pairs (dims floats) for position `pos` into `cache`.
    public func fill(position pos: Int, cache: UnsafeMutablePointer<Float>) {
        var theta = Float(pos)
        for i in 0 ..< dims / 2 {
            let t = factors.map { theta / $0[i] } ?? theta
            cache[2 * i] = cosf(t)
            cache[2 * i + 1] = sinf(t)
            theta *= thetaScale
        }
    }

    /// Rotates `heads` heads of width `headDim` (contiguous) with the angles in `cache`.
    public func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, cache: UnsafePointer<Float>) {
        for h in 0 ..< heads {
            let v = x + h * headDim
            switch style {
            case .adjacentPairs:
                for i in 0 ..< dims / 2 {
                    let c = cache[2 * i], s = cache[2 * i + 1]
                    let x0 = v[2 * i], x1 = v[2 * i + 1]
                    v[2 * i] = x0 * c - x1 * s
                    v[2 * i + 1] = x0 * s + x1 * c
                }
            case .halves:
                let half = dims / 2
                for i in 0 ..< half {
                    let c = cache[2 * i], s = cache[2 * i + 1]
                    let x0 = v[i], x1 = v[i + half]
                    v[i] = x0 * c - x1 * s
                    v[i + half] = x0 * s + x1 * c
                }
            }
        }
    }
}
