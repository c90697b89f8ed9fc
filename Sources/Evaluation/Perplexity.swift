import Foundation
import Inference
import QKCore

/// What one perplexity run measured.
public struct PerplexityReport: Codable, Sendable {
    public var model: String
    public var context: Int
    public var chunks: Int
    public var tokensInText: Int
    public var scoredTokens: Int
    public var perplexity: Double
    /// ± one standard error, as llama-perplexity prints it.
    public var perplexityError: Double
    /// Running estimate after each chunk.
    public var runningPerplexity: [Double]
    public var seconds: Double
    public var tokensPerSecond: Double
    public var kl: KLDivergenceReport?
}

/// Progress of a run, after each chunk.
public struct ChunkProgress: Sendable {
    public var chunk: Int
    public var chunks: Int
    public var perplexity: Double
    public var secondsPerChunk: Double
    public var secondsLeft: Double
    /// With a base file: running mean KLD and same-top share.
    public var meanKLD: Double?
    public var sameTop: Double?
}

/// llama-perplexity's method: the text is tokenized once, cut into non-overlapping chunks of
/// `context` tokens (the first replaced by BOS when the vocabulary adds one), each chunk is
/// evaluated from an empty cache, and the second half of each chunk is scored.
public struct PerplexityRunner {
    public let session: Session
    public var context: Int { session.contextLength }

    public init(session: Session) { self.session = session }

    /// Scores `tokens` (the whole tokenized text, BOS included when the tokenizer adds it).
    /// With `saveLogits`, the distributions are also written in llama-perplexity's
    /// `--kl-divergence-base` format (streamed, one chunk at a time; atomic rename at the end).
    public func run(tokens: [Int32], bos: Int32?, chunks requested: Int? = nil, saveLogits: String? = nil,
                    progress: (ChunkProgress) -> Void = { _ in }) throws -> PerplexityReport {
        let n = context
        guard tokens.count >= 2 * n else {
            throw QuantKitError("the text tokenizes to only \(tokens.count) tokens; perplexity with a context of \(n) needs at least \(2 * n)")
        }
        let chunks = min(requested ?? Int.max, tokens.count / n)
        guard chunks > 0 else { throw QuantKitError("--chunks must be positive") }
        let vocab = session.vocabularySize
        let first = n / 2
        let scored = LogitsFile.scoredPerChunk(context: n)
        let width = LogitsFile.recordWidth(vocabulary: vocab)

        var out: OutputFile?
        if let saveLogits {
            let f = try OutputFile(path: saveLogits)
            try f.write(LogitsFile.magic)
            try f.write(le: UInt32(n)); try f.write(le: Int32(vocab)); try f.write(le: Int32(chunks))
            try tokens[0 ..< chunks * n].withUnsafeBytes { try f.write($0) }
            out = f
        }
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: (n - first) * vocab)
        defer { logits.deallocate() }
        let records = out == nil ? nil : UnsafeMutablePointer<UInt16>.allocate(capacity: scored * width)
        defer { records?.deallocate() }
        var nllValues = [Double](repeating: 0, count: scored)

        var nll = 0.0, nll2 = 0.0, count = 0
        var running: [Double] = []
        let started = Date()
        for c in 0 ..< chunks {
            let chunkStart = Date()
            try session.evaluateChunk(tokens, chunk: c, context: n, bos: bos, into: logits)
            let target = Array(tokens[c * n + first + 1 ..< (c + 1) * n])
            nllValues.withUnsafeMutableBufferPointer { values in
                session.parallelFor(scored) { j in
                    let row = logits + j * vocab
                    if let records {
                        values[j] = LogitsFile.encode(logits: row, vocabulary: vocab, token: Int(target[j]), record: records + j * width)
                    } else {
                        values[j] = Scoring.negativeLogLikelihood(row, vocabulary: vocab, token: Int(target[j]))
                    }
                }
            }
            for v in nllValues { nll += v; nll2 += v * v }
            count += scored
            if let out, let records {
                try out.write(UnsafeRawBufferPointer(start: records, count: scored * width * 2))
            }
            let ppl = exp(nll / Double(count))
            running.append(ppl)
            let perChunk = Date().timeIntervalSince(chunkStart)
            progress(ChunkProgress(chunk: c + 1, chunks: chunks, perplexity: ppl, secondsPerChunk: perChunk,
                                   secondsLeft: perChunk * Double(chunks - c - 1)))
        }
        try out?.commit()
        let seconds = Date().timeIntervalSince(started)
        let mean = nll / Double(count)
        var variance = nll2 / Double(count) - mean * mean
        let ppl = exp(mean)
        variance = variance > 0 ? (variance / Double(count - 1)).squareRoot() : 0
        return PerplexityReport(model: session.model.path, context: n, chunks: chunks, tokensInText: tokens.count,
                                scoredTokens: count, perplexity: ppl, perplexityError: variance * ppl,
                                runningPerplexity: running, seconds: seconds,
                                tokensPerSecond: Double(chunks * n) / seconds, kl: nil)
    }
}

extension Session {
    /// Evaluates chunk `c` (tokens c·n..<(c+1)·n) from an empty cache, its first token replaced by
    /// `bos` when given (as llama-perplexity does), and writes the logits of positions n/2..<n.
    func evaluateChunk(_ tokens: [Int32], chunk c: Int, context n: Int, bos: Int32?,
                       into logits: UnsafeMutablePointer<Float>) throws {
        var chunk = Array(tokens[c * n ..< (c + 1) * n])
        if let bos { chunk[0] = bos }
        reset()
        try evaluate(chunk, outputs: n / 2 ..< n, into: logits)
    }
}
