#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QKCore

/// Picks the next token from logits: greedy at temperature 0, otherwise llama.cpp's usual chain
/// (top-k, top-p, min-p, temperature, then a draw from a seeded generator, so runs repeat).
public struct Sampler: Sendable {
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var minP: Float
    private var state: UInt64

    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        state = seed &+ 0x9E37_79B9_7F4A_7C15
    }

    /// The most likely token (lowest id on ties), as llama.cpp's greedy sampler.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1 ..< logits.count where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    public mutating func sample(_ logits: [Float]) -> Int32 {
        if temperature <= 0 { return logits.withUnsafeBufferPointer { Sampler.argmax($0) } }
        var candidates = logits.indices.map { (id: $0, logit: logits[$0]) }
        candidates.sort { $0.logit > $1.logit }
        if topK > 0 && topK < candidates.count { candidates.removeSubrange(topK...) }
        let maxLogit = candidates[0].logit
        var probs = candidates.map { expf($0.logit - maxLogit) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        var cum: Float = 0
        var keep = probs.count
        for (i, p) in probs.enumerated() {
            cum += p
            if cum >= topP { keep = i + 1; break }
        }
        keep = max(1, min(keep, probs.firstIndex { $0 < minP * probs[0] } ?? keep))
        candidates.removeSubrange(keep...)
        let scaled = candidates.map { expf(($0.logit - maxLogit) / temperature) }
        let sum = scaled.reduce(0, +)
        var r = Float(nextRandom() >> 40) / Float(1 << 24) * sum
        for (i, w) in scaled.enumerated() {
            r -= w
            if r <= 0 { return Int32(candidates[i].id) }
        }
        return Int32(candidates[candidates.count - 1].id)
    }

    /// splitmix64.
    private mutating func nextRandom() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Timings of one generation.
public struct GenerationStats: Sendable, Codable {
    public var promptTokens: Int
    public var promptSeconds: Double
    public var generatedTokens: Int
    public var generationSeconds: Double
    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var tokensPerSecond: Double { generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0 }
}

extension Session {
    /// Evaluates `prompt`, then generates up to `maxTokens` tokens one at a time, calling
    /// `onToken` with each (return false to stop); stops at a token for which `isEnd` is true
    /// (that token is not passed on).
    public func generate(prompt: [Int32], maxTokens: Int, sampler: inout Sampler,
                         isEnd: (Int32) -> Bool, onToken: (Int32) -> Bool) throws -> GenerationStats {
        guard !prompt.isEmpty else { throw QuantKitError("the prompt is empty", path: model.path) }
        let t0 = MonotonicClock.now()
        var logits = try evaluateLast(prompt)
        let t1 = MonotonicClock.now()
        var generated = 0
        while generated < maxTokens {
            let next = sampler.sample(logits)
            if isEnd(next) { break }
            generated += 1
            if !onToken(next) { break }
            if generated == maxTokens || position >= contextLength { break }
            logits = try evaluateLast([next])
        }
        let t2 = MonotonicClock.now()
        return GenerationStats(promptTokens: prompt.count, promptSeconds: t1 - t0,
                               generatedTokens: generated, generationSeconds: t2 - t1)
    }
}


/// Monotonic seconds.
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
