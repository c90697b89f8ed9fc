/// Lane-parallel form of `make_qkx2_quants` / `make_qkx3_quants` (the sub-block scale search of
/// Q2_K, Q4_K, Q5_K and the weighted Q4_1/Q5_1 paths), giving exactly the reference's result
/// (`KQuantHelpers.makeQkx2Quants`, which stays the spec).
///
/// The reference tries `nstep + 1` trial scales one after another. Each SIMD lane here runs one
/// trial with the reference's float operations in the same order (sums over the values stay
/// sequential within a lane), so eight trials cost about one. The trials are not independent:
/// an accepted trial moves `min`, which every later trial uses. The search is therefore
/// speculative: a window of eight trials is evaluated with the current `min`; the first one
/// that improves is accepted and the search restarts right after it with the new `min`.
/// Inputs with a non-finite value or weight go to the reference (NaN payloads could differ
/// between scalar and vector code).
enum KQuantFast {
    typealias V = SIMD8<Float>
    typealias I = SIMD8<Int32>

    /// `MAX(0, MIN(nmax, nearest_int(v)))` per lane, as a float. Exact for |v| < 2²²: there
    /// `v + 1.5·2²³` is `1.5·2²³ + nearest_int(v)` exactly, so clamping and subtracting in
    /// floats gives the reference's integer. Callers guarantee the bound.
    @inline(__always) static func levels(_ v: V, _ hi: V) -> V {
        let magic = V(repeating: 12582912)
        var t = v + magic
        t.replace(with: hi, where: t .> hi)
        t.replace(with: magic, where: t .< magic)
        return t - magic
    }

    @inline(__always) static func fabs(_ v: V) -> V {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7fff_ffff, to: V.self)
    }

    /// Same contract and result as `KQuantHelpers.makeQkx2Quants` (`laux` is only used when
    /// the input is handed to the reference).
    static func makeQkx2Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ laux: UnsafeMutablePointer<UInt8>,
                               _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMad: Bool) -> Float {
        var finite = true
        for i in 0 ..< n where !(x[i].isFinite && weights[i].isFinite) { finite = false }
        if !finite || nstep < 1 {
            return KQuantHelpers.makeQkx2Quants(n, nmax, x, weights, L, &theMin, laux, rmin, rdelta, nstep, useMad)
        }
        var min = x[0]
        var max = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1 ..< n {
            if x[i] < min { min = x[i] }
            if x[i] > max { max = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if min > 0 { min = 0 }
        if max == min {
            for i in 0 ..< n { L[i] = 0 }
            theMin = -min
            return 0
        }
        let iscale0 = Float(nmax) / (max - min)
        var scale = 1 / iscale0
        var bestError: Float = 0
        for i in 0 ..< n {
            let l = KQuantHelpers.nearestInt(iscale0 * (x[i] - min))
            L[i] = UInt8(truncatingIfNeeded: KQuantHelpers.clamp(l, 0, nmax))
            var diff = scale * Float(L[i]) + min - x[i]
            diff = useMad ? abs(diff) : diff * diff
            bestError += weights[i] * diff
        }

        let hi = V(repeating: 12582912 + Float(nmax))
        let lane = V(0, 1, 2, 3, 4, 5, 6, 7)
        let sW = V(repeating: sumW), sX = V(repeating: sumX)
        let (xLo, xHi) = (min, max)  // extremes of x (min after its clamp to ≤ 0 is still ≤ every x)
        var best: (iscale: Float, min: Float)? = nil
        var step = 0
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { xmBuf in
            withUnsafeTemporaryAllocation(of: V.self, capacity: n) { lvBuf in
                let xm = xmBuf.baseAddress!, lv = lvBuf.baseAddress!
                var xmFor = Float.nan
                while step <= nstep {
                    if xmFor.bitPattern != min.bitPattern {
                        for i in 0 ..< n { xm[i] = x[i] - min }
                        xmFor = min
                    }
                    let steps = V(repeating: Float(step)) + lane
                    let iscale = (V(repeating: rmin) + V(repeating: rdelta) * steps + V(repeating: Float(nmax))) / V(repeating: max - min)
                    // `levels` needs |iscale·(x − min)| < 2²² in every lane; rounding is monotone,
                    // so the product is largest at an extreme of x. Otherwise (or on NaN) the
                    // reference decides.
                    let bound = Swift.max(abs(xLo - min), abs(xHi - min))
                    guard (fabs(iscale) * V(repeating: bound)).max() < 4194304 else {
                        return KQuantHelpers.makeQkx2Quants(n, nmax, x, weights, L, &theMin, laux, rmin, rdelta, nstep, useMad)
                    }
                    var sL = V(), sL2 = V(), sXL = V()
                    for i in 0 ..< n {
                        let lf = levels(iscale * V(repeating: xm[i]), hi)
                        lv[i] = lf
                        let wl = V(repeating: weights[i]) * lf
                        sL += wl
                        sL2 += wl * lf
                        sXL += wl * V(repeating: x[i])
                    }
                    let D = sW * sL2 - sL * sL
                    var thisScale = (sW * sXL - sX * sL) / D
                    var thisMin = (sL2 * sX - sL * sXL) / D
                    let clampMin = thisMin .> 0
                    thisMin.replace(with: 0, where: clampMin)
                    thisScale.replace(with: sXL / sL2, where: clampMin)
                    var err = V()
                    if useMad {
                        for i in 0 ..< n {
                            let diff = thisScale * lv[i] + thisMin - V(repeating: x[i])
                            err += V(repeating: weights[i]) * fabs(diff)
                        }
                    } else {
                        for i in 0 ..< n {
                            let diff = thisScale * lv[i] + thisMin - V(repeating: x[i])
                            err += V(repeating: weights[i]) * (diff * diff)
                        }
                    }
                    var accepted = -1
                    for k in 0 ..< Swift.min(8, nstep + 1 - step) where D[k] > 0 && err[k] < bestError {
                        accepted = k
                        break
                    }
                    guard accepted >= 0 else {
                        step += 8
                        continue
                    }
                    bestError = err[accepted]
                    scale = thisScale[accepted]
                    best = (iscale[accepted], min)
                    min = thisMin[accepted]
                    step += accepted + 1
                }
                if let best {
                    for i in 0 ..< n {
                        let l = KQuantHelpers.nearestInt(best.iscale * (x[i] - best.min))
                        L[i] = UInt8(truncatingIfNeeded: KQuantHelpers.clamp(l, 0, nmax))
                    }
                }
                theMin = -min
                return scale
            }
        }
    }

    /// `make_qkx3_quants` (squared error), lane-parallel; see `KQuantHelpers.makeQkx3Quants`.
    static func makeQkx3Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ laux: UnsafeMutablePointer<UInt8>,
                               _ rmin: Float, _ rdelta: Float, _ nstep: Int) -> Float {
        makeQkx2Quants(n, nmax, x, weights, L, &theMin, laux, rmin, rdelta, nstep, false)
    }
}
