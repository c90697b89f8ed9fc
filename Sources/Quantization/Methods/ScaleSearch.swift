import QKCore
import QuantFormats

/// The `search` method: per block, a wider search than ggml's for the encoding with the least
/// (importance-weighted) squared error *as decoded*, in the same block format.
///
/// Candidates come from ggml's own quantizer, both without and with weights (its weighted path
/// searches differently). For types with a `BlockGrid`, the better candidate's block scale is
/// then swept over a range of factors with every value re-rounded to the scaled grid; the block
/// decoding closest to the input wins. Affine grids (legacy types, k-quants) then go through
/// `GridRefinement`: coordinate descent on the k-quants' sub-scales and balanced halfway
/// roundings. Lattice types (IQ1–IQ3…) only choose between ggml's candidates. Up to here, never
/// worse than ggml's block on that error, by construction.
///
/// Last, the block is **unshrunk** (every type with a `BlockGrid`): its super-scales are
/// multiplied by `Σ w·x² / Σ w·x̂·x`, which makes the error orthogonal to the input block
/// (`Σ w·(x̂ − x)·x = 0`) instead of to the decoded one. A least-squares fit leaves `x̂` a
/// shrunken copy of `x` (`‖x̂‖² = ‖x‖² − ‖x̂ − x‖²`): every matrix's output a little
/// weaker, in every layer the same way, which the residual stream and the logits add up. The
/// squared error grows by under 1 % from 4 bits up (7 % for Q2_K); the KL divergence drops.
/// Measured on Qwen2.5-0.5B without an imatrix (llama-perplexity, 16 chunks, KLD against F32),
/// search without → with this step: Q4_0 0.1156 → 0.1023 (llama-quantize 0.1192), IQ4_XS
/// 0.0561 → 0.0537 (0.0593), Q3_K_M 0.0641 → 0.0591 (0.0739), Q2_K 0.1206 → 0.1147 (0.1346).
/// Rescaling to keep the norm instead (‖x̂‖ = ‖x‖) gave IQ4_XS 0.0543.
///
/// With an importance matrix, the legacy types weigh the error as ggml's own quantizer does
/// (``importanceWeighting(_:)``: the imatrix value times `sqrt(σ² + x²)`); the other types by
/// the imatrix value alone. Measured on Qwen2.5-0.5B with llama-imatrix's matrix (KLD against
/// F32, llama-perplexity, 16 chunks), against llama-quantize with the same matrix:
/// - Q4_0: imatrix alone 1.056× llama's KLD (0.1190 vs 0.1127), ggml's weighting 0.955× (0.1076);
/// - IQ4_XS: imatrix alone 1.001× (0.05079 vs 0.05073), ggml's weighting 1.048× (0.05315).
public enum ScaleSearch {
    /// Whether an imatrix value `qw` weighs a value as ggml's legacy quantizers do,
    /// `qw · sqrt(σ² + x²)` with `σ² = mean(x²)` over the whole row (else: `qw` alone).
    static func importanceWeighting(_ type: GGMLType) -> Bool {
        [.q4_0, .q4_1, .q5_0, .q5_1].contains(type)
    }

    /// Factors applied to the block's super-scales (d, dmin): a coarse sweep, then a finer
    /// step either side of the best.
    static let coarseFactors: [Float] = (0 ..< 15).map { 0.86 + 0.02 * Float($0) }
    static let fineStep: Float = 0.01

    /// A row quantizer for `type` with the search described above; `importance` (per column,
    /// an imatrix row) weights the error when given.
    /// With `unshrink` false, the last step is left out (each block then stays the least-error
    /// encoding found, never worse than ggml's).
    public static func codec(_ type: GGMLType, unshrink: Bool = true) throws -> RowCodec {
        guard let base = QuantCodec.codec(type), type.isQuantized else {
            throw QuantKitError("search: \(type.name) is not a quantized type")
        }
        let grid = BlockGrid.grid(for: type)
        return RowCodec(quantize: { src, dst, n, importance in
            guard let grid else { return quantizeRow(base, type, nil, src, dst, n, importance, nil, unshrink: unshrink) }
            GridRefinement.with(grid) { r in quantizeRow(base, type, grid, src, dst, n, importance, r, unshrink: unshrink) }
        }, dequantize: base.dequantize, requiresImportance: base.requiresImportance)
    }

    /// The last step: `block`'s super-scales (d, and dmin, which scale every decoded value
    /// together) multiplied by `Σ w·x² / Σ w·x̂·x`. The integers stay.
    private static func unshrink(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                 _ grid: BlockGrid, _ base: RowCodec, _ deq: UnsafeMutablePointer<Float>) {
        let n = grid.blockSize
        base.dequantize(block, deq, n)
        var xx: Float = 0, qx: Float = 0
        for i in 0 ..< n {
            xx += w[i] * x[i] * x[i]
            qx += w[i] * deq[i] * x[i]
        }
        let f = xx / qx
        // A block that decodes to nothing (or far off) is left alone.
        guard f.isFinite, f > 0.5, f < 2 else { return }
        for k in grid.superScaleOffsets.indices { grid.setSuperScale(grid.superScale(block, k) * f, block, k) }
    }

