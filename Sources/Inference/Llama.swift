import QKCore

/// Llama-family decoder (`llama`: Llama 2/3, SmolLM2, Mistral): pre-norm blocks with RMSNorm,
/// rotary attention with grouped KV heads and a SwiGLU feed-forward. RoPE pairs are adjacent
/// dimensions (llama.cpp's converter permutes q/k rows for that). Mixtral-style files replace
/// the feed-forward by a mixture of experts (`ExpertFeedForward`).
struct LlamaDecoder: Decoder {
    struct Layer: @unchecked Sendable {
        let attnNorm: [Float]
        let wq, wk, wv, wo: Matrix
        let ffnNorm: [Float]
        let ffn: FeedForward
    }

    enum FeedForward: @unchecked Sendable {
        case dense(gate: Matrix, up: Matrix, down: Matrix)
        case experts(ExpertFeedForward)
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
            let ffn: FeedForward = c.expertCount > 0 ? .experts(try ExpertFeedForward(w, layer: p, c)) : .dense(
                gate: try w.matrix(p + "ffn_gate.weight", cols: e, rows: c.feedForwardLength),
                up: try w.matrix(p + "ffn_up.weight", cols: e, rows: c.feedForwardLength),
                down: try w.matrix(p + "ffn_down.weight", cols: c.feedForwardLength, rows: e))
            return Layer(attnNorm: try w.vector(p + "attn_norm.weight", count: e),
                         wq: try w.matrix(p + "attn_q.weight", cols: e, rows: c.qWidth),
                         wk: try w.matrix(p + "attn_k.weight", cols: e, rows: c.kvWidth),
                         wv: try w.matrix(p + "attn_v.weight", cols: e, rows: c.vWidth),
                         wo: try w.matrix(p + "attn_output.weight", cols: c.qWidth, rows: e),
                         ffnNorm: try w.vector(p + "ffn_norm.weight", count: e),
                         ffn: ffn)
        }
        // Llama 3.1+ files carry per-pair RoPE frequency divisors.
        let factors = try w.optionalVector("rope_freqs.weight", count: c.ropeDims / 2)
        rope = Rope(dims: c.ropeDims, base: c.ropeBase, style: c.ropeStyle, factors: factors)
    }

    func forward(tokens: UnsafePointer<Int32>, count T: Int, start: Int, outputs: Range<Int>,
                 ws: Workspace, cache: KVCache, logits: UnsafeMutablePointer<Float>) {
        let c = config, E = c.embeddingLength, F = c.feedForwardLength
        let x = ws.x                                               // [T, E] residual stream
        ends.embed(tokens, count: T, into: x, scale: nil)
        ws.prepareRope(rope, start: start, tokens: T, into: ws.ropeCache)
        for (il, L) in layers.enumerated() {
            // Attention block.
            ws.norm(x, ws.h, rows: T, n: E, L.attnNorm)              // h = rmsnorm(x) ⊙ attn_norm
            ws.linear([(L.wq, ws.q), (L.wk, ws.k), (L.wv, ws.v)],   // q [T, H·D], k/v [T, KV·D]
                      input: ws.h, tokens: T)
            ws.rope(rope, tokens: T, cache: ws.ropeCache)
            cache.store(layer: il, start: start, tokens: T, k: ws.k, v: ws.v)
            ws.attention(layer: il, cache: cache, start: start, tokens: T,
                         scale: c.attentionScale, window: nil)     // att [T, H·D]
            ws.linear([(L.wo, ws.o)], input: ws.att, tokens: T)     // o [T, E]
            Ops.add(x, ws.o, count: T * E)                           // x += o
            // Feed-forward block.
            ws.norm(x, ws.h, rows: T, n: E, L.ffnNorm)
            switch L.ffn {
            case .dense(let gate, let up, let down):
                ws.linear([(gate, ws.gate), (up, ws.up)], input: ws.h, tokens: T)  // [T, F] each
                Ops.swiglu(ws.gate, ws.up, count: T * F)             // gate = silu(gate) ⊙ up
                ws.linear([(down, ws.o)], input: ws.gate, tokens: T)  // o [T, E]
            case .experts(let moe):
                moe.forward(ws, input: ws.h, tokens: T, into: ws.o)    // o [T, E], routed experts
            }
            Ops.add(x, ws.o, count: T * E)
        }
        ends.logits(ws, x: x, outputs: outputs, eps: c.rmsEpsilon, into: logits)  // [outputs, V]
    }
}
