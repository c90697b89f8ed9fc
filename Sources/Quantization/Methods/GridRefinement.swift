import QKCore
import QuantFormats

/// The `search` method's last step for affine grids (legacy types and k-quants), starting from
/// the best block found so far:
///
/// 1. **Coordinate descent on sub-scales** (k-quants): each sub-block's integer scale (and min)
///    is moved within ±4 with that sub-block's values re-rounded, keeping a move whenever the
///    sub-block's (weighted) squared error drops; up to two sweeps.
/// 2. **Balanced ties:** a value exactly halfway between two levels has the same error either
///    way. Weights that already sit on a finer grid put many values there (a Q5_0 block
///    quantized to Q4_0 at twice its scale has every odd level halfway), and ggml rounds them
///    all the same way, which adds the same error to each: a bias on the block's sum, which
///    every input channel with a non-zero mean turns into an output error. Each tie's
///    direction is chosen to keep the block's error sum nearest zero; the squared error stays.
///
/// Every change is kept only if the block's error does not grow, so the result is never worse
/// than the block it started from. (A least-squares refit of the f16 super-scales, with the same
/// sub-scale moves on IQ4_XS, lowered the squared error further but raised the KL divergence on
/// SmolLM2 IQ4_XS and on Qwen2.5 IQ4_XS and Q4_0; so there is no refit, and the codebook types
/// keep the sweep's block.)
struct GridRefinement {
    let grid: BlockGrid
    let subScales: SubScales?
    let n: Int
    // Scratch, owned by the caller: a, b, a2, b2 (n floats each); q, q2 (n bytes); trial
    // and saved (blockBytes each); ints (count·fields).
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    let a2: UnsafeMutablePointer<Float>, b2: UnsafeMutablePointer<Float>
    let q: UnsafeMutablePointer<UInt8>, q2: UnsafeMutablePointer<UInt8>
    let trial: UnsafeMutablePointer<UInt8>, saved: UnsafeMutablePointer<UInt8>
    let ints: UnsafeMutablePointer<Int32>

    static let subScaleMoves: [Int32] = [-4, -3, -2, -1, 1, 2, 3, 4]
    /// How close (in units of the value's scale) two levels' distances must be to count as a tie.
    static let tieTolerance: Float = 1e-6

