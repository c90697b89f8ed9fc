import DotKernels
import QKCore

/// Scratch buffers and the thread pool one session computes with: sized once for the largest
/// batch, so a forward pass allocates nothing.
final class Workspace: @unchecked Sendable {
    let config: ModelConfig
    let maxTokens: Int
    let pool: ThreadPool
    let threads: Int

    let x, h, q, k, v, att, o, gate, up: UnsafeMutablePointer<Float>
    /// Converted activations, one buffer per activation format in use.
    private var activationBuffers: [GGMLType: UnsafeMutableRawPointer] = [:]
    private let activationCapacity: Int
    /// RoPE cos/sin per batch token (headDim floats each); the second for sliding-window layers.
    let ropeCache, ropeCacheSliding: UnsafeMutablePointer<Float>
    /// Router and per-expert buffers of a mixture-of-experts model; nil for a dense one.
    let moe: ExpertScratch?
    /// Sees every matmul input (calibration); nil in ordinary inference.
    var observer: ActivationObserver?

    init(config: ModelConfig, maxTokens: Int, pool: ThreadPool, threads: Int) {
        self.config = config
        self.maxTokens = maxTokens
        self.pool = pool
        self.threads = threads
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1) * maxTokens)
            p.initialize(repeating: 0, count: max(n, 1) * maxTokens)
            return p
        }
        let e = config.embeddingLength
        x = buf(e); h = buf(e); o = buf(e)
        q = buf(config.qWidth); k = buf(config.kvWidth); v = buf(config.vWidth)
        att = buf(config.headCount * config.valueDim)
        gate = buf(config.feedForwardLength); up = buf(config.feedForwardLength)
        ropeCache = buf(config.headDim); ropeCacheSliding = buf(config.headDim)
        let widest = max(e, config.feedForwardLength, config.qWidth, config.headCount * config.valueDim)
        activationCapacity = widest * 4 * maxTokens
        moe = config.expertCount > 0 ? ExpertScratch(config: config, maxTokens: maxTokens) : nil
    }

    deinit {
        for p in [x, h, q, k, v, att, o, gate, up, ropeCache, ropeCacheSliding] { p.deallocate() }
        for (_, p) in activationBuffers { p.deallocate() }
    }

    private func activationBuffer(_ type: GGMLType) -> UnsafeMutableRawPointer {
        if let b = activationBuffers[type] { return b }
        let b = UnsafeMutableRawPointer.allocate(byteCount: activationCapacity, alignment: 64)
        activationBuffers[type] = b
        return b
    }

    /// out_i = W_i · x for each (W_i, out_i), over `tokens` rows of x (row length = W.cols,
    /// all equal); out_i rows have length W_i.rows. The activations are converted once per format
    /// and the rows of all matrices are spread over the pool in one job.
    func linear(_ jobs: [(Matrix, UnsafeMutablePointer<Float>)], input xIn: UnsafePointer<Float>, tokens: Int) {
        let n = jobs[0].0.cols
        observer?.observe(jobs.map(\.0), input: xIn, tokens: tokens, pool: pool, threads: threads)
        var converted: [GGMLType: UnsafeMutableRawPointer] = [:]
        for (m, _) in jobs where converted[m.kernel.activationType] == nil {
            precondition(m.cols == n)
            let buffer = activationBuffer(m.kernel.activationType)
            let kernel = m.kernel
            let rowBytes = kernel.activationRowBytes(n: n)
            if tokens >= 8 {
                let per = (tokens + threads * 2 - 1) / (threads * 2)
                pool.parallelFor((tokens + per - 1) / per, threads: threads) { c in
                    let t0 = c * per, t1 = min(tokens, t0 + per)
                    kernel.quantizeActivations(xIn + t0 * n, xStride: n, tokens: t1 - t0, n: n, into: buffer + t0 * rowBytes)
                }
            } else {
                kernel.quantizeActivations(xIn, xStride: n, tokens: tokens, n: n, into: buffer)
            }
            converted[m.kernel.activationType] = buffer
        }
        // Work items: (job, row range), rows in multiples of 16.
        var items: [(Int, Range<Int>)] = []
        let totalRows = jobs.reduce(0) { $0 + $1.0.rows }
        let target = max(16, (totalRows / (threads * 6) + 15) / 16 * 16)
        for (j, (m, _)) in jobs.enumerated() {
            var r = 0
            while r < m.rows { items.append((j, r ..< min(m.rows, r + target))); r += target }
        }
        items.withUnsafeBufferPointer { itemsBuf in
            pool.parallelFor(itemsBuf.count, threads: threads) { i in
                let (j, rows) = itemsBuf[i]
                let (m, out) = jobs[j]
                m.kernel.matmul(n: n, weights: m.data, weightRowBytes: m.rowBytes, rows: rows,
                                activations: converted[m.kernel.activationType]!, tokens: tokens,
                                out: out, outStride: m.rows)
            }
        }
    }
}
