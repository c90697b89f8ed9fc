import QKCore

/// Activation-aware scaling (AWQ): for each group of linear layers reading one input, a
/// per-input-channel scale s = mean|x|^α (normalised by √(max·min)) is searched over α ∈
/// {0, 1/n, …, (n−1)/n}, keeping the α whose quantized layers Q(W·diag(s))·diag(s)⁻¹ give the
/// smallest squared output error on sampled calibration inputs. The scale is then folded:
/// the layers' columns are multiplied by s and whatever produces their input (the preceding
/// RMSNorm's weight, or the preceding linear's rows) is divided by s, so the saved model is an
/// ordinary quantized model and, before quantization, computes exactly the same function.
/// α = 0 is plain round-to-nearest, so the chosen scales never do worse on the samples.
public enum AWQ {
    /// One group: the layers sharing an input and where their scale is folded.
    public struct Group: Sendable {
        /// Linear module names (`model.layers.0.self_attn.q_proj`).
        public let layers: [String]
        /// The RMSNorm module (weight divided by s) or the linear module (rows divided by s).
        public let foldInto: String
        public let foldIsNorm: Bool
    }

    /// What the search chose for one group.
    public struct Choice: Sendable, Encodable {
        public let layers: [String]
        public let ratio: Float
        /// Σ squared output error over the samples with plain RTN, and with the chosen scale.
        public let rtnError: Double
        public let error: Double
    }

    /// The groups of a Llama/Qwen-style block `layer`: norms before q/k/v and gate/up, up_proj
    /// before down_proj, and v_proj before o_proj when their widths match (no GQA).
    public static func groups(layer l: Int, vRows: Int, oCols: Int) -> [Group] {
        let p = "model.layers.\(l)."
        var g = [Group(layers: [p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"],
                       foldInto: p + "input_layernorm", foldIsNorm: true)]
        if vRows == oCols { g.append(Group(layers: [p + "self_attn.o_proj"], foldInto: p + "self_attn.v_proj", foldIsNorm: false)) }
        g.append(Group(layers: [p + "mlp.gate_proj", p + "mlp.up_proj"], foldInto: p + "post_attention_layernorm", foldIsNorm: true))
        g.append(Group(layers: [p + "mlp.down_proj"], foldInto: p + "mlp.up_proj", foldIsNorm: false))
        return g
    }

    /// Searches the scale of one group. `weights` are the layers' matrices (rows × cols each,
    /// cols = the input width), `x` the sampled inputs (tokens × cols), `meanAbs` mean |x|.
    public static func search(weights: [(rows: Int, values: [Float])], x: [Float], meanAbs: [Float], grid: QuantGrid,
                              layers: [String], steps: Int = 20, pool: ThreadPool = .shared) -> (scale: [Float], choice: Choice) {
        let cols = meanAbs.count
        let tokens = x.count / cols
        var best: (err: Double, ratio: Float, s: [Float]) = (.infinity, 0, [Float](repeating: 1, count: cols))
        var rtnError = 0.0
        for step in 0 ..< steps {
            let ratio = Float(step) / Float(steps)
            var s = meanAbs.map { max(powf(max($0, 0), ratio), 1e-4) }
            let norm = (s.max()! * s.min()!).squareRoot()
            s = s.map { $0 / norm }
            var err = 0.0
            for (rows, w) in weights {
                var scaled = [Float](repeating: 0, count: rows * cols)
                for r in 0 ..< rows { for c in 0 ..< cols { scaled[r * cols + c] = w[r * cols + c] * s[c] } }
                let q = scaled.withUnsafeBufferPointer { QuantizedMatrix.rtn($0.baseAddress!, rows: rows, cols: cols, grid: grid, pool: pool) }
                // ΔW = W − Q(W·s)/s, then the output error X·ΔWᵀ.
                for r in 0 ..< rows { for c in 0 ..< cols { scaled[r * cols + c] = w[r * cols + c] - q.value(r, c) / s[c] } }
                var y = [Float](repeating: 0, count: tokens * rows)
                x.withUnsafeBufferPointer { xb in scaled.withUnsafeBufferPointer { db in y.withUnsafeMutableBufferPointer { yb in
                    Gemm.nt(xb.baseAddress!, db.baseAddress!, yb.baseAddress!, m: tokens, n: rows, k: cols, pool: pool)
                } } }
                err += y.reduce(0.0) { $0 + Double($1 * $1) }
            }
            if step == 0 { rtnError = err }
            if err < best.err { best = (err, ratio, s) }
        }
        return (best.s, Choice(layers: layers, ratio: best.ratio, rtnError: rtnError, error: best.err))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
