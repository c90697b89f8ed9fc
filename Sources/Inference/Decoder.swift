import DotKernels
import GGUF
import QKCore

/// One architecture's forward pass over a batch of tokens: fills the KV cache for positions
/// start..<start+count and writes the logits of the batch tokens in `outputs`
/// (`outputs.count` rows of vocabulary size).
protocol Decoder: Sendable {
    var config: ModelConfig { get }
    func forward(tokens: UnsafePointer<Int32>, count: Int, start: Int, outputs: Range<Int>,
                 ws: Workspace, cache: KVCache, logits: UnsafeMutablePointer<Float>)
}

/// The pieces every decoder shares: token embeddings, the final norm and the output head.
struct DecoderEnds: @unchecked Sendable {
    let tokenEmbedding: Matrix
    let outputNorm: [Float]
    let output: Matrix

    init(_ w: WeightLoader, _ c: ModelConfig) throws {
        tokenEmbedding = try w.matrix("token_embd.weight", cols: c.embeddingLength, rows: c.vocabularySize)
        outputNorm = try w.vector("output_norm.weight", count: c.embeddingLength)
        // Tied embeddings: no output.weight means the embedding matrix is the output head.
        output = w.has("output.weight") ? try w.matrix("output.weight", cols: c.embeddingLength, rows: c.vocabularySize)
                                        : tokenEmbedding
    }

    /// x[t] = embedding of tokens[t] (× scale when given).
    func embed(_ tokens: UnsafePointer<Int32>, count: Int, into x: UnsafeMutablePointer<Float>, scale: Float?) {
        let e = tokenEmbedding.cols
        for t in 0 ..< count {
            tokenEmbedding.row(Int(tokens[t]), into: x + t * e)
            if let scale { Ops.scale(x + t * e, count: e, by: scale) }
        }
    }

    /// logits[i] = output · norm(x[outputs.lowerBound + i]).
    func logits(_ ws: Workspace, x: UnsafeMutablePointer<Float>, outputs: Range<Int>, eps: Float,
                into logits: UnsafeMutablePointer<Float>) {
        guard !outputs.isEmpty else { return }
        let e = ws.config.embeddingLength
        outputNorm.withUnsafeBufferPointer { w in
            Ops.rmsNorm(x + outputs.lowerBound * e, ws.h, rows: outputs.count, n: e, weight: w.baseAddress!, eps: eps)
        }
        ws.linear([(output, logits)], input: ws.h, tokens: outputs.count)
    }
}

extension Workspace {
    /// RMS-norms `rows` rows of `src` into `dst` with the weight vector `w`.
    func norm(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: Int, n: Int, _ w: [Float]) {
        w.withUnsafeBufferPointer { Ops.rmsNorm(src, dst, rows: rows, n: n, weight: $0.baseAddress!, eps: config.rmsEpsilon) }
    }

    /// Fills `cache` with RoPE cos/sin for positions start..<start+tokens (headDim floats per
    /// token): once per forward pass, since every layer using `rope` shares them.
    func prepareRope(_ rope: Rope, start: Int, tokens: Int, into cache: UnsafeMutablePointer<Float>) {
        for t in 0 ..< tokens { rope.fill(position: start + t, cache: cache + t * config.headDim) }
    }

    /// Applies RoPE to `tokens` rows of q (H heads) and k (KV heads) with prepared angles.
    func rope(_ rope: Rope, tokens: Int, cache: UnsafePointer<Float>) {
        let c = config
        for t in 0 ..< tokens {
            let angles = cache + t * c.headDim
            rope.apply(q + t * c.qWidth, heads: c.headCount, headDim: c.headDim, cache: angles)
            rope.apply(k + t * c.kvWidth, heads: c.kvHeadCount, headDim: c.headDim, cache: angles)
        }
    }
}
