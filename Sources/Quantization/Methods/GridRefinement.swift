import QKCore
import QuantFormats

/// The `search` method's last step for grid types: starting from the best block found so far,
/// lower its (weighted) squared error as decoded by changing what ggml's quantizers fix early:
///
/// 1. **Super-scale refit:** with the integers held, the f16 super-scales (d, and dmin where the
///    type has one) that minimise the error are a small least-squares problem; the solution is
///    rounded to f16, every value re-rounded, and the step repeated while it helps; the f16
///    neighbours of the result are tried too.
/// 2. **Coordinate descent on sub-scales** (k-quants, IQ4_XS): each sub-block's integer scale
///    (and min) is moved by up to ±4 with that sub-block's values re-rounded, keeping a move
///    whenever the sub-block's error drops; two sweeps, then the refit again.
///
/// Every change is kept only if the block's error drops, so the result is never worse than the
/// block it started from.
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
    static let refitRounds = 3

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

    /// Nearest-level integers for values `lo..<hi` under scales `sa`, `sb`, into `out`; returns
    /// their weighted squared error.
    @inline(__always)
    func round(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ sa: UnsafeMutablePointer<Float>, _ sb: UnsafeMutablePointer<Float>,
               _ out: UnsafeMutablePointer<UInt8>, _ lo: Int, _ hi: Int) -> Float {
        var e: Float = 0
        for i in lo ..< hi {
            let qi = grid.nearest(x[i], a: sa[i], b: sb[i])
            out[i] = UInt8(qi)
            let d = grid.value(qi, a: sa[i], b: sb[i]) - x[i]
            e += w[i] * d * d
        }
        return e
    }

    private func loadF16(_ p: UnsafePointer<UInt8>, _ off: Int) -> Float {
        Float(Float16(bitPattern: UInt16(p[off]) | UInt16(p[off + 1]) << 8))
    }

    private func storeF16(_ v: Float, _ p: UnsafeMutablePointer<UInt8>, _ off: Int) {
        let bits = Float16(v).bitPattern
        p[off] = UInt8(truncatingIfNeeded: bits)
        p[off + 1] = UInt8(truncatingIfNeeded: bits >> 8)
    }

    /// `trial` with every value re-rounded under its own scales: kept in `block` (with `q`,
    /// `a`, `b`) when its error is below `best`. Returns the new best error.
    private func keepIfBetter(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ best: Float) -> Float {
        grid.scales(trial, a2, b2)
        let e = round(x, w, a2, b2, q2, 0, n)
        guard e < best, e.isFinite else { return best }
        grid.pack(q2, trial)
        block.update(from: trial, count: grid.blockBytes)
        q.update(from: q2, count: n); a.update(from: a2, count: n); b.update(from: b2, count: n)
        return e
    }

    /// Improves `block` (the encoding of `x` whose weighted error is `error`) in place and
    /// returns its new error, never above `error`.
    func refine(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, error: Float) -> Float {
        var best = error
        // The block's own scales, every value at its nearest level.
        trial.update(from: block, count: grid.blockBytes)
        best = keepIfBetter(block, x, w, best)
        best = refitSuperScales(block, x, w, best)
        if let sub = subScales {
            for _ in 0 ..< 2 {
                let before = best
                best = descendSubScales(sub, block, x, w, best)
                if !(best < before) { break }
            }
            best = refitSuperScales(block, x, w, best)
        }
        return best
    }

    /// Step 1: least-squares super-scales for the current integers, then their f16 neighbours.
    private func refitSuperScales(_ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ error: Float) -> Float {
        var best = error
        let offs = grid.superScaleOffsets
        grid.scales(block, a, b)
        grid.unpack(block, q)
        for _ in 0 ..< Self.refitRounds {
            let d = loadF16(block, offs[0])
            let dmin = offs.count > 1 ? loadF16(block, offs[1]) : 0
            guard d != 0 else { return best }
            // value i = d·pᵢ + dmin·rᵢ with pᵢ = (aᵢ/d)·g(qᵢ), rᵢ = bᵢ/dmin.
            var spp: Double = 0, spr: Double = 0, srr: Double = 0, spx: Double = 0, srx: Double = 0
            for i in 0 ..< n {
                let p = Double(a[i] / d) * Double(grid.level(Int(q[i])))
                let r = dmin != 0 ? Double(b[i] / dmin) : 0
                let wi = Double(w[i]), xi = Double(x[i])
                spp += wi * p * p; spr += wi * p * r; srr += wi * r * r
                spx += wi * p * xi; srx += wi * r * xi
            }
            var nd = d, nm = dmin
            if offs.count > 1 && dmin != 0 {
                let det = spp * srr - spr * spr
                guard det > 1e-12 * spp * srr else { break }
                nd = Float((spx * srr - srx * spr) / det)
                nm = Float((spp * srx - spr * spx) / det)
            } else {
                guard spp > 0 else { break }
                nd = Float(spx / spp)
            }
            guard nd.isFinite, nm.isFinite else { break }
            trial.update(from: block, count: grid.blockBytes)
            storeF16(nd, trial, offs[0])
            if offs.count > 1 && dmin != 0 { storeF16(nm, trial, offs[1]) }
            let before = best
            best = keepIfBetter(block, x, w, best)
            if !(best < before) { break }
        }
        // One f16 step either way on each super-scale.
        for off in offs {
            for step: Int16 in [-1, 1] {
                trial.update(from: block, count: grid.blockBytes)
                let bits = UInt16(block[off]) | UInt16(block[off + 1]) << 8
                let moved = UInt16(bitPattern: Int16(bitPattern: bits) &+ step)
                guard Float16(bitPattern: moved).isFinite else { continue }
                trial[off] = UInt8(truncatingIfNeeded: moved)
                trial[off + 1] = UInt8(truncatingIfNeeded: moved >> 8)
                best = keepIfBetter(block, x, w, best)
            }
        }
        return best
    }

    /// Step 2: one sweep over every sub-block's scale (and min), each moved within ±4 of its
    /// value with the sub-block's values re-rounded.
    private func descendSubScales(_ sub: SubScales, _ block: UnsafeMutablePointer<UInt8>, _ x: UnsafePointer<Float>,
                                  _ w: UnsafePointer<Float>, _ error: Float) -> Float {
        saved.update(from: block, count: grid.blockBytes)
        let offs = grid.superScaleOffsets
        let d = loadF16(block, offs[0]), dmin = offs.count > 1 ? loadF16(block, offs[1]) : 0
        grid.scales(block, a, b)
        sub.read(block, ints)
        for s in 0 ..< sub.count {
            let lo = s * sub.size, hi = lo + sub.size
            var subError = round(x, w, a, b, q, lo, hi)
            for f in 0 ..< sub.fields {
                let k = s * sub.fields + f
                let start = ints[k]
                var bestValue = start
                for move in Self.subScaleMoves {
                    let v = start + move
                    guard sub.range.contains(v) else { continue }
                    let sc = f == 0 ? v : ints[k - 1], m = f == 0 ? (sub.fields > 1 ? ints[k + 1] : 0) : v
                    let (na, nb) = sub.decoded(scale: sc, min: m, d: d, dmin: dmin)
                    for i in lo ..< hi { a2[i] = na; b2[i] = nb }
                    let e = round(x, w, a2, b2, q2, lo, hi)
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
        let e = round(x, w, a2, b2, q2, 0, n)
        if e < error { return e }
        block.update(from: saved, count: grid.blockBytes)
        return error
    }
}
