#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DotKernels
import QKCore

/// Keys and values of every layer for up to `capacity` positions. Values are rounded to F16
/// precision on the way in, as llama.cpp's default F16 cache stores them, and kept as F32 so
/// attention reads them without conversion.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    let kWidth: Int
    let vWidth: Int
    private let keys: [UnsafeMutablePointer<Float>]
    private let values: [UnsafeMutablePointer<Float>]

    init(config: ModelConfig, capacity: Int) {
        self.capacity = capacity
        kWidth = config.kvWidth
        vWidth = config.vWidth
        keys = (0 ..< config.layerCount).map { _ in .allocate(capacity: capacity * config.kvWidth) }
        values = (0 ..< config.layerCount).map { _ in .allocate(capacity: capacity * config.vWidth) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Bytes held (both K and V, all layers).
    public var byteCount: Int { (kWidth + vWidth) * capacity * 4 * keys.count }

    /// Stores `tokens` rows of k and v for positions start..<start+tokens of `layer`.
    func store(layer: Int, start: Int, tokens: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let kd = keys[layer] + start * kWidth, vd = values[layer] + start * vWidth
        kd.update(from: k, count: tokens * kWidth)
        vd.update(from: v, count: tokens * vWidth)
        Ops.roundToHalf(kd, count: tokens * kWidth)
        Ops.roundToHalf(vd, count: tokens * vWidth)
    }

    func keys(layer: Int) -> UnsafePointer<Float> { UnsafePointer(keys[layer]) }
    func values(layer: Int) -> UnsafePointer<Float> { UnsafePointer(values[layer]) }
}

extension Workspace {
    /// Causal multi-head attention of the batch's queries (already roped and scaled as the
    /// architecture wants; `scale` multiplies q·k) over the cache of `layer`, positions
    /// 0...start+t for token t, or only the last `window` of them. Output: `att` [tokens × H·Dv].
    func attention(layer: Int, cache: KVCache, start: Int, tokens: Int, scale: Float, window: Int?) {
        let c = config
        let groups = c.headCount / c.kvHeadCount
        let block = 16
        let blocks = (tokens + block - 1) / block
        let q = self.q, att = self.att
        let keys = cache.keys(layer: layer), values = cache.values(layer: layer)
        let kW = cache.kWidth, vW = cache.vWidth, d = c.headDim, dv = c.valueDim
        let capacity = start + tokens
        pool.parallelFor(c.headCount * blocks, threads: threads) { item in
            let head = item / blocks, b = item % blocks
            let kvh = head / groups
            withUnsafeTemporaryAllocation(of: Float.self, capacity: capacity) { scoresBuf in
                let scores = scoresBuf.baseAddress!
                for t in b * block ..< min(tokens, (b + 1) * block) {
                    let pos = start + t
                    let lo = window.map { max(0, pos - $0 + 1) } ?? 0
                    let qv = q + t * c.qWidth + head * d
                    var maxScore = -Float.infinity
                    for p in lo ... pos {
                        let s = dotF32(qv, keys + p * kW + kvh * d, d) * scale
                        scores[p] = s
                        maxScore = max(maxScore, s)
                    }
                    var sum: Float = 0
                    for p in lo ... pos {
                        let e = expf(scores[p] - maxScore)
                        scores[p] = e
                        sum += e
                    }
                    let out = att + t * (c.headCount * dv) + head * dv
                    out.initialize(repeating: 0, count: dv)
                    for p in lo ... pos {
                        let w = scores[p]
                        let vr = values + p * vW + kvh * dv
                        axpy(out, vr, w, dv)
                    }
                    let inv = 1 / sum
                    for i in 0 ..< dv { out[i] *= inv }
                }
            }
        }
    }
}

/// y += a·x over n floats (vectorized).
@inline(__always)
func axpy(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ a: Float, _ n: Int) {
    var i = 0
    let av = SIMD8<Float>(repeating: a)
    while i + 8 <= n {
        let yr = UnsafeMutableRawPointer(y + i)
        let v = yr.loadUnaligned(as: SIMD8<Float>.self).addingProduct(av, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
        yr.storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += a * x[i]; i += 1 }
}
