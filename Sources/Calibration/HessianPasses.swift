import Foundation
import Inference
import QKCore
import Quantization

/// GPTQ's statistics computed by passes of the engine over calibration text, a window of inputs
/// per pass: memory holds only the window's moments, at the cost of one pass per window.
///
/// The text is cut as llama-perplexity cuts it (chunks of the session's context, evaluated from
/// an empty cache, the first token replaced by BOS when given); the output head sees the second
/// half of each chunk, the positions perplexity scores, and is only computed in a pass that
/// collects it. Every pass runs the same tokens in the same batches, so a moment is the same
/// whichever window computes it.
public final class CalibrationHessians: HessianSource {
    public let groups: [HessianGroup]
    let session: Session
    let tokens: [Int32]
    let bos: Int32?
    let chunks: Int
    let progress: (_ pass: Int, _ chunk: Int, _ chunks: Int, _ secondsPerChunk: Double) -> Void
    private var counts: [String: Int64] = [:]
    /// Passes made so far, and their seconds in all.
    public private(set) var passes = 0
    public private(set) var seconds = 0.0

    /// Uses the first `chunks` chunks of `tokens` (all whole chunks when nil); finds the model's
    /// inputs by running one token (nothing is collected yet).
    public init(session: Session, tokens: [Int32], bos: Int32?, chunks: Int? = nil,
                progress: @escaping (_ pass: Int, _ chunk: Int, _ chunks: Int, _ secondsPerChunk: Double) -> Void = { _, _, _, _ in }) throws {
        let n = session.contextLength
        let available = tokens.count / n
        guard available > 0 else {
            throw QuantKitError("the calibration text has \(tokens.count) tokens, fewer than one chunk of \(n)", path: session.model.path)
        }
        self.session = session
        self.tokens = tokens
        self.bos = bos
        self.chunks = min(chunks ?? available, available)
        self.progress = progress
        let recorder = GroupRecorder()
        session.activationObserver = recorder
        defer {
            session.activationObserver = nil
            session.reset()
        }
        session.reset()
        _ = try session.evaluateLast([bos ?? tokens[0]])
        groups = recorder.groups
    }

    /// Tokens every pass runs.
    public var tokenCount: Int { chunks * session.contextLength }

    public func load(_ wanted: [Int]) throws -> [Hessians.Moment] {
        let names = Set(wanted.flatMap { groups[$0].names })
        let collector = HessianCollector(only: { names.contains($0) })
        let head = names.contains("output.weight")
        let n = session.contextLength
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: head ? (n - n / 2) * session.vocabularySize : 1)
        defer { logits.deallocate() }
        session.activationObserver = collector
        defer { session.activationObserver = nil }
        let pass = passes + 1
        let started = Date()
        for c in 0 ..< chunks {
            var chunk = Array(tokens[c * n ..< (c + 1) * n])
            if let bos { chunk[0] = bos }
            session.reset()
            try session.evaluate(chunk, outputs: head ? n / 2 ..< n : 0 ..< 0, into: logits)
            progress(pass, c + 1, chunks, Date().timeIntervalSince(started) / Double(c + 1))
        }
        passes = pass
        seconds += Date().timeIntervalSince(started)
        if counts.isEmpty { counts = collector.tokensSeen }
        return try wanted.map { g in
            let key = groups[g].key
            guard let m = collector.hessians.moment(for: groups[g].names[0]) else {
                throw QuantKitError("the calibration pass never reached the input of \(key)", path: session.model.path)
            }
            if m.sum.contains(where: { !$0.isFinite }) {
                throw QuantKitError("non-finite activation statistics for \(key): the model produced inf/NaN on this text", path: session.model.path)
            }
            return m
        }
    }

    /// Tokens behind a group's moment: for the inputs of every block, known after the first
    /// pass; the output head sees the scored half of each chunk.
    public func rows(of group: Int) -> Int64? {
        let key = groups[group].key
        let n = session.contextLength
        return key == "output.weight" ? Int64(chunks * (n - n / 2)) : counts[key]
    }

    /// Bytes of every moment together (what an unstreamed collection would hold).
    public var totalBytes: Int { groups.reduce(0) { $0 + $1.bytes } }
}
