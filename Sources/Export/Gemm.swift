import QKCore

/// A small F32 matrix product for calibration work (AWQ's output-error search):
/// C[m×n] (+)= A[m×k] · B[n×k]ᵀ, all row-major, both operands read along k so every inner
/// loop is a contiguous dot product. Blocks of 4×2 outputs share their loads; rows of C are
/// spread over the pool. Not bit-exact with anything: only used where float error is fine.
public enum Gemm {
    /// C = A·Bᵀ (or C += A·Bᵀ with `accumulate`).
    public static func nt(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                          m: Int, n: Int, k: Int, accumulate: Bool = false, pool: ThreadPool = .shared) {
        let rowBlocks = (m + 3) / 4
        let colBlock = 64
        let colBlocks = (n + colBlock - 1) / colBlock
        pool.parallelFor(rowBlocks * colBlocks) { task in
            let i0 = (task / colBlocks) * 4, j0 = (task % colBlocks) * colBlock
            let i1 = min(m, i0 + 4), j1 = min(n, j0 + colBlock)
            var j = j0
            while j < j1 {
                let jn = min(2, j1 - j)
                if i1 - i0 == 4 && jn == 2 {
                    block4x2(a + i0 * k, b + j * k, k: k, c: c + i0 * n + j, ldc: n, accumulate: accumulate)
                } else {
                    for i in i0 ..< i1 {
                        for jj in j ..< j + jn {
                            let d = dot(a + i * k, b + jj * k, k)
                            c[i * n + jj] = accumulate ? c[i * n + jj] + d : d
                        }
                    }
                }
                j += jn
            }
        }
    }

    /// Σ x[i]·y[i].
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ k: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        var p = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while p + 16 <= k {
            s0 = s0.addingProduct(rx.loadUnaligned(fromByteOffset: p * 4, as: SIMD8<Float>.self),
                                  ry.loadUnaligned(fromByteOffset: p * 4, as: SIMD8<Float>.self))
            s1 = s1.addingProduct(rx.loadUnaligned(fromByteOffset: p * 4 + 32, as: SIMD8<Float>.self),
                                  ry.loadUnaligned(fromByteOffset: p * 4 + 32, as: SIMD8<Float>.self))
            p += 16
        }
        var s = (s0 + s1).sum()
        while p < k { s += x[p] * y[p]; p += 1 }
        return s
    }

    @inline(__always)
    private static func block4x2(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, k: Int,
                                 c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        let sa = k * 4
        var p = 0
        while p + 8 <= k {
            let o = p * 4
            let b0 = rb.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            let b1 = rb.loadUnaligned(fromByteOffset: sa + o, as: SIMD8<Float>.self)
            let a0 = ra.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            c00 = c00.addingProduct(a0, b0); c01 = c01.addingProduct(a0, b1)
            let a1 = ra.loadUnaligned(fromByteOffset: sa + o, as: SIMD8<Float>.self)
            c10 = c10.addingProduct(a1, b0); c11 = c11.addingProduct(a1, b1)
            let a2 = ra.loadUnaligned(fromByteOffset: 2 * sa + o, as: SIMD8<Float>.self)
            c20 = c20.addingProduct(a2, b0); c21 = c21.addingProduct(a2, b1)
            let a3 = ra.loadUnaligned(fromByteOffset: 3 * sa + o, as: SIMD8<Float>.self)
            c30 = c30.addingProduct(a3, b0); c31 = c31.addingProduct(a3, b1)
            p += 8
        }
        var r = SIMD8<Float>(c00.sum(), c01.sum(), c10.sum(), c11.sum(), c20.sum(), c21.sum(), c30.sum(), c31.sum())
        while p < k {
            for i in 0 ..< 4 {
                r[2 * i] += a[i * k + p] * b[p]
                r[2 * i + 1] += a[i * k + p] * b[k + p]
            }
            p += 1
        }
        for i in 0 ..< 4 {
            for j in 0 ..< 2 {
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + r[2 * i + j] : r[2 * i + j]
            }
        }
    }
}
