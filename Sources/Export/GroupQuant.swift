import QKCore
import SafeTensors

/// The integer grid every export format shares: `bits`-bit codes per weight, one scale (and,
/// asymmetric, one zero point) per group of `groupSize` consecutive input columns of a row.
///
/// Codes are stored unsigned (0 … 2^bits−1); a weight dequantizes to (code − zero) × scale.
/// Symmetric: scale = absmax / ((2^bits−1)/2) (absmax/7.5 for 4 bits), zero = 2^(bits−1)
/// (signed codes −8 … 7 stored +8). Asymmetric: the range [min(min,0), max(max,0)] over
/// 2^bits−1 steps, zero = round(−min/scale). The scale is rounded to its storage type first,
/// so the codes are chosen against the scale readers will see. Rounding is half to even, as
/// torch.round does (compressed-tensors, AutoGPTQ and AutoAWQ all quantize with it).
public struct QuantGrid: Sendable, Equatable {
    public var bits: Int
    public var groupSize: Int
    public var symmetric: Bool
    /// How scales are stored (F32/F16/BF16): compressed-tensors keeps the model's dtype,
    /// GPTQ and AWQ kernels want F16.
    public var scaleType: SafeTensorsDType

    public init(bits: Int = 4, groupSize: Int = 128, symmetric: Bool = true, scaleType: SafeTensorsDType = .f32) {
        self.bits = bits
        self.groupSize = groupSize
        self.symmetric = symmetric
        self.scaleType = scaleType
    }

    /// Largest code.
    public var maxCode: Int { (1 << bits) - 1 }

    /// `s` as the storage type will hold it.
    @inlinable public func stored(_ s: Float) -> Float {
        switch scaleType {
        case .f16: return Float(Float16(s))
        case .bf16: return HalfFloat.f32(bf16: HalfFloat.bf16Bits(s))
        default: return s
        }
    }

    /// The storage type's machine epsilon: the scale of a group that is all zeros (as
    /// compressed-tensors substitutes `torch.finfo(dtype).eps` for a zero scale).
    @usableFromInline var zeroScale: Float {
        switch scaleType {
        case .f16: return 0.0009765625
        case .bf16: return 0.0078125
        default: return Float.ulpOfOne
        }
    }

    /// Scale and zero of the group `values` (strided by `stride`).
    @inlinable public func parameters(_ values: UnsafePointer<Float>, count: Int, stride: Int = 1) -> (scale: Float, zero: Int) {
        var lo: Float = 0, hi: Float = 0
        for i in 0 ..< count {
            let v = values[i * stride]
            lo = min(lo, v)
            hi = max(hi, v)
        }
        return parameters(lo: lo, hi: hi)
    }

    /// Scale and zero for a group whose values span [lo, hi] (lo ≤ 0 ≤ hi).
    @inlinable public func parameters(lo: Float, hi: Float) -> (scale: Float, zero: Int) {
        if symmetric {
            let amax = max(-lo, hi)
            var s = stored(amax / (Float(maxCode) / 2))
            if s == 0 { s = zeroScale }
            return (s, 1 << (bits - 1))
        }
        var s = stored((hi - lo) / Float(maxCode))
        if s == 0 { s = zeroScale }
        let z = min(max((-lo / s).rounded(.toNearestOrEven), 0), Float(maxCode))
        return (s, Int(z))
    }

