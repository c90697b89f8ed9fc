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
    /// Tokens seen by every input, collected or not, by group key (the first name, sorted).
    public private(set) var tokensSeen: [String: Int64] = [:]

    /// The matrices GPTQ has statistics for: every block matrix and the output head.
    public static let collectable: @Sendable (String) -> Bool = { $0.hasPrefix("blk.") || $0 == "output.weight" }

    public init(into hessians: Hessians = Hessians(), only: @escaping @Sendable (String) -> Bool = HessianCollector.collectable) {
        self.hessians = hessians
        self.only = only
    }

    public func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int) {
        let dense = matrices.filter { $0.expert == nil }   // experts: not collected
        if let key = dense.map(\.name).min() { tokensSeen[key, default: 0] += Int64(tokens) }
        let wanted = dense.filter { only($0.name) }
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

/// Records which matrices read each input and how wide it is, without computing anything.
final class GroupRecorder: ActivationObserver, @unchecked Sendable {
    var groups: [HessianGroup] = []

    func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int) {
        let names = matrices.filter { $0.expert == nil && HessianCollector.collectable($0.name) }.map(\.name)
        guard let first = matrices.first, !names.isEmpty, !groups.contains(where: { $0.names == names }) else { return }
        groups.append(HessianGroup(names: names, n: first.cols))
    }
}
