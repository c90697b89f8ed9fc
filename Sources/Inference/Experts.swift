#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QKCore

/// A mixture-of-experts feed-forward (Mixtral-style, llama.cpp's `build_moe_ffn` with softmax
/// gating and re-normalised weights): a router scores the experts per token, the
/// `used` best run their SwiGLU feed-forward, and the outputs are summed with the router's
/// probabilities, re-normalised over the chosen experts.
struct ExpertFeedForward: @unchecked Sendable {
    let router: Matrix              // [n_expert, E]
    let gate, up: [Matrix]          // per expert [F, E]
    let down: [Matrix]              // per expert [E, F]
    let used: Int

    init(_ w: WeightLoader, layer p: String, _ c: ModelConfig) throws {
        let e = c.embeddingLength, f = c.feedForwardLength, n = c.expertCount
        router = try w.matrix(p + "ffn_gate_inp.weight", cols: e, rows: n)
        gate = try w.experts(p + "ffn_gate_exps.weight", cols: e, rows: f, count: n)
        up = try w.experts(p + "ffn_up_exps.weight", cols: e, rows: f, count: n)
        down = try w.experts(p + "ffn_down_exps.weight", cols: f, rows: e, count: n)
        used = c.expertUsedCount
    }

    /// out[t] = Σ_slots weight · down(silu(gate·h[t]) ⊙ up·h[t]) over the experts chosen for
    /// token t, for `T` rows of h.
    func forward(_ ws: Workspace, input h: UnsafePointer<Float>, tokens T: Int, into out: UnsafeMutablePointer<Float>) {
        let E = ws.config.embeddingLength, F = ws.config.feedForwardLength, n = router.rows, k = used
        let m = ws.moe!
        ws.linear([(router, m.logits)], input: h, tokens: T)     // logits [T, n_expert]
        for t in 0 ..< T { route(m.logits + t * n, n: n, ids: m.ids + t * k, weights: m.weights + t * k) }
        // Each expert runs on the rows routed to it, gathered slot by slot and token by token
        // (the order in which llama.cpp's MUL_MAT_ID hands rows to an importance matrix).
        for e in 0 ..< n {
            var count = 0
            for slot in 0 ..< k {
                for t in 0 ..< T where m.ids[t * k + slot] == Int32(e) {
                    (m.input + count * E).update(from: h + t * E, count: E)
                    m.rowSlot[count] = t * k + slot
                    count += 1
                }
            }
            guard count > 0 else { continue }
            ws.linear([(up[e], ws.up), (gate[e], ws.gate)], input: m.input, tokens: count)   // [count, F]
            Ops.swiglu(ws.gate, ws.up, count: count * F)
            ws.linear([(down[e], m.expertOut)], input: ws.gate, tokens: count)              // [count, E]
            for r in 0 ..< count { (m.slots + m.rowSlot[r] * E).update(from: m.expertOut + r * E, count: E) }
        }
        // out[t] = (o₀·w₀ + o₁·w₁) + …, summed slot after slot as ggml adds the views.
        for t in 0 ..< T {
            let o = out + t * E
            for slot in 0 ..< k {
                let s = m.slots + (t * k + slot) * E, w = m.weights[t * k + slot]
                if slot == 0 { for i in 0 ..< E { o[i] = s[i] * w } }
                else { for i in 0 ..< E { o[i] += s[i] * w } }
            }
        }
    }

    /// Softmax over the router logits, the `used` most probable experts (highest first), and
    /// their probabilities divided by their sum (clamped below at 2⁻¹⁴, as llama.cpp does).
    private func route(_ logits: UnsafePointer<Float>, n: Int, ids: UnsafeMutablePointer<Int32>, weights: UnsafeMutablePointer<Float>) {
        var maxLogit = -Float.infinity
        for i in 0 ..< n { maxLogit = max(maxLogit, logits[i]) }
        var sum = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { p in
            for i in 0 ..< n {
                p[i] = expf(logits[i] - maxLogit)
                sum += Double(p[i])
            }
            let inv = Float(1 / sum)
            for i in 0 ..< n { p[i] *= inv }
            var chosenSum: Float = 0
            for slot in 0 ..< used {
                var best = -1
                for i in 0 ..< n where p[i] >= 0 && (best < 0 || p[i] > p[best]) { best = i }
                if best < 0 { best = (0 ..< n).first { p[$0] != -1 }! }  // NaN scores: any unchosen
                ids[slot] = Int32(best)
                weights[slot] = p[best]
                chosenSum += p[best]
                p[best] = -1
            }
            let denominator = max(chosenSum, 6.103515625e-5)
            for slot in 0 ..< used { weights[slot] /= denominator }
        }
    }
}

/// Scratch of the expert feed-forward, sized for `maxTokens` tokens.
final class ExpertScratch: @unchecked Sendable {
    let logits, weights, input, expertOut, slots: UnsafeMutablePointer<Float>
    let ids: UnsafeMutablePointer<Int32>
    let rowSlot: UnsafeMutablePointer<Int>

    init(config c: ModelConfig, maxTokens: Int) {
        let k = c.expertUsedCount, e = c.embeddingLength
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        logits = buf(maxTokens * c.expertCount)
        weights = buf(maxTokens * k)
        input = buf(maxTokens * e)
        expertOut = buf(maxTokens * e)
        slots = buf(maxTokens * k * e)
        ids = .allocate(capacity: maxTokens * k)
        ids.initialize(repeating: 0, count: maxTokens * k)
        rowSlot = .allocate(capacity: maxTokens)
        rowSlot.initialize(repeating: 0, count: maxTokens)
    }

    deinit {
        for p in [logits, weights, input, expertOut, slots] { p.deallocate() }
        ids.deallocate()
        rowSlot.deallocate()
    }
}
