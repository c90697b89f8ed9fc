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
/// roundings. Lattice types (IQ1–IQ3…) only choose between ggml's candidates. Never worse than
/// ggml's block on that error, by construction.
public enum ScaleSearch {
    /// Factors applied to the block's super-scales (d, dmin): a coarse sweep, then a finer
    /// step either side of the best.
    static let coarseFactors: [Float] = (0 ..< 15).map { 0.86 + 0.02 * Float($0) }
    static let fineStep: Float = 0.01

    /// A row quantizer for `type` with the search described above; `importance` (per column,
    /// an imatrix row) weights the error when given.
    public static func codec(_ type: GGMLType) throws -> RowCodec {
        guard let base = QuantCodec.codec(type), type.isQuantized else {
            throw QuantKitError("search: \(type.name) is not a quantized type")
        }
        let grid = BlockGrid.grid(for: type)
        return RowCodec(quantize: { src, dst, n, importance in
            guard let grid else { return quantizeRow(base, type, nil, src, dst, n, importance, nil) }
            GridRefinement.with(grid) { r in quantizeRow(base, type, grid, src, dst, n, importance, r) }
        }, dequantize: base.dequantize, requiresImportance: base.requiresImportance)
    }

    /// One row: per block, ggml's candidates, the super-scale sweep, then the refinement.
    private static func quantizeRow(_ base: RowCodec, _ type: GGMLType, _ grid: BlockGrid?, _ src: UnsafePointer<Float>,
                                    _ dst: UnsafeMutableRawPointer, _ n: Int, _ importance: UnsafePointer<Float>?,
                                    _ refiner: GridRefinement?) {
        let block = grid?.blockSize ?? type.blockSize
        let blockBytes = type.rowSize(block)
        let requires = base.requiresImportance
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 5 * block) { fb in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 3 * blockBytes + block) { bb in
                let ones = fb.baseAddress!, deq = ones + block, a = deq + block, b = a + block, wv = b + block
                let cand = bb.baseAddress!, scaled = cand + blockBytes, best = scaled + blockBytes, q = best + blockBytes
                ones.initialize(repeating: 1, count: block)
                for start in stride(from: 0, to: n, by: block) {
                    let x = src + start
                    let weights: UnsafePointer<Float> = importance.map { $0 + start } ?? UnsafePointer(ones)
                    for i in 0 ..< block { wv[i] = weights[i] }
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
                    let paths: [UnsafePointer<Float>?] = requires ? [weights] : [nil, weights]
                    // ggml's candidates (without and with weights); the scale sweep then
                    // starts from the better of them.
                    for path in paths {
                        base.quantize(x, scaled, block, path)
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
                            var e: Float = 0
                            for i in 0 ..< block {
                                let qi = grid.nearest(x[i], a: a[i], b: b[i])
                                q[i] = UInt8(qi)
                                let d = grid.value(qi, a: a[i], b: b[i]) - x[i]
                                e += wv[i] * d * d
                            }
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
                    }
                    (dst.assumingMemoryBound(to: UInt8.self) + (start / block) * blockBytes).update(from: best, count: blockBytes)
                }
            }
        }
    }
}
