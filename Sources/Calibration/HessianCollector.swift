import CKernels
import Evaluation
import Inference
import QKCore
import Quantization

/// Accumulates, for every group of weight matrices that share one input (q/k/v, gate/up, and
/// each other matmul), H = Σ x xᵀ over every token of the calibration text: GPTQ's statistics.
/// Plugs into the engine as an `ActivationObserver`, like the imatrix collector.
public final class HessianCollector: ActivationObserver, @unchecked Sendable {
    public let hessians: Hessians
    /// Which matrices to collect (default: every `blk.*` matrix and the output head).
    public let only: @Sendable (String) -> Bool

    public init(into hessians: Hessians = Hessians(),
                only: @escaping @Sendable (String) -> Bool = { $0.hasPrefix("blk.") || $0 == "output.weight" }) {
        self.hessians = hessians
        self.only = only
    }

    public func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int) {
        let wanted = matrices.filter { $0.expert == nil && only($0.name) }  // experts: not collected
        guard let first = wanted.first, tokens > 0 else { return }
        let n = first.cols
        let m = hessians.moment(sharedBy: wanted.map(\.name), n: n)
        m.rows += Int64(tokens)
        // Bands of 16 rows of H, claimed one at a time: early rows hold more of the triangle.
        let band = 16
        m.sum.withUnsafeMutableBufferPointer { h in
            let hp = h.baseAddress!
            pool.parallelFor((n + band - 1) / band, threads: threads) { b in
                qk_syrk_upper(input, Int32(tokens), Int32(n), Int32(n), hp, Int32(b * band), Int32(min(n, (b + 1) * band)))
            }
        }
    }
}

/// Runs a model over calibration text (llama-perplexity's chunks) and collects the Hessians.
public struct HessianRunner {
    public let session: Session

    public init(session: Session) { self.session = session }

    public func run(tokens: [Int32], bos: Int32?, chunks: Int? = nil,
                    progress: (ChunkProgress) -> Void = { _ in }) throws -> (hessians: Hessians, perplexity: PerplexityReport) {
        let collector = HessianCollector()
        session.activationObserver = collector
        defer { session.activationObserver = nil }
        let report = try PerplexityRunner(session: session).run(tokens: tokens, bos: bos, chunks: chunks) { progress($0) }
        var checked = Set<ObjectIdentifier>()   // q/k/v (gate/up) share one moment: scan it once
        for name in collector.hessians.names {
            guard let m = collector.hessians.moment(for: name), checked.insert(ObjectIdentifier(m)).inserted else { continue }
            if m.sum.contains(where: { !$0.isFinite }) {
                throw QuantKitError("non-finite activation statistics for \(name): the model produced inf/NaN on this text", path: session.model.path)
            }
        }
        return (collector.hessians, report)
    }
}
