import CKernels
import QKCore

/// Plain Swift dot products of one weight row with one converted activation row: the
/// specification the fast kernels are tested against. Each follows ggml's generic
/// `ggml_vec_dot_<type>_<vec_dot_type>_generic` block by block: the integer sums of a block are
/// exact, then scaled and accumulated in Float in block order.
public enum ReferenceDot {
    /// The activation format ggml multiplies weights of `type` with (its `vec_dot_type`), or nil
    /// when QuantKit has no dot product for the type.
    public static func activationType(for type: GGMLType) -> GGMLType? {
        switch type {
        case .q4_0, .q5_0, .q8_0, .iq4_nl, .mxfp4: .q8_0
        case .q4_1, .q5_1: .q8_1
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs, .iq2_xxs, .iq2_xs, .iq2_s, .iq3_xxs, .iq3_s,
             .iq1_s, .iq1_m, .tq1_0, .tq2_0: .q8_K
        case .f16: .f16
        case .bf16: .bf16
        case .f32: .f32
        default: nil
        }
    }

    /// The reference dot product for weights of `type`, or nil.
    public static func dot(_ type: GGMLType) -> DotKernel.DotRow? {
        switch type {
        case .f32: { n, w, a in plain(n) { i in w.load(fromByteOffset: 4 * i, as: Float.self) * a.load(fromByteOffset: 4 * i, as: Float.self) } }
        case .f16: { n, w, a in plain(n) { i in h16(w, 2 * i) * h16(a, 2 * i) } }
        case .bf16: { n, w, a in plain(n) { i in bf16(w, 2 * i) * bf16(a, 2 * i) } }
        case .q8_0: q8_0
        case .q4_0: q4_0
        case .q4_1: q4_1
        case .q5_0: q5_0
        case .q5_1: q5_1
        case .iq4_nl: iq4_nl
        case .mxfp4: mxfp4
        case .q2_K: q2_K
        case .q3_K: q3_K
        case .q4_K: { n, w, a in q4_5_K(n, w, a, q5: false) }
        case .q5_K: { n, w, a in q4_5_K(n, w, a, q5: true) }
        case .q6_K: q6_K
        case .iq4_xs: iq4_xs
        case .tq1_0: tq1_0
        case .tq2_0: tq2_0
        case .iq2_xxs: iq2_xxs
        case .iq2_xs: iq2_xs
        case .iq2_s: iq2_s
        case .iq3_xxs: iq3_xxs
        case .iq3_s: iq3_s
        case .iq1_s: iq1_s
        case .iq1_m: iq1_m
        default: nil
        }
    }

    // MARK: - helpers

    @inline(__always) static func h16(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        HalfFloat.f32(f16: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
    }
    @inline(__always) static func bf16(_ p: UnsafeRawPointer, _ off: Int) -> Float {
        HalfFloat.f32(bf16: p.loadUnaligned(fromByteOffset: off, as: UInt16.self))
    }
    @inline(__always) static func u8(_ p: UnsafeRawPointer, _ off: Int) -> Int { Int(p.load(fromByteOffset: off, as: UInt8.self)) }
    @inline(__always) static func i8(_ p: UnsafeRawPointer, _ off: Int) -> Int { Int(p.load(fromByteOffset: off, as: Int8.self)) }
    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ off: Int) -> Int { Int(p.loadUnaligned(fromByteOffset: off, as: UInt16.self)) }
    @inline(__always) static func u32(_ p: UnsafeRawPointer, _ off: Int) -> UInt32 { p.loadUnaligned(fromByteOffset: off, as: UInt32.self) }
    @inline(__always) static func f32(_ p: UnsafeRawPointer, _ off: Int) -> Float { p.loadUnaligned(fromByteOffset: off, as: Float.self) }
    @inline(__always) static func bsum(_ y: UnsafeRawPointer, _ j: Int) -> Int { Int(y.loadUnaligned(fromByteOffset: 260 + 2 * j, as: Int16.self)) }

    /// F32/F16/BF16: products summed in Double.
    @inline(__always) static func plain(_ n: Int, _ term: (Int) -> Float) -> Float {
        var s = 0.0
        for i in 0 ..< n { s += Double(term(i)) }
        return Float(s)
    }

