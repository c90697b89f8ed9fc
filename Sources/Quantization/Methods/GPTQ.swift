import QKCore
import QuantFormats

/// GPTQ (Frantar et al. 2022) for GGUF block types: each row is quantized left to right, and
/// each value's rounding error is pushed onto the values not yet quantized through the
/// inverse Hessian of the layer input, so the layer's *output* on calibration text changes as
/// little as possible — not each weight.
///
/// For the types with a `BlockGrid` (legacy, k-quants, IQ4): when a row reaches a block, the
/// type's own quantizer chooses the block's scales from the error-updated values (weighted by
/// the Hessian diagonal or the imatrix); then the values are rounded one by one to that
/// block's grid, each error updating the rest of the block at once and the rest of the row once
/// per block (GPTQ's lazy batch). The integers go back into the same block format: same type,
/// same size, decoded by stock llama.cpp.
///
/// For lattice types (IQ1–IQ3, TQ, MXFP4), whose values are chosen jointly, the block is
/// quantized whole and its errors are then propagated the same way.
public enum GPTQ {
    /// A row quantizer for `type` that uses `factor` (the layer's inverse-Hessian factor) and
    /// `importance` (per column, for the block scale choice; default: the Hessian diagonal).
    public static func codec(_ type: GGMLType, factor: GPTQFactor, importance: [Float]? = nil) throws -> RowCodec {
        guard let base = QuantCodec.codec(type), type.isQuantized else {
            throw QuantKitError("GPTQ: \(type.name) is not a quantized type")
        }
        let n = factor.n
        let imp = importance ?? factor.importance
        guard imp.count == n else { throw QuantKitError("GPTQ: \(imp.count) importance values for a \(n)-wide layer") }
        let grid = BlockGrid.grid(for: type)
        let block = grid?.blockSize ?? type.blockSize
        let blockBytes = type.rowSize(block)
        return RowCodec(quantize: { src, dst, count, _ in
            precondition(count == n, "GPTQ factor is for rows of \(n), got \(count)")
            factor.u.withUnsafeBufferPointer { ub in
                imp.withUnsafeBufferPointer { ib in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: n + 4 * block) { buf in
                        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: block) { qb in
                            let w = buf.baseAddress!, deq = w + n, err = deq + block, a = err + block, b = a + block
                            let q = qb.baseAddress!, U = ub.baseAddress!, I = ib.baseAddress!
                            w.update(from: src, count: n)
                            for start in stride(from: 0, to: n, by: block) {
                                let out = dst.assumingMemoryBound(to: UInt8.self) + (start / block) * blockBytes
                                base.quantize(w + start, out, block, I + start)
                                if let grid {
                                    grid.scales(out, a, b)
                                    for i in 0 ..< block {
                                        let col = start + i
                                        let qi = grid.nearest(w[col], a: a[i], b: b[i])
                                        q[i] = UInt8(qi)
                                        let e = (w[col] - grid.value(qi, a: a[i], b: b[i])) / U[col * n + col]
                                        err[i] = e
                                        let urow = U + col * n
                                        for j in col + 1 ..< start + block { w[j] -= e * urow[j] }
                                    }
                                    grid.pack(q, out)
                                } else {
                                    base.dequantize(out, deq, block)
                                    for i in 0 ..< block {
                                        let col = start + i
                                        let e = (w[col] - deq[i]) / U[col * n + col]
                                        err[i] = e
                                        let urow = U + col * n
                                        for j in col + 1 ..< start + block { w[j] -= e * urow[j] }
                                    }
                                }
                                // The block's errors onto every later column (lazy batch update).
                                let rest = start + block
                                if rest < n {
                                    for i in 0 ..< block {
                                        let e = err[i]
                                        if e == 0 { continue }
                                        let urow = U + (start + i) * n
                                        for j in rest ..< n { w[j] -= e * urow[j] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }, dequantize: base.dequantize)
    }
}
