/// An estimate of llama.cpp's compute buffer (`sched_reserve: CPU compute buffer size = …`) and
/// its exact output buffer (`llama_context: CPU output buffer size = …`).
///
/// llama.cpp reserves the graph of one worst-case micro-batch (`n_ubatch` tokens, every token
/// an output) and ggml's allocator reuses memory between tensors that are not alive at the same
/// time, so the buffer is the peak of live activations. With flash attention (llama.cpp's
/// default where the backend supports it, as on the CPU) the peak is at the end of the graph:
/// the F32 logits of the micro-batch plus two hidden-state rows per token (the final norm's input
/// and output). The FFN (gate and up activations) or, without flash attention, the attention
/// scores (`n_kv × n_ubatch × n_head` floats) can exceed it for models with small vocabularies or
/// long contexts, so the estimate is the largest of the three phases. Measured against
/// llama-perplexity on the three real models (Tests/PlanningTests): within 5 % at every context
/// and cache type recorded.
public enum ComputeBuffer {
    /// Estimated compute-buffer bytes for one micro-batch.
    public static func estimate(_ shape: ModelShape, _ o: ContextOptions, flashAttention: Bool = true) -> Int {
        let ub = o.effectiveUbatch
        let embd = shape.embeddingLength
        let hidden = 2 * embd * ub * 4
        let logits = shape.vocabSize * ub * 4 + hidden
        let ffn = (2 * shape.mix.feedForwardLength + 2 * embd) * ub * 4
        var attention = 0
        if !flashAttention {
            let heads = shape.mix.headCount.max() ?? 0
            attention = o.cellsPerSequence * ub * heads * 4 + hidden
        }
        return max(logits, ffn, attention)
    }

    /// The output buffer: one row of F32 logits per sequence (llama.cpp sizes it for the
    /// outputs of one decode step).
    public static func outputBuffer(_ shape: ModelShape, _ o: ContextOptions) -> Int {
        shape.vocabSize * 4 * max(o.sequences, 1)
    }
}
