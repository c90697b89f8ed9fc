/// The numerical building blocks of ggml's k-quant and legacy quantizers, ported operation for
/// operation from `ggml-quants.c` (`nearest_int`, `make_qx_quants`, `make_q3_quants`,
/// `make_qkx2_quants`, `make_qkx3_quants`, `make_qp_quants`, `get_scale_min_k4`).
///
/// ggml builds these with plain `-O3` (no FMA, no fast-math), so every float operation below is
/// written in the C source's order, one rounding each; sums run in the same order. C's implicit
/// conversions are spelled out: `int`→`float` where C promotes, truncating stores into
/// `uint8_t`/`int8_t` arrays, and `MAX`/`MIN` as the ternaries the macros expand to.
/// Scratch arrays are the caller's (stack) memory; nothing here allocates.
enum KQuantHelpers {
    /// `GROUP_MAX_EPS`: a group whose largest magnitude is below this quantizes to zeros.
    static let groupMaxEps: Float = 1e-15

    /// ggml's `nearest_int`: adds 1.5·2²³ and reads the low mantissa bits, i.e. rounds to
    /// nearest with ties to even for |x| < 2²² (and wraps, like ggml, beyond).
    @inline(__always) static func nearestInt(_ f: Float) -> Int {
        let v = f + 12582912
        return Int(v.bitPattern & 0x007f_ffff) &- 0x0040_0000
    }

    /// C's `MAX(a, b)` macro: `a > b ? a : b` (differs from `Swift.max` on ties and NaN).
    @inline(__always) static func cMax(_ a: Int, _ b: Int) -> Int { a > b ? a : b }
    /// C's `MIN(a, b)` macro: `a < b ? a : b`.
    @inline(__always) static func cMin(_ a: Int, _ b: Int) -> Int { a < b ? a : b }
    /// `MAX(lo, MIN(hi, l))` for lo ≤ hi, without branches (the hot loops' clamps are
    /// unpredictable; integer arithmetic gives exactly the same value).
    @inline(__always) static func clamp(_ l: Int, _ lo: Int, _ hi: Int) -> Int {
        let a = l &- hi
        let m = hi &+ (a & (a >> 63))  // min(l, hi)
        let b = m &- lo
        return lo &+ (b & ~(b >> 63))  // max(m, lo)
    }

    /// C's `MAX(a, b)` on floats.
    @inline(__always) static func cMax(_ a: Float, _ b: Float) -> Float { a > b ? a : b }

    /// A C float→integer cast as x86-64 performs it (`cvttss2si`): truncation toward zero,
    /// and 0x80000000 for NaN or out-of-range values. The caller truncates further to the
    /// destination width, as C stores do.
    @inline(__always) static func cvtt(_ f: Float) -> Int32 {
        (f > -2_147_483_904 && f < 2_147_483_648) ? Int32(f) : Int32.min
    }

    /// `lroundf` (glibc, x86-64): round half away from zero; NaN or overflow gives `LONG_MIN`.
    @inline(__always) static func lround(_ f: Float) -> Int64 {
        let r = f.rounded()
        return (r > -9.223372e18 && r < 9.223372e18) ? Int64(r) : Int64.min
    }

    /// `GGML_FP32_TO_FP16`: round to nearest even; NaN becomes 0x7E00 with the sign kept.
    @inline(__always) static func f16Bits(_ x: Float) -> UInt16 {
        if x.isNaN { return UInt16(truncatingIfNeeded: x.bitPattern >> 16) & 0x8000 | 0x7e00 }
        return Float16(x).bitPattern
    }

    /// Stores `x` as a little-endian F16 at `p`.
    @inline(__always) static func storeF16(_ x: Float, _ p: UnsafeMutablePointer<UInt8>) {
        let b = f16Bits(x)
        p[0] = UInt8(truncatingIfNeeded: b)
        p[1] = UInt8(truncatingIfNeeded: b >> 8)
    }

    /// Reads the little-endian F16 at `p` as F32 (exact).
    @inline(__always) static func loadF16(_ p: UnsafePointer<UInt8>) -> Float {
        Float(Float16(bitPattern: UInt16(p[0]) | UInt16(p[1]) << 8))
    }

