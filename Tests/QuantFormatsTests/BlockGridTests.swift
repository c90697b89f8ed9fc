import Foundation
import QKCore
import QuantFormats
import Testing

/// A grid must describe its type exactly: on blocks written by ggml's quantizer (the golden
/// inputs, with and without importance), the integers it reads decode through its scales to
/// the very floats the type's dequantizer gives, and writing them back reproduces the block.
struct BlockGridTests {
    @Test(arguments: BlockGrid.supportedTypes)
    func gridDecodesAndRepacksGGMLBlocks(type: GGMLType) throws {
        let grid = try #require(BlockGrid.grid(for: type))
        let codec = try #require(QuantCodec.codec(type))
        #expect(grid.blockBytes == type.rowSize(grid.blockSize))
        let inputs = try RoundTripTests.loadInputs()
        var a = [Float](repeating: 0, count: grid.blockSize), b = a
        var q = [UInt8](repeating: 0, count: grid.blockSize)
        var checked = 0
        for set in inputs.sets {
            for weights in [nil, set.weights] {
                var bytes = [UInt8](repeating: 0, count: type.rowSize(set.n) * set.rows)
                var deq = [Float](repeating: 0, count: set.x.count)
                set.x.withUnsafeBufferPointer { x in
                    bytes.withUnsafeMutableBytes { out in
                        for r in 0 ..< set.rows {
                            let w = weights.map { Array($0[0 ..< set.n]) }
                            w.withOptionalPointer { wp in
                                codec.quantize(x.baseAddress! + r * set.n, out.baseAddress! + r * type.rowSize(set.n), set.n, wp)
                            }
                        }
                    }
                }
                bytes.withUnsafeBytes { src in
                    for r in 0 ..< set.rows { codec.dequantize(src.baseAddress! + r * type.rowSize(set.n), &deq[r * set.n], set.n) }
                }
                let blocks = set.x.count / grid.blockSize
                for blk in 0 ..< blocks {
                    let original = Array(bytes[blk * grid.blockBytes ..< (blk + 1) * grid.blockBytes])
                    var block = original
                    block.withUnsafeMutableBufferPointer { p in
                        grid.scales(p.baseAddress!, &a, &b)
                        grid.unpack(p.baseAddress!, &q)
                    }
                    for i in 0 ..< grid.blockSize {
                        let v = grid.value(Int(q[i]), a: a[i], b: b[i])
                        if v != deq[blk * grid.blockSize + i] {
                            Issue.record("\(type.name) \(set.name) block \(blk) value \(i): grid \(v), dequantize \(deq[blk * grid.blockSize + i])")
                            return
                        }
                    }
                    // Scramble every integer, then write the read ones back.
                    var scrambled = q.map { UInt8((Int($0) + 1) % grid.levels) }
                    block.withUnsafeMutableBufferPointer { p in grid.pack(&scrambled, p.baseAddress!) }
                    block.withUnsafeMutableBufferPointer { p in grid.pack(&q, p.baseAddress!) }
                    if block != original {
                        Issue.record("\(type.name) \(set.name) block \(blk): repacking the read integers changed the block")
                        return
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
    }

    /// The sub-scales a search may change: reading and writing them back leaves a ggml block as
    /// it was; changing one changes the decoding (by the type's own dequantizer) of that
    /// sub-block only, exactly as `SubScales.decoded` says.
    @Test(arguments: BlockGrid.supportedTypes.filter { BlockGrid.grid(for: $0)?.subScales != nil })
    func subScalesReadWriteAndDecode(type: GGMLType) throws {
        let grid = try #require(BlockGrid.grid(for: type))
        let sub = try #require(grid.subScales)
        let codec = try #require(QuantCodec.codec(type))
        #expect(sub.count * sub.size == grid.blockSize)
        let set = try #require(try RoundTripTests.loadInputs().sets.first { $0.name.hasPrefix("real") })
        var bytes = [UInt8](repeating: 0, count: type.rowSize(set.n))
        set.x.withUnsafeBufferPointer { x in bytes.withUnsafeMutableBytes { codec.quantize(x.baseAddress!, $0.baseAddress!, set.n, nil) } }
        let width = Int(sub.range.upperBound - sub.range.lowerBound) + 1
        var ints = [Int32](repeating: 0, count: sub.count * sub.fields), back = ints
        var a = [Float](repeating: 0, count: grid.blockSize), b = a, a0 = a, b0 = a, deq = a
        var q = [UInt8](repeating: 0, count: grid.blockSize)
        for blk in 0 ..< min(4, set.n / grid.blockSize) {
            let original = Array(bytes[blk * grid.blockBytes ..< (blk + 1) * grid.blockBytes])
            var block = original
            block.withUnsafeMutableBufferPointer { p in
                sub.read(p.baseAddress!, &ints)
                sub.write(ints, p.baseAddress!)
                grid.scales(p.baseAddress!, &a0, &b0)
                grid.unpack(p.baseAddress!, &q)
            }
            #expect(block == original, "\(type.name) block \(blk): writing the read sub-scales changed the block")
            #expect(ints.allSatisfy { sub.range.contains($0) })
            let d = Float(Float16(bitPattern: UInt16(original[grid.superScaleOffsets[0]]) | UInt16(original[grid.superScaleOffsets[0] + 1]) << 8))
            let dmin = grid.superScaleOffsets.count > 1
                ? Float(Float16(bitPattern: UInt16(original[grid.superScaleOffsets[1]]) | UInt16(original[grid.superScaleOffsets[1] + 1]) << 8)) : 0
            for s in 0 ..< sub.count {
                for f in 0 ..< sub.fields {
                    var changed = ints
                    let k = s * sub.fields + f
                    changed[k] = sub.range.lowerBound + Int32((Int(changed[k] - sub.range.lowerBound) + 7 * s + 3 * f + 1) % width)
                    var modified = original
                    modified.withUnsafeMutableBufferPointer { p in
                        sub.write(changed, p.baseAddress!)
                        sub.read(p.baseAddress!, &back)
                        grid.scales(p.baseAddress!, &a, &b)
                        codec.dequantize(p.baseAddress!, &deq, grid.blockSize)
                    }
                    #expect(back == changed, "\(type.name) sub-block \(s) field \(f): read back \(back) after writing \(changed)")
                    let scale = changed[s * sub.fields], m = sub.fields > 1 ? changed[s * sub.fields + 1] : 0
                    let (na, nb) = sub.decoded(scale: scale, min: m, d: d, dmin: dmin)
                    for i in 0 ..< grid.blockSize {
                        let inside = i / sub.size == s
                        let (ea, eb) = inside ? (na, nb) : (a0[i], b0[i])
                        guard a[i] == ea, b[i] == eb, deq[i] == grid.value(Int(q[i]), a: ea, b: eb) else {
                            Issue.record("\(type.name) block \(blk) sub-block \(s) field \(f) value \(i): scales (\(a[i]), \(b[i])) expected (\(ea), \(eb)); dequantized \(deq[i])")
                            return
                        }
                    }
                }
            }
        }
    }

    @Test func nearestIsTheClosestLevel() throws {
        for type in BlockGrid.supportedTypes {
            let grid = try #require(BlockGrid.grid(for: type))
            for (a, b) in [(Float(0.013), Float(0)), (0.7, -1.3), (-0.02, 0.5)] {
                for v in stride(from: Float(-3), through: 3, by: 0.0137) {
                    let q = grid.nearest(v, a: a, b: b)
                    let e = abs(grid.value(q, a: a, b: b) - v)
                    let best = (0 ..< grid.levels).map { abs(grid.value($0, a: a, b: b) - v) }.min()!
                    #expect(e == best, "\(type.name) v=\(v) a=\(a) b=\(b)")
                }
            }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with a pointer to the array's storage, or nil.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
