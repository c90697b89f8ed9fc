import QKCore

/// Qwen2 decoder (`qwen2`: Qwen2, Qwen2.5): the Llama block with biases on q, k and v, and RoPE
/// rotating the first half of each head against the second (NEOX style).
struct Qwen2Decoder: Decoder {
    struct Layer: @unchecked Sendable {
        let attnNorm: [Float]
        let wq, wk, wv, wo: Matrix
        let bq, bk, bv: [Float]
        let ffnNorm: [Float]
        let wGate, wUp, wDown: Matrix
    }

    let config: ModelConfig
    let ends: DecoderEnds
    let layers: [Layer]
    let rope: Rope

    init(_ w: WeightLoader, _ c: ModelConfig) throws {
        config = c
        ends = try DecoderEnds(w, c)
        let e = c.embeddingLength
        layers = try (0 ..< c.layerCount).map { i in
            let p = "blk.\(i)."
            return Layer(attnNorm: try w.vector(p + "attn_norm.weight", count: e),
                         wq: try w.matrix(p + "attn_q.weight", cols: e, rows: c.qWidth),
                         wk: try w.matrix(p + "attn_k.weight", cols: e, rows: c.kvWidth),
                         wv: try w.matrix(p + "attn_v.weight", cols: e, rows: c.vWidth),
                         wo: try w.matrix(p + "attn_output.weight", cols: c.qWidth, rows: e),
                         bq: try w.vector(p + "attn_q.bias", count: c.qWidth),
                         bk: try w.vector(p + "attn_k.bias", count: c.kvWidth),
                         bv: try w.vector(p + "attn_v.bias", count: c.vWidth),
                         ffnNorm: try w.vector(p + "ffn_norm.weight", count: e),
                         wGate: try w.matrix(p + "ffn_gate.weight", cols: e, rows: c.feedForwardLength),
                         wUp: try w.matrix(p + "ffn_up.weight", cols: e, rows: c.feedForwardLength),
                         wDown: try w.matrix(p + "ffn_down.weight", cols: c.feedForwardLength, rows: e))
        }
        rope = Rope(dims: c.ropeDims, base: c.ropeBase, style: .halves)
    }

    func forward(tokens: UnsafePointer<Int32>, count T: Int, start: Int, outputs: Range<Int>,
                 ws: Workspace, cache: KVCache, logits: UnsafeMutablePointer<Float>) {
        let c = config, E = c.embeddingLength, F = c.feedForwardLength
        let x = ws.x                                               // [T, E] residual stream
        ends.embed(tokens, count: T, into: x, scale: nil)
        ws.prepareRope(rope, start: start, tokens: T, into: ws.ropeCache)
        for (il, L) in layers.enumerated() {
            ws.norm(x, ws.h, rows: T, n: E, L.attnNorm)              // h = rmsnorm(x) ⊙ attn_norm
            ws.linear([(L.wq, ws.q), (L.wk, ws.k), (L.wv, ws.v)], input: ws.h, tokens: T)
            L.bq.withUnsafeBufferPointer { Ops.addBias(ws.q, rows: T, n: c.qWidth, bias: $0.baseAddress!) }
            L.bk.withUnsafeBufferPointer { Ops.addBias(ws.k, rows: T, n: c.kvWidth, bias: $0.baseAddress!) }
            L.bv.withUnsafeBufferPointer { Ops.addBias(ws.v, rows: T, n: c.vWidth, bias: $0.baseAddress!) }
            ws.rope(rope, tokens: T, cache: ws.ropeCache)                   // q [T, H·D], k [T, KV·D]
            cache.store(layer: il, start: start, tokens: T, k: ws.k, v: ws.v)
            ws.attention(layer: il, cache: cache, start: start, tokens: T,
                         scale: c.attentionScale, window: nil)     // att [T, H·D]
            ws.linear([(L.wo, ws.o)], input: ws.att, tokens: T)
            Ops.add(x, ws.o, count: T * E)
            ws.norm(x, ws.h, rows: T, n: E, L.ffnNorm)
            ws.linear([(L.wGate, ws.gate), (L.wUp, ws.up)], input: ws.h, tokens: T)  // [T, F] each
            Ops.swiglu(ws.gate, ws.up, count: T * F)
            ws.linear([(L.wDown, ws.o)], input: ws.gate, tokens: T)
            Ops.add(x, ws.o, count: T * E)
        }
        ends.logits(ws, x: x, outputs: outputs, eps: c.rmsEpsilon, into: logits)  // [outputs, V]
    }
}