    /// Scale and zero of the group `values` (strided by `stride`) that minimise the
    /// `weights`-weighted squared error of the group as decoded: GPTQ's group parameters
    /// chosen with the Hessian diagonal (the importance of each input column) rather than by
    /// min/max alone.
    ///
    /// Symmetric: scales absmax/d for d from 6 to 9 in steps of 0.1 (for 4 bits; scaled by
    /// (2^bits−1)/15 otherwise), each also refitted by weighted least squares on its codes.
    /// Asymmetric: the [lo, hi] range shrunk by 1 down to 0.7 at either end, each also refitted
    /// (scale and offset) on its codes. The plain min/max parameters are a candidate too, so
    /// the result is never worse than `parameters` on the weighted error; all-zero weights give
    /// the plain parameters.
    public func searchParameters(_ values: UnsafePointer<Float>, count: Int, stride: Int = 1,
                                 weights: UnsafePointer<Float>) -> (scale: Float, zero: Int) {
        let plain = parameters(values, count: count, stride: stride)
        var lo: Float = 0, hi: Float = 0, wsum: Float = 0
        for i in 0 ..< count {
            lo = min(lo, values[i * stride])
            hi = max(hi, values[i * stride])
            wsum += weights[i]
        }
        guard wsum > 0, hi > lo else { return plain }
        func error(_ s: Float, _ z: Int) -> Float {
            var e: Float = 0
            for i in 0 ..< count {
                let v = values[i * stride]
                let d = v - Float(Int(code(v, scale: s, zero: z)) - z) * s
                e += weights[i] * d * d
            }
            return e
        }
        var best = plain, bestError = error(plain.scale, plain.zero)
        func consider(_ s: Float, _ z: Int) {
            guard s > 0, s.isFinite else { return }
            let e = error(s, z)
            if e < bestError { best = (s, z); bestError = e }
        }
        if symmetric {
            let amax = max(-lo, hi), z = 1 << (bits - 1)
            var d: Float = 6
            while d <= 9.0001 {
                let s = stored(amax / (d * Float(maxCode) / 15))
                consider(s, z)
                // Least-squares scale for these codes: Σ w v q / Σ w q².
                var num: Float = 0, den: Float = 0
                for i in 0 ..< count {
                    let v = values[i * stride]
                    let q = Float(Int(code(v, scale: s, zero: z)) - z)
                    num += weights[i] * v * q
                    den += weights[i] * q * q
                }
                if den > 0 { consider(stored(num / den), z) }
                d += 0.1
            }
        } else {
            for a in Swift.stride(from: Float(1), through: 0.6999, by: -0.05) {
                for b in Swift.stride(from: Float(1), through: 0.6999, by: -0.05) {
                    let p = parameters(lo: lo * a, hi: hi * b)
                    consider(p.scale, p.zero)
                    // Weighted least squares of v ≈ s·q + m on these codes, z = −m/s rounded.
                    var sw: Float = 0, sq: Float = 0, sv: Float = 0, sqq: Float = 0, sqv: Float = 0
                    for i in 0 ..< count {
                        let v = values[i * stride], w = weights[i]
                        let q = Float(code(v, scale: p.scale, zero: p.zero))
                        sw += w; sq += w * q; sv += w * v; sqq += w * q * q; sqv += w * q * v
                    }
                    let det = sw * sqq - sq * sq
                    if det > 0 {
                        let s = stored((sw * sqv - sq * sv) / det), m = (sv - s * sq) / sw
                        if s > 0 { consider(s, Int(min(max((-m / s).rounded(.toNearestOrEven), 0), Float(maxCode)))) }
                    }
                }
            }
        }
        return best
    }

    /// The code of `v` in a group with `scale` and `zero`.
    @inlinable public func code(_ v: Float, scale: Float, zero: Int) -> UInt8 {
        let q = (v / scale).rounded(.toNearestOrEven) + Float(zero)
        return UInt8(min(max(q, 0), Float(maxCode)))
    }
}

/// One linear layer's weight on the grid: what every layout packs.
public struct QuantizedMatrix: Sendable {
    /// Output features (rows of the Hugging Face weight) and input features (columns).
    public let rows: Int, cols: Int
    public let grid: QuantGrid
    /// rows × cols unsigned codes, row-major (original column order, also with act-order).
    public var codes: [UInt8]
    /// rows × groups scales (already rounded to `grid.scaleType`).
    public var scales: [Float]
    /// rows × groups zero points (unsigned; 2^(bits−1) when symmetric).
    public var zeros: [UInt8]
    /// With act-order: the group of every input column (nil: column c is in group c / groupSize).
    public var groupIndex: [Int32]?

    public var groups: Int { cols / grid.groupSize }

    /// The group of input column `c`.
    @inlinable public func group(ofColumn c: Int) -> Int { groupIndex.map { Int($0[c]) } ?? c / grid.groupSize }

    /// Weight (r, c) as readers reconstruct it: (code − zero) × scale.
    @inlinable public func value(_ r: Int, _ c: Int) -> Float {
        let g = group(ofColumn: c)
        return Float(Int(codes[r * cols + c]) - Int(zeros[r * groups + g])) * scales[r * groups + g]
    }

    /// The whole matrix dequantized (rows × cols).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * cols)
        for r in 0 ..< rows { for c in 0 ..< cols { out[r * cols + c] = value(r, c) } }
        return out
    }

    /// Round-to-nearest quantization of `w` (rows × cols, row-major).
    public static func rtn(_ w: UnsafePointer<Float>, rows: Int, cols: Int, grid: QuantGrid, pool: ThreadPool = .shared) -> QuantizedMatrix {
        let groups = cols / grid.groupSize
        var codes = [UInt8](repeating: 0, count: rows * cols)
        var scales = [Float](repeating: 0, count: rows * groups)
        var zeros = [UInt8](repeating: 0, count: rows * groups)
        codes.withUnsafeMutableBufferPointer { cb in
            scales.withUnsafeMutableBufferPointer { sb in
                zeros.withUnsafeMutableBufferPointer { zb in
                    let c = cb.baseAddress!, s = sb.baseAddress!, z = zb.baseAddress!
                    pool.parallelFor(rows) { r in
                        for g in 0 ..< groups {
                            let base = r * cols + g * grid.groupSize
                            let p = grid.parameters(w + base, count: grid.groupSize)
                            s[r * groups + g] = p.scale
                            z[r * groups + g] = UInt8(p.zero)
                            for i in 0 ..< grid.groupSize { c[base + i] = grid.code(w[base + i], scale: p.scale, zero: p.zero) }
                        }
                    }
                }
            }
        }
        return QuantizedMatrix(rows: rows, cols: cols, grid: grid, codes: codes, scales: scales, zeros: zeros, groupIndex: nil)
    }
}
