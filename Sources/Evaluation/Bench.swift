import Inference
import QKCore

/// One llama-bench style measurement: tokens per second over repetitions, mean ± sd.
public struct BenchResult: Codable, Sendable {
    /// "pp512" (prompt processing of 512 tokens in one batch) or "tg128" (128 tokens one by one).
    public var test: String
    public var threads: Int
    public var samples: [Double]
    public var mean: Double
    public var standardDeviation: Double
}

/// llama-bench's two tests on a session: each repetition starts from an empty cache; one
/// untimed warm-up run precedes them.
public enum Bench {
    public static func promptProcessing(_ session: Session, tokens n: Int, repetitions: Int) throws -> BenchResult {
        let prompt = randomTokens(n, vocabulary: session.vocabularySize)
        var samples: [Double] = []
        for rep in 0 ... repetitions {
            session.reset()
            let t0 = MonotonicClock.now()
            _ = try session.evaluateLast(prompt)
            let dt = MonotonicClock.now() - t0
            if rep > 0 { samples.append(Double(n) / dt) }
        }
        return summarize("pp\(n)", session.threads, samples)
    }

    public static func textGeneration(_ session: Session, tokens n: Int, repetitions: Int) throws -> BenchResult {
        let tokens = randomTokens(n, vocabulary: session.vocabularySize)
        var samples: [Double] = []
        for rep in 0 ... repetitions {
            session.reset()
            let t0 = MonotonicClock.now()
            for t in tokens { _ = try session.evaluateLast([t]) }
            let dt = MonotonicClock.now() - t0
            if rep > 0 { samples.append(Double(n) / dt) }
        }
        return summarize("tg\(n)", session.threads, samples)
    }

    static func randomTokens(_ n: Int, vocabulary: Int) -> [Int32] {
        var state: UInt64 = 42
        return (0 ..< n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int32((state >> 33) % UInt64(vocabulary))
        }
    }

    static func summarize(_ test: String, _ threads: Int, _ samples: [Double]) -> BenchResult {
        let mean = samples.reduce(0, +) / Double(samples.count)
        let sd = samples.count > 1
            ? (samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count - 1)).squareRoot() : 0
        return BenchResult(test: test, threads: threads, samples: samples, mean: mean, standardDeviation: sd)
    }
}
