import Foundation
import Inference
import QKCore

/// How far a model's next-token distributions are from a reference model's, with the
/// statistics llama-perplexity's `--kl-divergence` prints.
public struct KLDivergenceReport: Codable, Sendable {
    public struct Estimate: Codable, Sendable {
        public var value: Double
        public var error: Double
    }
    public var baseFile: String
    public var positions: Int
    public var perplexity: Estimate
    public var basePerplexity: Estimate
    /// Correlation of ln PPL(Q) and ln PPL(base) over positions.
    public var correlation: Double
    public var lnPerplexityRatio: Estimate
    public var perplexityRatio: Estimate
    public var perplexityDifference: Estimate
    public var meanKLD: Estimate
    public var medianKLD: Double
    public var maxKLD: Double
    public var minKLD: Double
    /// KLD percentiles keyed "99.9", "99.0", "95.0", "90.0", "10.0", "5.0", "1.0", "0.1".
    public var kldPercentiles: [String: Double]
    public var meanDeltaP: Estimate
    public var medianDeltaP: Double
    public var maxDeltaP: Double
    public var minDeltaP: Double
    /// Δp percentiles keyed like kldPercentiles, plus "75.0" and "25.0".
    public var deltaPPercentiles: [String: Double]
    public var rmsDeltaP: Estimate
    /// Share of positions where both models' most likely token is the same.
    public var sameTop: Estimate
}

/// Runs the model over the tokens stored in a base logits file (llama-perplexity's or ours) and
/// compares its distributions with the stored ones, position by position.
public struct KLDivergenceRunner {
    public let session: Session

    public init(session: Session) { self.session = session }

    public func run(baseFile path: String, chunks requested: Int? = nil, bos: Int32?,
                    progress: (ChunkProgress) -> Void = { _ in }) throws -> PerplexityReport {
        let file = try MappedFile(path: path)
        let header = try LogitsFile.readHeader(file)
        let n = header.context, vocab = session.vocabularySize
        guard header.vocabulary == vocab else {
            throw QuantKitError("was made with a vocabulary of \(header.vocabulary) tokens; this model has \(vocab)", path: path)
        }
        guard n <= session.contextLength else {
            throw QuantKitError("was computed with a context of \(n); run with -c \(n)", path: path)
        }
        let chunks = min(requested ?? header.chunks, header.chunks)
        let first = n / 2, scored = LogitsFile.scoredPerChunk(context: n)
        let width = LogitsFile.recordWidth(vocabulary: vocab)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: (n - first) * vocab)
        defer { logits.deallocate() }
        var rows = [Scoring.Comparison](repeating: .init(nll: 0, nllBase: 0, kld: 0, pDiff: 0, sameTop: false), count: scored)
        var acc = Accumulator()
        var kldValues: [Float] = [], pDiffValues: [Float] = []
        var running: [Double] = []
        let started = Date()
        for c in 0 ..< chunks {
            let chunkStart = Date()
            try session.evaluateChunk(header.tokens, chunk: c, context: n, bos: bos, into: logits)
            let target = Array(header.tokens[c * n + first + 1 ..< (c + 1) * n])
            let recordBase = file.base! + header.recordsOffset + c * scored * width * 2
            rows.withUnsafeMutableBufferPointer { out in
                session.parallelFor(scored) { j in
                    let record = (recordBase + j * width * 2).assumingMemoryBound(to: UInt16.self)
                    out[j] = Scoring.compare(logits + j * vocab, vocabulary: vocab, token: Int(target[j]), base: record)
                }
            }
            for r in rows {
                acc.add(r)
                kldValues.append(Float(r.kld))
                pDiffValues.append(r.pDiff)
            }
            let ppl = exp(acc.sumNLL / Double(acc.count))
            running.append(ppl)
            let perChunk = Date().timeIntervalSince(chunkStart)
            progress(ChunkProgress(chunk: c + 1, chunks: chunks, perplexity: ppl, secondsPerChunk: perChunk,
                                   secondsLeft: perChunk * Double(chunks - c - 1),
                                   meanKLD: acc.sumKLD / Double(acc.count), sameTop: Double(acc.sameTop) / Double(acc.count)))
        }
        let seconds = Date().timeIntervalSince(started)
        let report = acc.report(baseFile: path, kld: kldValues, pDiff: pDiffValues)
        return PerplexityReport(model: session.model.path, context: n, chunks: chunks, tokensInText: header.tokens.count,
                                scoredTokens: acc.count, perplexity: report.perplexity.value,
                                perplexityError: report.perplexity.error, runningPerplexity: running,
                                seconds: seconds, tokensPerSecond: Double(chunks * n) / seconds, kl: report)
    }
}

/// Running sums of the per-position comparisons, in llama-perplexity's order.
struct Accumulator {
    var sumNLL = 0.0, sumNLL2 = 0.0, sumNLLBase = 0.0, sumNLLBase2 = 0.0, sumNLLNLLBase = 0.0
    var sumKLD = 0.0, sumKLD2 = 0.0, sumPDiff = 0.0, sumPDiff2 = 0.0, sumPDiff4 = 0.0
    var maxPDiff: Float = 0
    var sameTop = 0, count = 0

