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
