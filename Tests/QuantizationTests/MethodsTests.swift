import CKernels
import Foundation
import GGUF
import QKCore
import QuantFormats
@testable import Quantization
import Testing

/// The building blocks of `--method search|gptq`: the linear algebra (against plain loops), the
/// scale search (never worse than ggml's block, better overall), the Hessians file, and whole
/// files (same types and sizes as ggml's method).
struct MethodsTests {
    /// A deterministic pseudo-random generator (xorshift), so failures reproduce.
    struct Rand {
        var s: UInt64
        mutating func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24) * 2 - 1
        }
    }

    @Test(arguments: [1, 5, 37, 64, 130])
    func syrkMatchesPlainLoops(n: Int) {
        var r = Rand(s: 0x9e3779b97f4a7c15 &+ UInt64(n))
        let tokens = 23
        let x = (0 ..< tokens * n).map { _ in r.next() }
        var h = [Float](repeating: 0.5, count: n * n)
        x.withUnsafeBufferPointer { xp in
            h.withUnsafeMutableBufferPointer { hp in
                qk_syrk_upper(xp.baseAddress!, Int32(tokens), Int32(n), Int32(n), hp.baseAddress!, 0, Int32(n / 2))
                qk_syrk_upper(xp.baseAddress!, Int32(tokens), Int32(n), Int32(n), hp.baseAddress!, Int32(n / 2), Int32(n))
            }
        }
        for i in 0 ..< n {
            for j in i ..< n {
                var s = 0.5 as Double
                for t in 0 ..< tokens { s += Double(x[t * n + i]) * Double(x[t * n + j]) }
                #expect(abs(Double(h[i * n + j]) - s) < 1e-4 * max(1, abs(s)), "H[\(i)][\(j)] = \(h[i * n + j]), want \(s)")
            }
        }
    }

    @Test(arguments: [1, 6, 33, 100])
    func factorInvertsTheDampedHessian(n: Int) throws {
        var r = Rand(s: 42 &+ UInt64(n))
        let m = Hessians.Moment(n: n)
        let tokens = 3 * n + 5
        let x = (0 ..< tokens * n).map { _ in r.next() }
        x.withUnsafeBufferPointer { xp in
            m.sum.withUnsafeMutableBufferPointer { qk_syrk_upper(xp.baseAddress!, Int32(tokens), Int32(n), Int32(n), $0.baseAddress!, 0, Int32(n)) }
        }
        m.rows = Int64(tokens)
        let f = try GPTQFactor(m, damping: 0.01)
        // (H + λ·mean(diag)·I) · Uᵀ U = I
        let mean = (0 ..< n).reduce(0.0) { $0 + Double(m.diagonal($1)) } / Double(n)
        func h(_ i: Int, _ j: Int) -> Double {
            (i <= j ? Double(m.sum[i * n + j]) : Double(m.sum[j * n + i])) + (i == j ? 0.01 * mean : 0)
        }
        var worst = 0.0
        for i in 0 ..< n {
            for j in 0 ..< n {
                var s = 0.0
                for k in 0 ..< n {
                    var utu = 0.0   // (UᵀU)[k][j]
                    for l in 0 ... min(k, j) { utu += Double(f.u[l * n + k]) * Double(f.u[l * n + j]) }
                    s += h(i, k) * utu
                }
                worst = max(worst, abs(s - (i == j ? 1 : 0)))
            }
            for j in 0 ..< i { #expect(f.u[i * n + j] == 0) }
        }
        #expect(worst < 1e-3, "n=\(n): max |H·H⁻¹ − I| = \(worst)")
    }

    /// Every row of the golden inputs (`real_*`, `gauss*`; with `importance`, rows of a length
    /// it fits) encoded by `a` and by `b` and decoded: `body(name, row index, row, decoded a, decoded b)`.
    static func goldenRows(_ type: GGMLType, _ a: RowCodec, _ b: RowCodec, importance: ((Int) -> [Float])? = nil,
                           _ body: (String, Int, [Float], [Float], [Float]) -> Void) throws {
        let input = try GGUFFile(path: "\(PureQuantizeGoldenTests.golden)/inputs.gguf")
        for t in input.tensors where t.name.hasPrefix("real_") || t.name.hasPrefix("gauss") {
            let n = t.rowLength
            guard importance == nil || n % 256 == 0 else { continue }
            let x = Array(input.data(of: t).bindMemory(to: Float.self))
            let imp = importance?(n)
            for r in 0 ..< t.rowCount {
                let row = Array(x[r * n ..< (r + 1) * n])
                var qa = [UInt8](repeating: 0, count: type.rowSize(n)), qb = qa
                var da = [Float](repeating: 0, count: n), db = da
                a.quantize(row, &qa, n, imp)
                b.quantize(row, &qb, n, imp)
                a.dequantize(qa, &da, n)
                b.dequantize(qb, &db, n)
                body(t.name, r, row, da, db)
            }
        }
    }

    /// ggml's and the search's encodings of the golden rows, compared block by block on the
    /// error weighted by `weights(row, blockStart)` (one per value of the block): the search's
    /// must never be worse. Returns both totals.
    static func compareWithGGML(_ type: GGMLType, importance: ((Int) -> [Float])?,
                                weights: ([Float], Int) -> [Double]) throws -> (ggml: Double, search: Double) {
        let block = BlockGrid.grid(for: type)?.blockSize ?? type.blockSize
        var totalGGML = 0.0, totalSearch = 0.0
        try goldenRows(type, try #require(QuantCodec.codec(type)), try ScaleSearch.codec(type, unshrink: false),
                       importance: importance) { name, r, row, da, db in
            let n = row.count
            for s in stride(from: 0, to: n, by: block) {
                let w = weights(row, s)
                var ea = 0.0, eb = 0.0
                for i in s ..< s + block {
                    ea += w[i - s] * Double(da[i] - row[i]) * Double(da[i] - row[i])
                    eb += w[i - s] * Double(db[i] - row[i]) * Double(db[i] - row[i])
                }
                #expect(eb <= ea * (1 + 1e-4), "\(type.name) \(name) row \(r) block \(s / block): search \(eb) > ggml \(ea)")
                totalGGML += ea
                totalSearch += eb
            }
        }
        return (totalGGML, totalSearch)
    }

    @Test(arguments: BlockGrid.supportedTypes + [.iq3_s, .iq2_s])
    func searchIsNeverWorseThanGGML(type: GGMLType) throws {
        let block = BlockGrid.grid(for: type)?.blockSize ?? type.blockSize
        let (ggml, search) = try Self.compareWithGGML(type, importance: nil) { _, _ in Array(repeating: 1, count: block) }
        print("search \(type.name): squared error \(search / ggml)× ggml's")
        #expect(search < 0.995 * ggml, "\(type.name): search \(search) vs ggml \(ggml)")
    }

    /// The search's last step rescales each block so that its error is orthogonal to the input
    /// (no shrinkage): checked per block on the golden rows, against the same search without
    /// the step, whose least-squares blocks are measurably shrunk.
    @Test(arguments: BlockGrid.supportedTypes)
    func unshrinkingMakesTheErrorOrthogonalToTheInput(type: GGMLType) throws {
        let block = BlockGrid.grid(for: type)!.blockSize
        var xx = 0.0, exBefore = 0.0, exAfter = 0.0, seBefore = 0.0, seAfter = 0.0, worst = 0.0
        try Self.goldenRows(type, try ScaleSearch.codec(type, unshrink: false), try ScaleSearch.codec(type)) { _, _, row, da, db in
            for s in stride(from: 0, to: row.count, by: block) {
                var bx = 0.0, bex = 0.0
                for i in s ..< s + block {
                    let xi = Double(row[i]), ea = Double(da[i]) - xi, eb = Double(db[i]) - xi
                    bx += xi * xi; bex += eb * xi
                    exBefore += ea * xi; seBefore += ea * ea; seAfter += eb * eb
                }
                xx += bx; exAfter += bex
                if bx > 0 { worst = max(worst, abs(bex) / bx) }
            }
        }
        print("unshrink \(type.name): Σe·x/Σx² \(exBefore / xx) → \(exAfter / xx), worst block \(worst), squared error ×\(seAfter / seBefore)")
        // The least-squares search shrinks: Σe·x = −Σe² would hold exactly at the optimal scale.
        #expect(exBefore < -0.3 * seBefore, "\(type.name): the search without the step should shrink (Σe·x \(exBefore), Σe² \(seBefore))")
        // Orthogonal up to the F16 rounding of the rescaled super-scales (coarser for the tiny,
        // subnormal scales of some golden rows).
        #expect(abs(exAfter) < 5e-5 * xx, "\(type.name): Σe·x/Σx² \(exBefore / xx) → \(exAfter / xx)")
        #expect(worst < 1e-2, "\(type.name): a block keeps Σe·x/Σx² = \(worst)")
        // The price in squared error: about the shrinkage's own share (7 % at 2 bits, < 1 % from 4).
        #expect(seAfter <= (type == .q2_K ? 1.1 : 1.03) * seBefore, "\(type.name): squared error ×\(seAfter / seBefore)")
    }

    /// With an importance matrix, the search is never worse than ggml's imatrix path on its
    /// objective: for the legacy types the one ggml's quantizer weighs the values by,
    /// qw · sqrt(σ² + x²) with σ² the row's mean x² (ggml-quants.c, `quantize_row_q4_0_impl`…);
    /// for the others the imatrix value alone.
    @Test(arguments: [GGMLType.q4_0, .q5_1, .q2_K, .q4_K, .iq4_nl, .iq4_xs])
    func weightedSearchIsNeverWorseThanGGML(type: GGMLType) throws {
        let legacy = [.q4_0, .q4_1, .q5_0, .q5_1].contains(type)
        let block = BlockGrid.grid(for: type)!.blockSize
        func importance(_ n: Int) -> [Float] {
            (0 ..< n).map { j in
                let spike: Double = j % 61 == 0 ? 40 : 0
                return Float(0.05 + Double((j * 7919) % 97) / 10 + spike)
            }
        }
        let (ggml, search) = try Self.compareWithGGML(type, importance: importance) { row, s in
            let sigma2 = row.reduce(0) { $0 + $1 * $1 } / Float(row.count)
            let imp = importance(row.count)
            return (s ..< s + block).map { i in Double(legacy ? imp[i] * (sigma2 + row[i] * row[i]).squareRoot() : imp[i]) }
        }
        print("weighted search \(type.name): \(search / ggml)× ggml's imatrix path")
        #expect(ggml > 0 && search < 0.998 * ggml, "\(type.name): search \(search) vs ggml \(ggml)")
    }

    /// Weights already on Q5_0's grid, quantized to Q4_0 at twice its scale: every odd level is
    /// a tie. ggml rounds them all one way (a bias on every block's sum); the search's
    /// refinement keeps the squared error and balances the ties, so each block's error sum
    /// stays within one step.
    @Test func refinementBalancesTiesOnAFinerGrid() throws {
        let n = 32 * 64
        var rng = Rand(s: 0x9E37_79B9_7F4A_7C15)
        func unit() -> Float { (rng.next() + 1) / 2 }   // [0, 1)
        var x = [Float](repeating: 0, count: n)
        for blk in 0 ..< n / 32 {
            let d5 = Float(Float16(0.001 + 0.01 * unit() * unit()))
            for j in 0 ..< 32 { x[32 * blk + j] = d5 * Float(Int(unit() * 31.999) - 16) }
            x[32 * blk + Int(unit() * 31.999)] = -16 * d5   // the block's extreme: Q4_0's d = 2·d5
        }
        let ggml = try #require(QuantCodec.codec(.q4_0))
        let grid = try #require(BlockGrid.grid(for: .q4_0))
        var a = [UInt8](repeating: 0, count: GGMLType.q4_0.rowSize(n))
        ggml.quantize(x, &a, n, nil)
        var b = a
        let ones = [Float](repeating: 1, count: 32)
        var da = [Float](repeating: 0, count: n), db = da
        ggml.dequantize(a, &da, n)
        GridRefinement.with(grid) { r in
            x.withUnsafeBufferPointer { xp in
                b.withUnsafeMutableBufferPointer { bp in
                    for blk in 0 ..< n / 32 {
                        var e: Float = 0
                        for i in 32 * blk ..< 32 * blk + 32 { e += (da[i] - xp[i]) * (da[i] - xp[i]) }
                        _ = r.refine(bp.baseAddress! + 18 * blk, xp.baseAddress! + 32 * blk, ones, error: e)
                    }
                }
            }
        }
        ggml.dequantize(b, &db, n)
        var worstGGML: Float = 0, worstRefined: Float = 0, seGGML = 0.0, seRefined = 0.0
        for blk in 0 ..< n / 32 {
            var sa: Float = 0, sb: Float = 0
            for i in 32 * blk ..< 32 * blk + 32 {
                sa += da[i] - x[i]; sb += db[i] - x[i]
                seGGML += Double((da[i] - x[i]) * (da[i] - x[i])); seRefined += Double((db[i] - x[i]) * (db[i] - x[i]))
            }
            let step = abs(x[32 * blk ..< 32 * blk + 32].min()!) / 8   // Q4_0's d
            worstGGML = max(worstGGML, abs(sa) / step)
            worstRefined = max(worstRefined, abs(sb) / step)
        }
        #expect(seRefined <= seGGML * (1 + 1e-5), "refined \(seRefined) vs ggml \(seGGML)")
        #expect(worstRefined <= 1.0001, "a block's error sum is \(worstRefined) steps")
        #expect(worstGGML > 3, "the input should have biased ties under ggml (\(worstGGML) steps)")
    }

    @Test func hessiansFileRoundTrips() throws {
        let h = Hessians()
        let a = h.moment(sharedBy: ["blk.0.attn_q.weight", "blk.0.attn_k.weight"], n: 3)
        a.sum = (0 ..< 9).map { Float($0) }
        a.rows = 17
        let b = h.moment(sharedBy: ["blk.0.ffn_down.weight"], n: 2)
        b.sum = [1, 2, 3, 4]
        b.rows = 5
        let path = NSTemporaryDirectory() + "qk-hessians-\(UUID().uuidString).gguf"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try h.write(to: path)
        let back = try Hessians(path: path)
        #expect(back.names == h.names)
        #expect(back.bytes == 0)   // read on demand, one input at a time
        let q = try #require(try back.prepare("blk.0.attn_q.weight"))
        #expect(q === back.moment(for: "blk.0.attn_k.weight"))
        #expect(q.sum == a.sum && q.rows == 17)
        #expect(back.bytes == 9 * 4)
        back.release("blk.0.attn_k.weight")   // releases the group: q and k
        #expect(back.bytes == 0 && back.moment(for: "blk.0.attn_q.weight") == nil)
        #expect(try back.prepare("blk.0.attn_q.weight") == nil)   // released for this run
        back.expect(["blk.0.attn_q.weight"])                        // a new run loads it again
        #expect(try back.prepare("blk.0.attn_q.weight")?.sum == a.sum)
        #expect(try back.prepare("blk.0.ffn_down.weight")?.sum == [1, 2, 3, 4])
        #expect(back.groupKey(for: "blk.0.attn_q.weight") == "blk.0.attn_k.weight")
        // Not a Hessians file: a clear error naming it.
        #expect(throws: QuantKitError.self) { try Hessians(path: "\(PureQuantizeGoldenTests.golden)/inputs.gguf") }
    }
}