    /// `make_qx_quants(n, nmax, x, L, rmse_type = 1, qw)`: symmetric quantization of `n`
    /// values to `L[i] ∈ [0, 2·nmax)` (stored offset by `nmax`), choosing among 19 candidate
    /// scales the one minimising the weighted squared error; weights are `qw`, or x² when nil.
    /// Returns the scale. (ggml's other `rmse_type`s are unused by the types ported here.)
    static func makeQxQuants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                             _ qw: UnsafePointer<Float>?) -> Float {
        if let qw { return makeQxQuants(n, nmax, x, L, weights: qw) }
        // ggml computes w = x·x inline; computing it up front gives the same floats.
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { w in
            for i in 0 ..< n { w[i] = x[i] * x[i] }
            return makeQxQuants(n, nmax, x, L, weights: UnsafePointer(w.baseAddress!))
        }
    }

    /// `make_qx_quants` with the 18 trial scales searched side by side in SIMD lanes. Each lane
    /// performs exactly the scalar loop's operations for its step, in the same order and with
    /// one rounding each, so the sums (and the chosen scale) are bit-identical; only the
    /// comparison of the steps runs afterwards, in ggml's step order.
    @inline(__always)
    static func makeQxQuants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                             weights qw: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        var amax: Float = 0
        for i in 0 ..< n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0 ..< n { L[i] = 0 }
            return 0
        }
        var iscale = Float(-nmax) / max
        var sumlx: Float = 0
        var suml2: Float = 0
        for i in 0 ..< n {
            var l = nearestInt(iscale * x[i])
            l = clamp(l, -nmax, nmax - 1)
            L[i] = Int8(truncatingIfNeeded: l &+ nmax)
            let w = qw[i]
            let lf = Float(l)
            sumlx += w * x[i] * lf
            suml2 += w * lf * lf
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        // Lanes 0..<18 hold steps -9…-1, 1…9; the rest repeat step 9 and are ignored.
        var scaleA = SIMD8<Float>(), scaleB = SIMD8<Float>(), scaleC = SIMD8<Float>()
        for lane in 0 ..< 24 {
            let k = min(lane, 17)
            let step = k < 9 ? k - 9 : k - 8
            let v = -(Float(nmax) + 0.1 * Float(step)) / max
            if lane < 8 { scaleA[lane] = v } else if lane < 16 { scaleB[lane - 8] = v } else { scaleC[lane - 16] = v }
        }
        let lo = SIMD8<Int32>(repeating: Int32(-nmax)), hi = SIMD8<Int32>(repeating: Int32(nmax - 1))
        @inline(__always) func levels(_ s: SIMD8<Float>, _ xi: Float) -> SIMD8<Float> {
            let v = s * SIMD8(repeating: xi) + SIMD8(repeating: 12582912)
            let bits = unsafeBitCast(v, to: SIMD8<Int32>.self)
            var l = (bits & 0x007f_ffff) &- 0x0040_0000
            l = l.replacing(with: hi, where: l .> hi)
            l = l.replacing(with: lo, where: l .< lo)
            return SIMD8<Float>(l)
        }
        var lxA = SIMD8<Float>(), lxB = SIMD8<Float>(), lxC = SIMD8<Float>()
        var l2A = SIMD8<Float>(), l2B = SIMD8<Float>(), l2C = SIMD8<Float>()
        for i in 0 ..< n {
            let xi = x[i], w = qw[i]
            let wx = SIMD8<Float>(repeating: w * xi)
            let wv = SIMD8<Float>(repeating: w)
            let a = levels(scaleA, xi), b = levels(scaleB, xi), c = levels(scaleC, xi)
            lxA += wx * a; lxB += wx * b; lxC += wx * c
            l2A += wv * a * a; l2B += wv * b * b; l2C += wv * c * c
        }
        for k in 0 ..< 18 {
            let (slx, sl2, isc): (Float, Float, Float) = k < 8 ? (lxA[k], l2A[k], scaleA[k])
                : k < 16 ? (lxB[k - 8], l2B[k - 8], scaleB[k - 8]) : (lxC[k - 16], l2C[k - 16], scaleC[k - 16])
            if sl2 > 0 && slx * slx > best * sl2 {
                iscale = isc
                sumlx = slx
                suml2 = sl2
                for i in 0 ..< n {
                    let l = nearestInt(iscale * x[i])
                    L[i] = Int8(truncatingIfNeeded: nmax &+ clamp(l, -nmax, nmax - 1))
                }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// The scalar form of the search, step after step exactly as ggml writes it: the
    /// specification the lane-parallel `makeQxQuants(_:_:_:_:weights:)` is tested against.
    static func makeQxQuantsReference(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                                     weights qw: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        var amax: Float = 0
        for i in 0 ..< n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0 ..< n { L[i] = 0 }
            return 0
        }
        var iscale = Float(-nmax) / max
        var sumlx: Float = 0
        var suml2: Float = 0
        for i in 0 ..< n {
            var l = nearestInt(iscale * x[i])
            l = clamp(l, -nmax, nmax - 1)
            L[i] = Int8(truncatingIfNeeded: l &+ nmax)
            let w = qw[i]
            let lf = Float(l)
            sumlx += w * x[i] * lf
            suml2 += w * lf * lf
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9 ... 9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / max
            sumlx = 0
            suml2 = 0
            for i in 0 ..< n {
                var l = nearestInt(iscale * x[i])
                l = clamp(l, -nmax, nmax - 1)
                let w = qw[i]
                let lf = Float(l)
                sumlx += w * x[i] * lf
                suml2 += w * lf * lf
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0 ..< n {
                    let l = nearestInt(iscale * x[i])
                    L[i] = Int8(truncatingIfNeeded: nmax &+ clamp(l, -nmax, nmax - 1))
                }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// `make_q3_quants(n, nmax, x, L, do_rmse)`: like `makeQxQuants` but, with `doRmse`, refines
    /// the x²-weighted least-squares fit by moving single values (up to 5 passes).
    /// `L[i] ∈ [0, 2·nmax)`; returns the scale.
    static func makeQ3Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>,
                             _ doRmse: Bool) -> Float {
        var max: Float = 0
        var amax: Float = 0
        for i in 0 ..< n {
            let ax = abs(x[i])
            if ax > amax { amax = ax; max = x[i] }
        }
        if amax < groupMaxEps {
            for i in 0 ..< n { L[i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / max
        if doRmse {
            var sumlx: Float = 0
            var suml2: Float = 0
            for i in 0 ..< n {
                var l = nearestInt(iscale * x[i])
                l = clamp(l, -nmax, nmax - 1)
                L[i] = Int8(truncatingIfNeeded: l)
                let w = x[i] * x[i]
                let lf = Float(l)
                sumlx += w * x[i] * lf
                suml2 += w * lf * lf
            }
            for _ in 0 ..< 5 {
                var changed = 0
                for i in 0 ..< n {
                    let w = x[i] * x[i]
                    let li = Float(L[i])
                    var slx = sumlx - w * x[i] * li
                    if slx > 0 {
                        var sl2 = suml2 - w * li * li
                        var newL = nearestInt(x[i] * sl2 / slx)
                        newL = clamp(newL, -nmax, nmax - 1)
                        if newL != Int(L[i]) {
                            let nf = Float(newL)
                            slx += w * x[i] * nf
                            sl2 += w * nf * nf
                            if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                                L[i] = Int8(truncatingIfNeeded: newL)
                                sumlx = slx
                                suml2 = sl2
                                changed += 1
                            }
                        }
                    }
                }
                if changed == 0 { break }
            }
            for i in 0 ..< n { L[i] = L[i] &+ Int8(truncatingIfNeeded: nmax) }
            return suml2 > 0 ? sumlx / suml2 : 0
        }
        for i in 0 ..< n {
            var l = nearestInt(iscale * x[i])
            l = clamp(l, -nmax, nmax - 1)
            L[i] = Int8(truncatingIfNeeded: l &+ nmax)
        }
        return 1 / iscale
    }

    /// `make_qkx2_quants`: asymmetric quantization x ≈ scale·L − theMin with `L ∈ [0, nmax]`,
    /// searching `nstep + 1` candidate scales (`(rmin + rdelta·is + nmax)/(max − min)`) and
    /// refitting scale and min by weighted least squares; the error is weighted absolute
    /// (`useMad`) or squared. `laux` is scratch of `n` bytes. Returns the scale; `theMin` ≥ 0.
    static func makeQkx2Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ laux: UnsafeMutablePointer<UInt8>,
                               _ rmin: Float, _ rdelta: Float, _ nstep: Int, _ useMad: Bool) -> Float {
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
        var iscale = Float(nmax) / (max - min)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0 ..< n {
            let l = nearestInt(iscale * (x[i] - min))
            L[i] = UInt8(truncatingIfNeeded: clamp(l, 0, nmax))
            var diff = scale * Float(L[i]) + min - x[i]
            diff = useMad ? abs(diff) : diff * diff
            bestError += weights[i] * diff
        }
        if nstep < 1 {
            theMin = -min
            return scale
        }
        for step in 0 ... nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (max - min)
            var sumL: Float = 0
            var sumL2: Float = 0
            var sumXL: Float = 0
            for i in 0 ..< n {
                var l = nearestInt(iscale * (x[i] - min))
                l = clamp(l, 0, nmax)
                laux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i]
                let lf = Float(l)
                sumL += w * lf
                sumL2 += w * lf * lf
                sumXL += w * lf * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var curError: Float = 0
                for i in 0 ..< n {
                    var diff = thisScale * Float(laux[i]) + thisMin - x[i]
                    diff = useMad ? abs(diff) : diff * diff
                    curError += weights[i] * diff
                }
                if curError < bestError {
                    for i in 0 ..< n { L[i] = laux[i] }
                    bestError = curError
                    scale = thisScale
                    min = thisMin
                }
            }
        }
        theMin = -min
        return scale
    }

    /// `make_qkx3_quants` with weights given: ggml's later copy of `make_qkx2_quants`, which
    /// tests the degenerate range as `max <= min` (equivalent: after the scan min ≤ max, and
    /// NaN fails both tests) and is always called with squared error.
    static func makeQkx3Quants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ weights: UnsafePointer<Float>,
                               _ L: UnsafeMutablePointer<UInt8>, _ theMin: inout Float, _ laux: UnsafeMutablePointer<UInt8>,
                               _ rmin: Float, _ rdelta: Float, _ nstep: Int) -> Float {
        makeQkx2Quants(n, nmax, x, weights, L, &theMin, laux, rmin, rdelta, nstep, false)
    }

    /// `make_qp_quants`: quantizes non-negative values (sub-block scales or mins) to
    /// `L ∈ [0, nmax]` with one positive scale, minimising the `qw`-weighted squared error
    /// (9 candidate scales, then up to 5 single-value refinement passes). Returns the scale.
    static func makeQpQuants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                             _ qw: UnsafePointer<Float>) -> Float {
        var max: Float = 0
        for i in 0 ..< n { max = cMax(max, x[i]) }
        if max < groupMaxEps {
            for i in 0 ..< n { L[i] = 0 }
            return 0
        }
        var iscale = Float(nmax) / max
        for i in 0 ..< n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMse: Float = 0
        for i in 0 ..< n {
            let diff = x[i] - scale * Float(L[i])
            bestMse += qw[i] * diff * diff
        }
        for step in -4 ... 4 where step != 0 {
            let iscaleIs = (0.1 * Float(step) + Float(nmax)) / max
            let scaleIs = 1 / iscaleIs
            var mse: Float = 0
            for i in 0 ..< n {
                let l = cMin(nmax, nearestInt(iscaleIs * x[i]))
                let diff = x[i] - scaleIs * Float(l)
                mse += qw[i] * diff * diff
            }
            if mse < bestMse {
                bestMse = mse
                iscale = iscaleIs
            }
        }
        var sumlx: Float = 0
        var suml2: Float = 0
        for i in 0 ..< n {
            let l = cMin(nmax, nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            let w = qw[i]
            let lf = Float(L[i])
            sumlx += w * x[i] * lf
            suml2 += w * lf * lf
        }
        for _ in 0 ..< 5 {
            var changed = 0
            for i in 0 ..< n {
                let w = qw[i]
                let li = Float(L[i])
                var slx = sumlx - w * x[i] * li
                var sl2 = suml2 - w * li * li
                if slx > 0 && sl2 > 0 {
                    let newL = cMin(nmax, nearestInt(x[i] * sl2 / slx))
                    if newL != Int(L[i]) {
                        let nf = Float(newL)
                        slx += w * x[i] * nf
                        sl2 += w * nf * nf
                        if slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = UInt8(truncatingIfNeeded: newL)
                            sumlx = slx
                            suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    /// `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` (0..<8) from the 12 packed
    /// bytes of Q4_K/Q5_K. Sub-blocks 0–3 keep theirs in the low 6 bits of bytes j and j+4;
    /// 4–7 split theirs into a nibble of byte j+4 and the top 2 bits of bytes j−4 and j.
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (sc: UInt8, m: UInt8) {
        if j < 4 { return (q[j] & 63, q[j + 4] & 63) }
        return ((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }

    /// The inverse of `scaleMinK4` for sub-block `j`, written in ggml's order (sub-blocks
    /// 0–3 first assign bytes j and j+4, which 4–7 then OR their top bits into).
    @inline(__always) static func packScaleMinK4(_ j: Int, _ ls: UInt8, _ lm: UInt8, _ s: UnsafeMutablePointer<UInt8>) {
        if j < 4 {
            s[j] = ls
            s[j + 4] = lm
        } else {
            s[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4)
            s[j - 4] |= (ls >> 4) << 6
            s[j] |= (lm >> 4) << 6
        }
    }

    /// Packs 256 2-bit values into 64 bytes as Q2_K/Q3_K do: byte `32·h + l` of half h holds
    /// values `128h + l + 32s` in bits `2s…2s+1`, s = 0…3.
    @inline(__always) static func pack2Bit256(_ L: UnsafePointer<UInt8>, _ qs: UnsafeMutablePointer<UInt8>) {
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0 ..< 32 {
                qs[j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6)
            }
        }
    }
}
