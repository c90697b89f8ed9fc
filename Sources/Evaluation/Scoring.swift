#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-position scores of a model's next-token distribution, computed as llama-perplexity does.
public enum Scoring {
    /// −log p(token) under softmax(logits): max, then Σexp in double, as llama-perplexity.
    public static func negativeLogLikelihood(_ logits: UnsafePointer<Float>, vocabulary n: Int, token: Int) -> Double {
        var maxLogit = logits[0]
        for i in 1 ..< n { maxLogit = max(maxLogit, logits[i]) }
        var sumExp = 0.0
        for i in 0 ..< n { sumExp += Double(expf(logits[i] - maxLogit)) }
        return -(Double(logits[token] - maxLogit) - log(sumExp))
    }

    /// One position compared with the reference distribution of a logits file.
    public struct Comparison: Sendable {
        public var nll: Double
        public var nllBase: Double
        public var kld: Double
        public var pDiff: Float
        public var sameTop: Bool
    }

    /// KL(base ‖ model), both NLLs, Δp of the true token and top-token agreement, as
    /// llama-perplexity's `--kl-divergence` computes them from a compressed base record.
    public static func compare(_ logits: UnsafePointer<Float>, vocabulary n: Int, token: Int,
                               base record: UnsafePointer<UInt16>) -> Comparison {
        var maxLogit = logits[0]
        var imax = 0
        for i in 1 ..< n where logits[i] > maxLogit { maxLogit = logits[i]; imax = i }
        var sumExp = 0.0
        for i in 0 ..< n { sumExp += Double(expf(logits[i] - maxLogit)) }
        let logSumExp = Float(log(sumExp))
        let raw = UnsafeRawPointer(record)
        let scale = raw.loadUnaligned(as: Float.self)
        let minLogProb = raw.loadUnaligned(fromByteOffset: 4, as: Float.self)
        let q = record + 4
        let nll = maxLogit + logSumExp - logits[token]
        let nllBase = -(scale * Float(q[token]) + minLogProb)
        let shifted = maxLogit + logSumExp
        var sum = 0.0
        var imaxBase = -1
        var pMaxBase: Float = 0
        for i in 0 ..< n {
            let pLogBase = scale * Float(q[i]) + minLogProb
            if i == 0 || pLogBase > pMaxBase { pMaxBase = pLogBase; imaxBase = i }
            if pLogBase > -16 {
                sum += Double(expf(pLogBase) * (pLogBase - logits[i] + shifted))
            }
        }
        let pDiff = expf(-nll) - expf(-nllBase)
        return Comparison(nll: Double(nll), nllBase: Double(nllBase), kld: sum, pDiff: pDiff, sameTop: imax == imaxBase)
    }
}