    /// Grid byte j of a packed 8-byte (or 4-byte) codebook entry.
    @inline(__always) static func byte(_ v: UInt64, _ j: Int) -> Int { Int((v >> (8 * UInt64(j))) & 0xFF) }

    // Immutable C tables (CKernels/tables.c), hence nonisolated(unsafe).
    nonisolated(unsafe) static let kvaluesIQ4NL = UnsafeBufferPointer(start: qk_table_kvalues_iq4nl(), count: 16)
    nonisolated(unsafe) static let kvaluesMXFP4 = UnsafeBufferPointer(start: qk_table_kvalues_mxfp4(), count: 16)
    nonisolated(unsafe) static let ksigns = UnsafeBufferPointer(start: qk_table_ksigns_iq2xs(), count: 128)
    nonisolated(unsafe) static let iq2xxsGrid = UnsafeBufferPointer(start: qk_table_iq2xxs_grid(), count: 256)
    nonisolated(unsafe) static let iq2xsGrid = UnsafeBufferPointer(start: qk_table_iq2xs_grid(), count: 512)
    nonisolated(unsafe) static let iq2sGrid = UnsafeBufferPointer(start: qk_table_iq2s_grid(), count: 1024)
    nonisolated(unsafe) static let iq3xxsGrid = UnsafeBufferPointer(start: qk_table_iq3xxs_grid(), count: 256)
    nonisolated(unsafe) static let iq3sGrid = UnsafeBufferPointer(start: qk_table_iq3s_grid(), count: 512)
    nonisolated(unsafe) static let iq1sGrid = UnsafeBufferPointer(start: qk_table_iq1s_grid(), count: 2048)

    // MARK: - Q8_0 / Q8_1 activations (blocks of 32)