    mutating func add(_ r: Scoring.Comparison) {
        let nll = Float(r.nll), nllBase = Float(r.nllBase)
        sumNLL += Double(nll); sumNLL2 += Double(nll * nll)
        sumNLLBase += Double(nllBase); sumNLLBase2 += Double(nllBase * nllBase)
        sumNLLNLLBase += Double(nll * nllBase)
        sumKLD += r.kld; sumKLD2 += r.kld * r.kld
        sumPDiff += Double(r.pDiff)
        let p2 = Double(r.pDiff * r.pDiff)
        sumPDiff2 += p2; sumPDiff4 += p2 * p2
        maxPDiff = max(maxPDiff, abs(r.pDiff))
        if r.sameTop { sameTop += 1 }
        count += 1
    }

    private func meanAndError(_ sum: Double, _ sum2: Double) -> KLDivergenceReport.Estimate {
        guard count >= 1 else { return .init(value: 0, error: 0) }
        let f = sum / Double(count)
        let df = sum2 / Double(count) - f * f
        return .init(value: f, error: df > 0 && count > 10 ? (df / Double(count - 1)).squareRoot() : 0)
    }

    private func covariance() -> Double {
        guard count >= 10 else { return 0 }
        let c = Double(count)
        return (sumNLLNLLBase / c - (sumNLL / c) * (sumNLLBase / c)) / (c - 1)
    }

    func report(baseFile: String, kld: [Float], pDiff: [Float]) -> KLDivergenceReport {
        let kldSorted = kld.sorted(), pSorted = pDiff.sorted()
        func percentile(_ v: [Float], _ fraction: Float) -> Double {
            if fraction <= 0 { return Double(v.first!) }
            if fraction >= 1 { return Double(v.last!) }
            var p = fraction * Float(v.count - 1)
            let ip = Int(p); p -= Float(ip)
            return Double((1 - p) * v[ip] + p * v[min(ip + 1, v.count - 1)])
        }
        func median(_ v: [Float]) -> Double {
            v.count % 2 == 0 ? Double(0.5 * (v[v.count / 2] + v[v.count / 2 - 1])) : Double(v[v.count / 2])
        }
        let logPPL = meanAndError(sumNLL, sumNLL2)
        let logBase = meanAndError(sumNLLBase, sumNLLBase2)
        let cov = covariance()
        let ppl = exp(logPPL.value), pplBase = exp(logBase.value)
        let ratio = logPPL.value - logBase.value
        let ratioErr = (logPPL.error * logPPL.error + logBase.error * logBase.error - 2 * cov).squareRoot()
        let pplErr = ppl * logPPL.error, baseErr = pplBase * logBase.error
        let pplCov = ppl * pplBase * cov
        let mse = meanAndError(sumPDiff2, sumPDiff4)
        let rms = mse.value.squareRoot()
        let top = Double(sameTop) / Double(count)
        let keys: [(String, Float)] = [("99.9", 0.999), ("99.0", 0.99), ("95.0", 0.95), ("90.0", 0.9),
                                       ("10.0", 0.1), ("5.0", 0.05), ("1.0", 0.01), ("0.1", 0.001)]
        var kp: [String: Double] = [:], pp: [String: Double] = [:]
        for (k, f) in keys { kp[k] = percentile(kldSorted, f); pp[k] = percentile(pSorted, f) }
        pp["75.0"] = percentile(pSorted, 0.75); pp["25.0"] = percentile(pSorted, 0.25)
        return KLDivergenceReport(
            baseFile: baseFile, positions: count,
            perplexity: .init(value: ppl, error: pplErr), basePerplexity: .init(value: pplBase, error: baseErr),
            correlation: cov / (logPPL.error * logBase.error),
            lnPerplexityRatio: .init(value: ratio, error: ratioErr),
            perplexityRatio: .init(value: exp(ratio), error: exp(ratio) * ratioErr),
            perplexityDifference: .init(value: ppl - pplBase, error: (pplErr * pplErr + baseErr * baseErr - 2 * pplCov).squareRoot()),
            meanKLD: meanAndError(sumKLD, sumKLD2), medianKLD: median(kldSorted),
            maxKLD: Double(kldSorted.last!), minKLD: Double(kldSorted.first!), kldPercentiles: kp,
            meanDeltaP: meanAndError(sumPDiff, sumPDiff2), medianDeltaP: median(pSorted),
            maxDeltaP: Double(pSorted.last!), minDeltaP: Double(pSorted.first!), deltaPPercentiles: pp,
            rmsDeltaP: .init(value: rms, error: rms > 0 ? 0.5 / rms * mse.error : 0),
            sameTop: .init(value: top, error: (top * (1 - top) / Double(count - 1)).squareRoot()))
    }
}
