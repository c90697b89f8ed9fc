import QKCore
import Quantization

/// GPTQ (Frantar et al.): quantizes a layer column by column on the group grid and spreads
/// each column's rounding error over the columns not yet quantized, weighted by the inverse
/// Hessian H⁻¹ of the layer's input (H = Σxᵀx over calibration tokens), which minimises the
/// output error ‖X(W − Ŵ)ᵀ‖² greedily. Dead inputs (H_ii = 0) are zeroed; `damp` × mean(diag H)
/// is added to the diagonal (more if H is still not positive definite: the factor is
/// `Quantization.GPTQFactor`, shared with the GGUF GPTQ). With act-order, columns are taken by
/// decreasing H_ii and groups are formed in that order (`groupIndex` records each column's
/// group).
///
/// Group parameters are chosen from the error-updated weights when a group starts, as AutoGPTQ
/// does, but by a search weighted with diag(H) (`QuantGrid.searchParameters`) instead of
/// min/max: on SmolLM2 that halves the output error GPTQ leaves on text it was not calibrated
/// on. Every layer's Hessian comes from the unquantized model's activations (not re-collected
/// layer by layer after quantizing the earlier ones, as AutoGPTQ's sequential mode does).
public enum GPTQ {
    /// Quantizes `w` (rows × cols, row-major) with Hessian `h` (cols × cols, symmetric; only
    /// the upper triangle is read).
    public static func quantize(_ w: [Float], rows: Int, cols: Int, hessian h: [Float], grid: QuantGrid, actOrder: Bool,
                                damp: Double = 0.01, pool: ThreadPool = .shared) throws -> QuantizedMatrix {
        let n = cols
        // Transposed weights: column c of W is row c of wt (contiguous for the updates).
        var wt = [Float](repeating: 0, count: n * rows)
        for r in 0 ..< rows { for c in 0 ..< n { wt[c * rows + r] = w[r * n + c] } }
        for i in 0 ..< n where !(h[i * n + i] > 0) {
            for r in 0 ..< rows { wt[i * rows + r] = 0 }
        }
        var perm = Array(0 ..< n)
        if actOrder {
            perm.sort { h[$0 * n + $0] > h[$1 * n + $1] || (h[$0 * n + $0] == h[$1 * n + $1] && $0 < $1) }
            var w2 = [Float](repeating: 0, count: n * rows)
            for i in 0 ..< n { for r in 0 ..< rows { w2[i * rows + r] = wt[perm[i] * rows + r] } }
            wt = w2
        }
        // H in processing order (upper triangle is all the factor reads), factored by the
        // shared GPTQ code (damping added, dead columns handled, AVX2 Cholesky inverse).
        let moment = Hessians.Moment(n: n)
        moment.sum.withUnsafeMutableBufferPointer { m in
            for i in 0 ..< n {
                for j in i ..< n { m[i * n + j] = h[min(perm[i], perm[j]) * n + max(perm[i], perm[j])] }
            }
        }
        // The importance of each column (in processing order) for choosing group scales.
        let importance = (0 ..< n).map { max(moment.diagonal($0), 0) }
        let factor = try GPTQFactor(moment, damping: damp)
        let u = factor.u

        let groups = n / grid.groupSize
        var codes = [UInt8](repeating: 0, count: rows * n)
        var scales = [Float](repeating: 0, count: rows * groups)
        var zeros = [UInt8](repeating: 0, count: rows * groups)
        var err = [Float](repeating: 0, count: rows)
        var scale = [Float](repeating: 0, count: rows), zero = [Int](repeating: 0, count: rows)
        try wt.withUnsafeMutableBufferPointer { wb in
            let W = wb.baseAddress!
            for i in 0 ..< n {
                let col = W + i * rows
                if i % grid.groupSize == 0 {
                    let g = i / grid.groupSize
                    var found = [(scale: Float, zero: Int)](repeating: (0, 0), count: rows)
                    found.withUnsafeMutableBufferPointer { fb in
                        importance.withUnsafeBufferPointer { ib in
                            let f = fb.baseAddress!, weights = ib.baseAddress! + i, rowChunk = 64
                            pool.parallelFor((rows + rowChunk - 1) / rowChunk) { c in
                                for r in c * rowChunk ..< min(rows, (c + 1) * rowChunk) {
                                    f[r] = grid.searchParameters(col + r, count: grid.groupSize, stride: rows, weights: weights)
                                }
                            }
                        }
                    }
                    for r in 0 ..< rows {
                        let p = found[r]
                        scale[r] = p.scale; zero[r] = p.zero
                        scales[r * groups + g] = p.scale
                        zeros[r * groups + g] = UInt8(p.zero)
                    }
                }
                let dii = Float(u[i * n + i])
                let src = perm[i]
                for r in 0 ..< rows {
                    let q = grid.code(col[r], scale: scale[r], zero: zero[r])
                    codes[r * n + src] = q
                    let deq = Float(Int(q) - zero[r]) * scale[r]
                    err[r] = (col[r] - deq) / dii
                }
                let rest = n - i - 1
                guard rest > 0 else { continue }
                let chunk = 16
                err.withUnsafeBufferPointer { eb in
                    let e = eb.baseAddress!
                    pool.parallelFor((rest + chunk - 1) / chunk) { b in
                        for j in (i + 1 + b * chunk) ..< min(n, i + 1 + (b + 1) * chunk) {
                            let f = Float(u[i * n + j])
                            if f == 0 { continue }
                            let dst = W + j * rows
                            for r in 0 ..< rows { dst[r] -= f * e[r] }
                        }
                    }
                }
                if !col[0].isFinite { throw QuantKitError("GPTQ diverged (non-finite weights)") }
            }
        }
        var groupIndex: [Int32]? = nil
        if actOrder {
            var gi = [Int32](repeating: 0, count: n)
            for i in 0 ..< n { gi[perm[i]] = Int32(i / grid.groupSize) }
            groupIndex = gi
        }
        return QuantizedMatrix(rows: rows, cols: n, grid: grid, codes: codes, scales: scales, zeros: zeros, groupIndex: groupIndex)
    }
}