    /// One row: per block, ggml's candidates, the super-scale sweep, then the refinement.
    private static func quantizeRow(_ base: RowCodec, _ type: GGMLType, _ grid: BlockGrid?, _ src: UnsafePointer<Float>,
                                    _ dst: UnsafeMutableRawPointer, _ n: Int, _ importance: UnsafePointer<Float>?,
                                    _ refiner: GridRefinement?, unshrink doUnshrink: Bool) {
        let block = grid?.blockSize ?? type.blockSize
        let blockBytes = type.rowSize(block)
        let requires = base.requiresImportance
        // ggml's candidates (without and with weights), each quantized as one whole row: some of
        // ggml's quantizers take statistics over the row (legacy types with an imatrix: σ²).
        let rowBytes = type.rowSize(n)
        let paths = requires ? 1 : 2
        let onesCount = importance == nil ? max(n, block) : block
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * block + onesCount) { fb in
            let rowsBytes = (paths * rowBytes + 63) & ~63
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rowsBytes + 3 * blockBytes + block) { bb in
                // Weights of 1: the weighted path's without an imatrix (a whole row), else a block's.
                let ones = fb.baseAddress!, deq = ones + onesCount, a = deq + block, b = a + block, wv = b + block
                let ggmlRows = bb.baseAddress!
                let cand = ggmlRows + rowsBytes, scaled = cand + blockBytes, best = scaled + blockBytes, q = best + blockBytes
                ones.initialize(repeating: 1, count: onesCount)
                for k in 0 ..< paths {
                    base.quantize(src, ggmlRows + k * rowBytes, n, k == 0 && !requires ? nil : (importance ?? UnsafePointer(ones)))
                }
                let weighting = importance != nil && importanceWeighting(type)
                var sigma2: Float = 0
                if weighting {
                    for j in 0 ..< n { sigma2 += src[j] * src[j] }
                    sigma2 /= Float(n)
                }
                for start in stride(from: 0, to: n, by: block) {
                    let x = src + start
                    let weights: UnsafePointer<Float> = importance.map { $0 + start } ?? UnsafePointer(ones)
                    if weighting {
                        for i in 0 ..< block { wv[i] = weights[i] * (sigma2 + x[i] * x[i]).squareRoot() }
                    } else {
                        for i in 0 ..< block { wv[i] = weights[i] }
                    }
                    var bestError = Float.infinity
                    func consider(_ bytes: UnsafeMutablePointer<UInt8>) {
                        base.dequantize(bytes, deq, block)
                        var e: Float = 0
                        for i in 0 ..< block { let d = deq[i] - x[i]; e += wv[i] * d * d }
                        if e < bestError {
                            bestError = e
                            best.update(from: bytes, count: blockBytes)
                        }
                    }
                    // ggml's candidates; the scale sweep then starts from the better of them.
                    for k in 0 ..< paths {
                        scaled.update(from: ggmlRows + k * rowBytes + start / block * blockBytes, count: blockBytes)
                        let before = bestError
                        consider(scaled)
                        if bestError < before { cand.update(from: scaled, count: blockBytes) }
                    }
                    if let grid {
                        // The scaled grid's error, values re-rounded; kept when it is the best.
                        func tryFactor(_ f: Float) -> Float {
                            scaled.update(from: cand, count: blockBytes)
                            for k in grid.superScaleOffsets.indices {
                                grid.setSuperScale(grid.superScale(scaled, k) * f, scaled, k)
                            }
                            grid.scales(scaled, a, b)
                            let e = grid.round(x, wv, a, b, into: q, 0 ..< block)
                            if e < bestError {
                                bestError = e
                                grid.pack(q, scaled)
                                best.update(from: scaled, count: blockBytes)
                            }
                            return e
                        }
                        // Coarse sweep, then the two neighbours halfway around the best factor.
                        var bestF: Float = 1, bestE = Float.infinity
                        for f in coarseFactors {
                            let e = tryFactor(f)
                            if e < bestE { bestE = e; bestF = f }
                        }
                        _ = tryFactor(bestF - fineStep)
                        _ = tryFactor(bestF + fineStep)
                        if let refiner { bestError = refiner.refine(best, x, wv, error: bestError) }
                        if doUnshrink { unshrink(best, x, wv, grid, base, deq) }
                    }
                    (dst.assumingMemoryBound(to: UInt8.self) + (start / block) * blockBytes).update(from: best, count: blockBytes)
                }
            }
        }
    }
}