    /// Runs `body` with a refiner whose scratch lives for the call.
    static func with<R>(_ grid: BlockGrid, _ body: (GridRefinement) -> R) -> R {
        let n = grid.blockSize, sub = grid.subScales
        let nInts = sub.map { $0.count * $0.fields } ?? 0
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * n) { f in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 2 * n + 2 * grid.blockBytes) { u in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: nInts + 1) { i in
                    let fp = f.baseAddress!, up = u.baseAddress!
                    return body(GridRefinement(
                        grid: grid, subScales: sub, n: n,
                        a: fp, b: fp + n, a2: fp + 2 * n, b2: fp + 3 * n,
                        q: up, q2: up + n, trial: up + 2 * n, saved: up + 2 * n + grid.blockBytes, ints: i.baseAddress!))
                }
            }
        }
    }

    /// `trial` with every value re-rounded under its own scales: kept in `block` (with `q`,
    /// `a`, `b`) when its error is below `best`. Returns the new best error.
    private func keepIfBetter(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ best: Float) -> Float {
        grid.scales(trial, a2, b2)
        let e = grid.round(x, w, a2, b2, into: q2, 0 ..< n)
        guard e < best, e.isFinite else { return best }
        grid.pack(q2, trial)
        block.update(from: trial, count: grid.blockBytes)
        q.update(from: q2, count: n); a.update(from: a2, count: n); b.update(from: b2, count: n)
        return e
    }

    /// Improves `block` (the encoding of `x` whose weighted error is `error`) in place and
    /// returns its new error, never above `error`.
    func refine(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, error: Float) -> Float {
        guard grid.table == nil else { return error }
        var best = error
        // The block's own scales, every value at its nearest level.
        trial.update(from: block, count: grid.blockBytes)
        best = keepIfBetter(block, x, w, best)
        if let sub = subScales {
            for _ in 0 ..< 2 {
                let before = best
                best = descendSubScales(sub, block, x, w, best)
                if !(best < before) { break }
            }
        }
        return balanceTies(block, x, w, best)
    }

    /// Step 1: one sweep over every sub-block's scale (and min), each moved within ±4 of its
    /// value with the sub-block's values re-rounded.
    private func descendSubScales(_ sub: SubScales, _ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>,
                                  _ w: UnsafePointer<Float>, _ error: Float) -> Float {
        saved.update(from: block, count: grid.blockBytes)
        let d = grid.superScale(block, 0), dmin = grid.superScaleOffsets.count > 1 ? grid.superScale(block, 1) : 0
        grid.scales(block, a, b)
        sub.read(block, ints)
        for s in 0 ..< sub.count {
            let lo = s * sub.size, hi = lo + sub.size
            var subError = grid.round(x, w, a, b, into: q, lo ..< hi)
            for f in 0 ..< sub.fields {
                let k = s * sub.fields + f
                let start = ints[k]
                var bestValue = start
                for move in Self.subScaleMoves {
                    let v = start + move
                    guard sub.range.contains(v) else { continue }
                    let sc = f == 0 ? v : ints[k - 1], m = f == 0 ? (sub.fields > 1 ? ints[k + 1] : 0) : v
                    // a2, b2 are free until the whole block is measured below.
                    let (na, nb) = sub.decoded(scale: sc, min: m, d: d, dmin: dmin)
                    (a2 + lo).update(repeating: na, count: sub.size)
                    (b2 + lo).update(repeating: nb, count: sub.size)
                    let e = grid.round(x, w, a2, b2, into: q2, lo ..< hi)
                    if e < subError {
                        subError = e
                        bestValue = v
                        for i in lo ..< hi { q[i] = q2[i]; a[i] = na; b[i] = nb }
                    }
                }
                ints[k] = bestValue
            }
        }
        sub.write(ints, block)
        grid.pack(q, block)
        // Sums per sub-block can differ from the block's in the last bits: keep the result only
        // if the whole block, measured as everywhere else, is better.
        grid.scales(block, a2, b2)
        let e = grid.round(x, w, a2, b2, into: q2, 0 ..< n)
        if e < error { return e }
        block.update(from: saved, count: grid.blockBytes)
        return error
    }

    /// Step 2: ties rounded so that the block's error sum stays nearest zero.
    private func balanceTies(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ error: Float) -> Float {
        grid.scales(block, a, b)
        grid.unpack(block, q)
        var sum: Float = 0
        var ties = 0
        for i in 0 ..< n {
            let qi = Int(q[i])
            let e = grid.value(qi, a: a[i], b: b[i]) - x[i]
            // The level on the far side of x, if x is halfway to it.
            let other = e > 0 ? qi - 1 : qi + 1
            if e != 0, other >= 0, other < grid.levels,
               abs(abs(grid.value(other, a: a[i], b: b[i]) - x[i]) - abs(e)) <= Self.tieTolerance * abs(a[i]) {
                q2[i] = 1
                ties += 1
            } else {
                q2[i] = 0
                sum += e
            }
        }
        guard ties > 1 else { return error }
        for i in 0 ..< n where q2[i] == 1 {
            let qi = Int(q[i])
            let e = grid.value(qi, a: a[i], b: b[i]) - x[i]
            let eo = grid.value(e > 0 ? qi - 1 : qi + 1, a: a[i], b: b[i]) - x[i]
            if abs(sum + eo) < abs(sum + e) {
                q[i] = UInt8(e > 0 ? qi - 1 : qi + 1)
                sum += eo
            } else {
                sum += e
            }
        }
        trial.update(from: block, count: grid.blockBytes)
        grid.pack(q, trial)
        var e: Float = 0
        for i in 0 ..< n {
            let d = grid.value(Int(q[i]), a: a[i], b: b[i]) - x[i]
            e += w[i] * d * d
        }
        // Halfway in exact arithmetic; allow the last bits of the squared error.
        guard e.isFinite, e <= error * (1 + 1e-6) else { return error }
        block.update(from: trial, count: grid.blockBytes)
        return e
    }
}

extension BlockGrid {
    /// The nearest level's integer for each value of `x` in `range`, under that value's scales
    /// `a`, `b`, written to `q`; returns their `w`-weighted squared error as decoded.
    @inline(__always)
    func round(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
               into q: UnsafeMutablePointer<UInt8>, _ range: Range<Int>) -> Float {
        var e: Float = 0
        for i in range {
            let qi = nearest(x[i], a: a[i], b: b[i])
            q[i] = UInt8(qi)
            let d = value(qi, a: a[i], b: b[i]) - x[i]
            e += w[i] * d * d
        }
        return e
    }
}