    static func q8_0(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 34 * b, y = a + 34 * b
            var sumi = 0
            for j in 0 ..< 32 { sumi += i8(x, 2 + j) * i8(y, 2 + j) }
            sumf += Float(sumi) * (h16(x, 0) * h16(y, 0))
        }
        return sumf
    }

    static func q4_0(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 18 * b, y = a + 34 * b
            var sumi = 0
            for j in 0 ..< 16 {
                let q = u8(x, 2 + j)
                sumi += ((q & 0xF) - 8) * i8(y, 2 + j) + ((q >> 4) - 8) * i8(y, 18 + j)
            }
            sumf += Float(sumi) * h16(x, 0) * h16(y, 0)
        }
        return sumf
    }

    static func q4_1(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 20 * b, y = a + 36 * b
            var sumi = 0
            for j in 0 ..< 16 {
                let q = u8(x, 4 + j)
                sumi += (q & 0xF) * i8(y, 4 + j) + (q >> 4) * i8(y, 20 + j)
            }
            sumf += (h16(x, 0) * h16(y, 0)) * Float(sumi) + h16(x, 2) * h16(y, 2)
        }
        return sumf
    }

    static func q5_0(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 22 * b, y = a + 34 * b
            let qh = Int(u32(x, 2))
            var sumi = 0
            for j in 0 ..< 16 {
                let q = u8(x, 6 + j)
                let v0 = ((q & 0xF) | (((qh >> j) & 1) << 4)) - 16
                let v1 = ((q >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16
                sumi += v0 * i8(y, 2 + j) + v1 * i8(y, 18 + j)
            }
            sumf += (h16(x, 0) * h16(y, 0)) * Float(sumi)
        }
        return sumf
    }

    static func q5_1(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 24 * b, y = a + 36 * b
            let qh = Int(u32(x, 4))
            var sumi = 0
            for j in 0 ..< 16 {
                let q = u8(x, 8 + j)
                let v0 = (q & 0xF) | (((qh >> j) & 1) << 4)
                let v1 = (q >> 4) | (((qh >> (j + 16)) & 1) << 4)
                sumi += v0 * i8(y, 4 + j) + v1 * i8(y, 20 + j)
            }
            sumf += (h16(x, 0) * h16(y, 0)) * Float(sumi) + h16(x, 2) * h16(y, 2)
        }
        return sumf
    }

    static func iq4_nl(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        let kv = kvaluesIQ4NL
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 18 * b, y = a + 34 * b
            var sumi = 0
            for j in 0 ..< 16 {
                let q = u8(x, 2 + j)
                sumi += Int(kv[q & 0xF]) * i8(y, 2 + j) + Int(kv[q >> 4]) * i8(y, 18 + j)
            }
            sumf += (h16(y, 0) * h16(x, 0)) * Float(sumi)
        }
        return sumf
    }

    /// 2^(e − 128) (`GGML_E8M0_TO_FP32_HALF`), exact.
    @inline(__always) static func e8m0Half(_ e: Int) -> Float {
        e < 2 ? Float(bitPattern: UInt32(0x0020_0000) << UInt32(e)) : Float(bitPattern: UInt32(e - 1) << 23)
    }

    static func mxfp4(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        let kv = kvaluesMXFP4
        var sumf: Float = 0
        for b in 0 ..< n / 32 {
            let x = w + 17 * b, y = a + 34 * b
            var sumi = 0
            for j in 0 ..< 16 {
                let q = u8(x, 1 + j)
                sumi += Int(kv[q & 0xF]) * i8(y, 2 + j) + Int(kv[q >> 4]) * i8(y, 18 + j)
            }
            sumf += (h16(y, 0) * e8m0Half(u8(x, 0))) * Float(sumi)
        }
        return sumf
    }

    // MARK: - Q8_K activations (super-blocks of 256: d f32 | qs[256] | bsums[16] i16)

    static func q2_K(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 84 * b, y = a + 292 * b
            var summs = 0
            for j in 0 ..< 16 { summs += bsum(y, j) * (u8(x, j) >> 4) }
            let dy = f32(y, 0)
            let dall = dy * h16(x, 80), dmin = dy * h16(x, 82)
            var isum = 0, idx = 0
            for half in 0 ..< 2 {
                for shift in stride(from: 0, to: 8, by: 2) {
                    for part in 0 ..< 2 {
                        let d = u8(x, idx) & 0xF
                        idx += 1
                        var s = 0
                        for l in 16 * part ..< 16 * part + 16 {
                            s += i8(y, 4 + 128 * half + 16 * shift + l) * ((u8(x, 16 + 32 * half + l) >> shift) & 3)
                        }
                        isum += d * s
                    }
                }
            }
            sumf += dall * Float(isum) - dmin * Float(summs)
        }
        return sumf
    }

    /// Q3_K's sixteen 6-bit scales minus 32.
    static func q3Scales(_ s: UnsafeRawPointer) -> [Int] {
        (0 ..< 16).map { j in
            let low = j < 8 ? u8(s, j) & 0xF : u8(s, j - 8) >> 4
            let high = (u8(s, 8 + j % 4) >> (2 * (j / 4))) & 3
            return (low | (high << 4)) - 32
        }
    }

    static func q3_K(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 110 * b, y = a + 292 * b
            let scales = q3Scales(x + 96)
            var isum = 0
            for g in 0 ..< 8 {   // 32-value groups: 2-bit field (g % 4) of qs[32·(g/4) + l], hmask bit g
                for l in 0 ..< 32 {
                    let lo = (u8(x, 32 + 32 * (g / 4) + l) >> (2 * (g % 4))) & 3
                    let v = lo - ((u8(x, l) >> g) & 1 != 0 ? 0 : 4)
                    isum += scales[2 * g + l / 16] * v * i8(y, 4 + 32 * g + l)
                }
            }
            sumf += h16(x, 108) * f32(y, 0) * Float(isum)
        }
        return sumf
    }

    /// Q4_K / Q5_K scale and min of sub-block j (6 bits each).
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Int, Int) {
        if j < 4 { return (u8(q, j) & 63, u8(q, j + 4) & 63) }
        return ((u8(q, j + 4) & 0xF) | ((u8(q, j - 4) >> 6) << 4), (u8(q, j + 4) >> 4) | ((u8(q, j) >> 6) << 4))
    }

    static func q4_5_K(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer, q5: Bool) -> Float {
        let bsz = q5 ? 176 : 144, qsOff = q5 ? 48 : 16
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + bsz * b, y = a + 292 * b
            var isum = 0, summs = 0
            for j in 0 ..< 8 {
                let (sc, m) = scaleMinK4(j, x + 4)
                summs += m * (bsum(y, 2 * j) + bsum(y, 2 * j + 1))
                var s = 0
                for l in 0 ..< 32 {
                    let byte = u8(x, qsOff + 32 * (j / 2) + l)
                    var v = j % 2 == 0 ? byte & 0xF : byte >> 4
                    if q5 { v |= ((u8(x, 16 + l) >> j) & 1) << 4 }
                    s += v * i8(y, 4 + 32 * j + l)
                }
                isum += sc * s
            }
            let dy = f32(y, 0)
            sumf += h16(x, 0) * dy * Float(isum) - h16(x, 2) * dy * Float(summs)
        }
        return sumf
    }

    static func q6_K(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 210 * b, y = a + 292 * b
            var isum = 0
            for half in 0 ..< 2 {
                for l in 0 ..< 32 {
                    let ql0 = u8(x, 64 * half + l), ql1 = u8(x, 64 * half + 32 + l), qh = u8(x, 128 + 32 * half + l)
                    let v = [(ql0 & 0xF) | ((qh & 3) << 4), (ql1 & 0xF) | (((qh >> 2) & 3) << 4),
                             (ql0 >> 4) | (((qh >> 4) & 3) << 4), (ql1 >> 4) | (((qh >> 6) & 3) << 4)]
                    for k in 0 ..< 4 {
                        let idx = 128 * half + 32 * k + l
                        isum += i8(x, 192 + idx / 16) * (v[k] - 32) * i8(y, 4 + idx)
                    }
                }
            }
            sumf += h16(x, 208) * f32(y, 0) * Float(isum)
        }
        return sumf
    }

    static func iq4_xs(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        let kv = kvaluesIQ4NL
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 136 * b, y = a + 292 * b
            let d4d8 = h16(x, 0) * f32(y, 0)
            let h = u16(x, 2)
            for ib in 0 ..< 8 {
                let ls = ((u8(x, 4 + ib / 2) >> (4 * (ib % 2))) & 0xF) | (((h >> (2 * ib)) & 3) << 4)
                var sumi = 0
                for j in 0 ..< 16 {
                    let q = u8(x, 8 + 16 * ib + j)
                    sumi += Int(kv[q & 0xF]) * i8(y, 4 + 32 * ib + j) + Int(kv[q >> 4]) * i8(y, 4 + 32 * ib + 16 + j)
                }
                sumf += d4d8 * Float(ls - 32) * Float(sumi)
            }
        }
        return sumf
    }

    static func tq1_0(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        let pow3 = [1, 3, 9, 27, 81, 243]
        @inline(__always) func digit(_ q: Int, _ l: Int) -> Int { (((q * pow3[l]) & 0xFF) * 3) >> 8 }
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 54 * b, y = a + 292 * b
            var sum = 0
            for l in 0 ..< 5 { for m in 0 ..< 32 { sum += (digit(u8(x, m), l) - 1) * i8(y, 4 + 32 * l + m) } }
            for l in 0 ..< 5 { for m in 0 ..< 16 { sum += (digit(u8(x, 32 + m), l) - 1) * i8(y, 4 + 160 + 16 * l + m) } }
            for l in 0 ..< 4 { for j in 0 ..< 4 { sum += (digit(u8(x, 48 + j), l) - 1) * i8(y, 4 + 240 + 4 * l + j) } }
            sumf += Float(sum) * (h16(x, 52) * f32(y, 0))
        }
        return sumf
    }

    static func tq2_0(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 66 * b, y = a + 292 * b
            var sumi = 0
            for j in stride(from: 0, to: 64, by: 32) {
                for l in 0 ..< 4 {
                    for k in 0 ..< 32 { sumi += i8(y, 4 + 4 * j + 32 * l + k) * (((u8(x, j + k) >> (2 * l)) & 3) - 1) }
                }
            }
            sumf += Float(sumi) * (f32(y, 0) * h16(x, 64))
        }
        return sumf
    }

    /// Σ of 8 signed grid values · activations: sign bit j of `signs` negates element j.
    @inline(__always) static func grid8(_ g: UInt64, _ signs: Int, _ y: UnsafeRawPointer, _ off: Int) -> Int {
        var s = 0
        for j in 0 ..< 8 { s += byte(g, j) * i8(y, off + j) * ((signs >> j) & 1 != 0 ? -1 : 1) }
        return s
    }

    static func iq2_xxs(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 66 * b, y = a + 292 * b
            var bsum = 0
            for ib in 0 ..< 8 {
                let a0 = u32(x, 2 + 8 * ib), a1 = u32(x, 2 + 8 * ib + 4)
                let ls = 2 * Int(a1 >> 28) + 1
                var sumi = 0
                for l in 0 ..< 4 {
                    let g = iq2xxsGrid[Int((a0 >> (8 * UInt32(l))) & 0xFF)]
                    sumi += grid8(g, Int(ksigns[Int((a1 >> (7 * UInt32(l))) & 127)]), y, 4 + 32 * ib + 8 * l)
                }
                bsum += sumi * ls
            }
            sumf += h16(x, 0) * f32(y, 0) * Float(bsum)
        }
        return 0.125 * sumf
    }

    static func iq2_xs(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 74 * b, y = a + 292 * b
            var bsum = 0
            for ib in 0 ..< 8 {
                let sc = u8(x, 66 + ib)
                for half in 0 ..< 2 {
                    var sumi = 0
                    for l in 2 * half ..< 2 * half + 2 {
                        let q = u16(x, 2 + 2 * (4 * ib + l))
                        sumi += grid8(iq2xsGrid[q & 511], Int(ksigns[q >> 9]), y, 4 + 32 * ib + 8 * l)
                    }
                    bsum += sumi * (2 * ((sc >> (4 * half)) & 0xF) + 1)
                }
            }
            sumf += h16(x, 0) * f32(y, 0) * Float(bsum)
        }
        return 0.125 * sumf
    }

    static func iq2_s(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 82 * b, y = a + 292 * b
            var bsum = 0
            for ib in 0 ..< 8 {
                let qh = u8(x, 66 + ib), sc = u8(x, 74 + ib)
                for half in 0 ..< 2 {
                    var sumi = 0
                    for l in 2 * half ..< 2 * half + 2 {
                        let idx = u8(x, 2 + 4 * ib + l) | ((qh << (8 - 2 * l)) & 0x300)
                        sumi += grid8(iq2sGrid[idx], u8(x, 34 + 4 * ib + l), y, 4 + 32 * ib + 8 * l)
                    }
                    bsum += sumi * (1 + 2 * ((sc >> (4 * half)) & 0xF))
                }
            }
            sumf += h16(x, 0) * f32(y, 0) * Float(bsum)
        }
        return 0.125 * sumf
    }

    /// Σ of 4 signed grid values (bytes of a UInt32) · activations.
    @inline(__always) static func grid4(_ g: UInt32, _ signs: Int, _ y: UnsafeRawPointer, _ off: Int) -> Int {
        var s = 0
        for j in 0 ..< 4 { s += Int((g >> (8 * UInt32(j))) & 0xFF) * i8(y, off + j) * ((signs >> j) & 1 != 0 ? -1 : 1) }
        return s
    }

    static func iq3_xxs(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 98 * b, y = a + 292 * b
            var bsum = 0
            for ib in 0 ..< 8 {
                let aux = u32(x, 2 + 64 + 4 * ib)
                let ls = 2 * Int(aux >> 28) + 1
                var sumi = 0
                for l in 0 ..< 4 {
                    let signs = Int(ksigns[Int((aux >> (7 * UInt32(l))) & 127)])
                    let off = 4 + 32 * ib + 8 * l
                    sumi += grid4(iq3xxsGrid[u8(x, 2 + 8 * ib + 2 * l)], signs, y, off)
                    sumi += grid4(iq3xxsGrid[u8(x, 2 + 8 * ib + 2 * l + 1)], signs >> 4, y, off + 4)
                }
                bsum += sumi * ls
            }
            sumf += h16(x, 0) * f32(y, 0) * Float(bsum)
        }
        return 0.25 * sumf
    }

    static func iq3_s(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 110 * b, y = a + 292 * b
            var bsum = 0
            for ib in 0 ..< 8 {
                let qh = u8(x, 66 + ib)
                let ls = 2 * ((u8(x, 106 + ib / 2) >> (4 * (ib % 2))) & 0xF) + 1
                var sumi = 0
                for l in 0 ..< 4 {
                    let signs = u8(x, 74 + 4 * ib + l)
                    let i1 = u8(x, 2 + 8 * ib + 2 * l) | ((qh << (8 - 2 * l)) & 256)
                    let i2 = u8(x, 2 + 8 * ib + 2 * l + 1) | ((qh << (7 - 2 * l)) & 256)
                    let off = 4 + 32 * ib + 8 * l
                    sumi += grid4(iq3sGrid[i1], signs, y, off) + grid4(iq3sGrid[i2], signs >> 4, y, off + 4)
                }
                bsum += sumi * ls
            }
            sumf += h16(x, 0) * f32(y, 0) * Float(bsum)
        }
        return sumf
    }

    /// Σ of 8 int8 grid values (−1, 0, 1) · activations.
    @inline(__always) static func grid8s(_ g: UInt64, _ y: UnsafeRawPointer, _ off: Int) -> Int {
        var s = 0
        for j in 0 ..< 8 { s += Int(Int8(truncatingIfNeeded: g >> (8 * UInt64(j)))) * i8(y, off + j) }
        return s
    }

    static func iq1_s(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 50 * b, y = a + 292 * b
            var sumi = 0, sumi1 = 0
            for ib in 0 ..< 8 {
                let qh = u16(x, 34 + 2 * ib)
                let ls = 2 * ((qh >> 12) & 7) + 1
                let delta = qh & 0x8000 != 0 ? -1 : 1
                var lsum = 0
                for l in 0 ..< 4 {
                    lsum += grid8s(iq1sGrid[u8(x, 2 + 4 * ib + l) | (((qh >> (3 * l)) & 7) << 8)], y, 4 + 32 * ib + 8 * l)
                }
                sumi += ls * lsum
                sumi1 += ls * delta * (bsum(y, 2 * ib) + bsum(y, 2 * ib + 1))
            }
            sumf += h16(x, 0) * f32(y, 0) * (Float(sumi) + 0.125 * Float(sumi1))
        }
        return sumf
    }

    static func iq1_m(_ n: Int, _ w: UnsafeRawPointer, _ a: UnsafeRawPointer) -> Float {
        var sumf: Float = 0
        for b in 0 ..< n / 256 {
            let x = w + 56 * b, y = a + 292 * b
            let sc = (0 ..< 4).map { u16(x, 48 + 2 * $0) }
            let scale = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000)
            var sumi1 = 0, sumi2 = 0
            for ib in 0 ..< 8 {
                var sum1 = [0, 0], sum2 = [0, 0]
                for l in 0 ..< 4 {
                    let h = u8(x, 32 + 2 * ib + l / 2)
                    let delta = (l % 2 == 1 ? h & 0x80 : h & 0x08) != 0 ? -1 : 1
                    let idx = u8(x, 4 * ib + l) | ((h << (8 - 4 * (l % 2))) & 0x700)
                    let off = 4 + 32 * ib + 8 * l
                    var s8 = 0
                    for j in 0 ..< 8 { s8 += i8(y, off + j) }
                    sum1[l / 2] += grid8s(iq1sGrid[idx], y, off)
                    sum2[l / 2] += s8 * delta
                }
                let ls1 = 2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1
                let ls2 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1
                sumi1 += sum1[0] * ls1 + sum1[1] * ls2
                sumi2 += sum2[0] * ls1 + sum2[1] * ls2
            }
            sumf += HalfFloat.f32(f16: UInt16(scale)) * f32(y, 0) * (Float(sumi1) + 0.125 * Float(sumi2))
        }
        return sumf
    }
}
