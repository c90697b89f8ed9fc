import QKCore

/// GPTQ (Frantar et al.): quantizes a layer column by column on the group grid and spreads
/// each column's rounding error over the columns not yet quantized, weighted by the inverse
/// Hessian H⁻¹ of the layer's input (H = Σxᵀx over calibration tokens), which minimises the
/// output error ‖X(W − Ŵ)ᵀ‖² greedily. Dead inputs (H_ii = 0) are zeroed; `damp` × mean(diag H)
/// is added to the diagonal; with act-order, columns are taken by decreasing H_ii and groups are
/// formed in that order (`groupIndex` records each column's group). Group parameters are
/// found from the error-updated weights when a group starts, as AutoGPTQ does. Every layer's
/// Hessian comes from the unquantized model's activations (not re-collected layer by layer
/// after quantizing the earlier ones, as AutoGPTQ's sequential mode does).
public enum GPTQ {
    /// Quantizes `w` (rows × cols, row-major) with Hessian `h` (cols × cols).
    public static func quantize(_ w: [Float], rows: Int, cols: Int, hessian h: [Float], grid: QuantGrid, actOrder: Bool,
                                damp: Double = 0.01, pool: ThreadPool = .shared) throws -> QuantizedMatrix {
        let n = cols
        var H = h.map(Double.init)
        // Transposed weights: column c of W is row c of wt (contiguous for the updates).
        var wt = [Float](repeating: 0, count: n * rows)
        for r in 0 ..< rows { for c in 0 ..< n { wt[c * rows + r] = w[r * n + c] } }
        for i in 0 ..< n where H[i * n + i] == 0 {
            H[i * n + i] = 1
            for r in 0 ..< rows { wt[i * rows + r] = 0 }
        }
        var perm = Array(0 ..< n)
        if actOrder {
            perm.sort { H[$0 * n + $0] > H[$1 * n + $1] || (H[$0 * n + $0] == H[$1 * n + $1] && $0 < $1) }
            var H2 = [Double](repeating: 0, count: n * n)
            var w2 = [Float](repeating: 0, count: n * rows)
            for i in 0 ..< n {
                for j in 0 ..< n { H2[i * n + j] = H[perm[i] * n + perm[j]] }
                for r in 0 ..< rows { w2[i * rows + r] = wt[perm[i] * rows + r] }
            }
            H = H2
            wt = w2
        }
        var mean = 0.0
        for i in 0 ..< n { mean += H[i * n + i] }
        let d = damp * mean / Double(n)
        for i in 0 ..< n { H[i * n + i] += d }
        let u = try upperCholeskyOfInverse(H, n)

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
                    for r in 0 ..< rows {
                        let p = grid.parameters(col + r, count: grid.groupSize, stride: rows)
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

    /// U upper-triangular with UᵀU = H⁻¹ (H symmetric positive definite, n × n, row-major):
    /// H = LLᵀ, L⁻¹ by rows, H⁻¹ = L⁻ᵀL⁻¹, then U = (lower Cholesky factor of H⁻¹)ᵀ.
    static func upperCholeskyOfInverse(_ h: [Double], _ n: Int) throws -> [Double] {
        let l = try choleskyLower(h, n)
        // Rows of L⁻¹: row_i = (e_i − Σ_{k<i} L[i][k]·row_k) / L[i][i].
        var li = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n {
            li[i * n + i] = 1
            for k in 0 ..< i {
                let f = l[i * n + k]
                if f == 0 { continue }
                for c in 0 ... k { li[i * n + c] -= f * li[k * n + c] }
            }
            let d = l[i * n + i]
            for c in 0 ... i { li[i * n + c] /= d }
        }
        // H⁻¹ = Σ_k row_kᵀ row_k (upper half, then mirrored).
        var inv = [Double](repeating: 0, count: n * n)
        for k in 0 ..< n {
            for i in 0 ... k {
                let f = li[k * n + i]
                if f == 0 { continue }
                for j in i ... k { inv[i * n + j] += f * li[k * n + j] }
            }
        }
        for i in 0 ..< n { for j in 0 ..< i { inv[i * n + j] = inv[j * n + i] } }
        let l2 = try choleskyLower(inv, n)
        var u = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { for j in 0 ... i { u[j * n + i] = l2[i * n + j] } }
        return u
    }

    /// L lower-triangular with LLᵀ = a.
    static func choleskyLower(_ a: [Double], _ n: Int) throws -> [Double] {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n {
            for j in 0 ... i {
                var s = a[i * n + j]
                for k in 0 ..< j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0 else { throw QuantKitError("GPTQ: the Hessian is not positive definite (try more calibration text)") }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        return l
    }
}
