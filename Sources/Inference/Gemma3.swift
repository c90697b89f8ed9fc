import QKCore

/// Gemma 3 decoder (`gemma3`): embeddings scaled by √n_embd; each block normalises before and
/// after attention and before and after the GeGLU feed-forward; q and k are RMS-normed per head;
/// five of every six layers attend within a sliding window with their own RoPE base, the sixth
/// globally. (llama.cpp's converter stores Gemma's norm weights as 1 + w, so they are used as is.)
struct Gemma3Decoder: Decoder {
    struct Layer: @unchecked Sendable {
        let attnNorm: [Float]
        let wq, wk, wv, wo: Matrix
        let qNorm, kNorm: [Float]                 // [D], shared by all heads
        let postAttnNorm: [Float]
        let ffnNorm: [Float]
        let wGate, wUp, wDown: Matrix
        let postFfnNorm: [Float]
    }

    let config: ModelConfig
    let ends: DecoderEnds
    let layers: [Layer]
    let ropeGlobal: Rope
    let ropeSliding: Rope

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
                         wo: try w.matrix(p + "attn_output.weight", cols: c.headCount * c.valueDim, rows: e),
                         qNorm: try w.vector(p + "attn_q_norm.weight", count: c.headDim),
                         kNorm: try w.vector(p + "attn_k_norm.weight", count: c.headDim),
                         postAttnNorm: try w.vector(p + "post_attention_norm.weight", count: e),
                         ffnNorm: try w.vector(p + "ffn_norm.weight", count: e),
                         wGate: try w.matrix(p + "ffn_gate.weight", cols: e, rows: c.feedForwardLength),
                         wUp: try w.matrix(p + "ffn_up.weight", cols: e, rows: c.feedForwardLength),
                         wDown: try w.matrix(p + "ffn_down.weight", cols: c.feedForwardLength, rows: e),
                         postFfnNorm: try w.vector(p + "post_ffw_norm.weight", count: e))
        }
        ropeGlobal = Rope(dims: c.ropeDims, base: c.ropeBase, style: .halves)
        ropeSliding = Rope(dims: c.ropeDims, base: c.ropeBaseSliding, style: .halves)
    }

    func forward(tokens: UnsafePointer<Int32>, count T: Int, start: Int, outputs: Range<Int>,
                 ws: Workspace, cache: KVCache, logits: UnsafeMutablePointer<Float>) {
        let c = config, E = c.embeddingLength, F = c.feedForwardLength, D = c.headDim
        let x = ws.x                                               // [T, E] residual stream
        ends.embed(tokens, count: T, into: x, scale: c.embeddingScale)  // x = embd · √E
        ws.prepareRope(ropeGlobal, start: start, tokens: T, into: ws.ropeCache)
        ws.prepareRope(ropeSliding, start: start, tokens: T, into: ws.ropeCacheSliding)
        for (il, L) in layers.enumerated() {
            let sliding = c.isSlidingLayer[il]
            ws.norm(x, ws.h, rows: T, n: E, L.attnNorm)              // h = rmsnorm(x) ⊙ attn_norm
            ws.linear([(L.wq, ws.q), (L.wk, ws.k), (L.wv, ws.v)], input: ws.h, tokens: T)
            ws.norm(ws.q, ws.q, rows: T * c.headCount, n: D, L.qNorm)    // per-head q norm
            ws.norm(ws.k, ws.k, rows: T * c.kvHeadCount, n: D, L.kNorm)  // per-head k norm
            ws.rope(sliding ? ropeSliding : ropeGlobal, tokens: T, cache: sliding ? ws.ropeCacheSliding : ws.ropeCache)
            Ops.scale(ws.q, count: T * c.qWidth, by: c.attentionScale)   // q · 1/√D
            cache.store(layer: il, start: start, tokens: T, k: ws.k, v: ws.v)
            ws.attention(layer: il, cache: cache, start: start, tokens: T, scale: 1,
                         window: sliding ? c.slidingWindow : nil)          // att [T, H·Dv]
            ws.linear([(L.wo, ws.o)], input: ws.att, tokens: T)           // o [T, E]
            ws.norm(ws.o, ws.o, rows: T, n: E, L.postAttnNorm)
            Ops.add(x, ws.o, count: T * E)                                 // x += post_norm(o)
            ws.norm(x, ws.h, rows: T, n: E, L.ffnNorm)
            ws.linear([(L.wGate, ws.gate), (L.wUp, ws.up)], input: ws.h, tokens: T)  // [T, F] each
            Ops.geglu(ws.gate, ws.up, count: T * F)                        // gate = gelu(gate) ⊙ up
            ws.linear([(L.wDown, ws.o)], input: ws.gate, tokens: T)       // o [T, E]
            ws.norm(ws.o, ws.o, rows: T, n: E, L.postFfnNorm)
            Ops.add(x, ws.o, count: T * E)                                 // x += post_norm(ffn)
        }
        ends.logits(ws, x: x, outputs: outputs, eps: c.rmsEpsilon, into: logits)  // [outputs, V]
    }
}
