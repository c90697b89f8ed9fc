import Inference
import QKCore
import Quantization

/// Accumulates an importance matrix while the engine runs: for every weight matrix of the
/// transformer blocks, Σx² per input column over every activation row that entered it, and the
/// number of rows — llama-imatrix's statistics, in the same order of float additions (row by
/// row, one running sum per column), so the values agree with llama.cpp's to float rounding.
///
/// As llama-imatrix does, batches of fewer than 16 tokens are ignored and only `blk.*`
/// matrices are collected (plus `output.weight` with `includeOutput`).
public final class ImatrixCollector: ActivationObserver, @unchecked Sendable {
    /// What has been collected so far (plus whatever it started from).
    public private(set) var data: ImatrixData
    /// Also collect the output head's input (llama-imatrix's `--process-output`).
    public let includeOutput: Bool
    /// The first matrix whose statistics stopped being finite, if any.
    public private(set) var nonFinite: String?

    /// Starts from `start` (e.g. earlier files to extend) or from nothing.
    public init(chunkSize: Int, includeOutput: Bool = false, startingFrom start: ImatrixData? = nil) {
        data = start ?? ImatrixData(chunkSize: chunkSize)
        data.chunkSize = chunkSize
        self.includeOutput = includeOutput
    }

    /// Whether llama-imatrix collects statistics for the matrix `name`.
    public func collects(_ name: String) -> Bool {
        name.hasPrefix("blk.") || (includeOutput && name == "output.weight")
    }

    public func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int) {
        for m in matrices { if let expert = m.expert { observe(m, expert: expert, input: input, tokens: tokens, pool: pool, threads: threads) } }
        guard tokens >= 16 else { return }
        // Matrices sharing this input (q/k/v, gate/up) usually hold equal statistics: the sums
        // are then computed once and reused, which is exactly what recomputing them would give.
        var last: (before: ImatrixData.Entry, after: ImatrixData.Entry, finite: Bool)?
        for m in matrices where m.expert == nil && collects(m.name) {
            let n = m.cols
            var e = data.entries.removeValue(forKey: m.name) ?? ImatrixData.Entry(sums: [], counts: [])
            // A dense matrix keeps one count (earlier files may carry equal per-expert counts).
            if e.counts.count > 1 && e.counts.allSatisfy({ $0 == e.counts[0] }) { e.counts = [e.counts[0]] }
            if e.sums.isEmpty {
                e.sums = [Float](repeating: 0, count: n)
                e.counts = [0]
            }
            guard e.sums.count == n else {
                nonFinite = nonFinite ?? "\(m.name) (has \(e.sums.count) columns in the starting matrix, \(n) in the model)"
                data.entries[m.name] = e
                continue
            }
            if let last, last.before == e {
                if !last.finite { nonFinite = nonFinite ?? m.name }
                data.entries[m.name] = last.after
                continue
            }
            let before = e
            let finite = e.sums.withUnsafeMutableBufferPointer { acc in
                Self.accumulate(input, tokens: tokens, columns: n, into: acc.baseAddress!, pool: pool, threads: threads)
            }
            if !finite { nonFinite = nonFinite ?? m.name }
            for i in e.counts.indices { e.counts[i] += Int64(tokens) }
            data.entries[m.name] = e
            last = (before, e, finite)
        }
    }

    /// One expert of a 3-D expert tensor, as llama-imatrix collects MUL_MAT_ID: every batch (no
    /// 16-token minimum), sums kept per expert (`cols × count` values) with one count per expert,
    /// so experts that saw no token keep count 0. The rows arrive in llama.cpp's order (slot by
    /// slot, token by token), so the per-expert sums add in the same order.
    private func observe(_ m: Matrix, expert: ExpertSlice, input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int) {
        let n = m.cols
        var e = data.entries.removeValue(forKey: m.name) ?? ImatrixData.Entry(sums: [], counts: [])
        if e.counts.count == 1 && expert.count > 1 { e.counts = Array(repeating: e.counts[0], count: expert.count) }
        if e.sums.isEmpty {
            e.sums = [Float](repeating: 0, count: n * expert.count)
            e.counts = Array(repeating: 0, count: expert.count)
        }
        defer { data.entries[m.name] = e }
        guard e.sums.count == n * expert.count, e.counts.count == expert.count else {
            nonFinite = nonFinite ?? "\(m.name) (has \(e.sums.count) values for \(e.counts.count) experts in the starting matrix, \(n) × \(expert.count) in the model)"
            return
        }
        let finite = e.sums.withUnsafeMutableBufferPointer { acc in
            Self.accumulate(input, tokens: tokens, columns: n, into: acc.baseAddress! + expert.index * n, pool: pool, threads: threads)
        }
        if !finite { nonFinite = nonFinite ?? m.name }
        e.counts[expert.index] += Int64(tokens)
    }

    /// acc[j] += x[t][j]² for t in order; columns split over threads. Returns whether every sum
    /// is still finite.
    static func accumulate(_ x: UnsafePointer<Float>, tokens: Int, columns n: Int, into acc: UnsafeMutablePointer<Float>,
                           pool: ThreadPool, threads: Int) -> Bool {
        let width = 256
        let blocks = (n + width - 1) / width
        let nonFinite = UnsafeMutablePointer<Bool>.allocate(capacity: blocks)
        defer { nonFinite.deallocate() }
        pool.parallelFor(blocks, threads: threads) { b in
            let j0 = b * width, j1 = min(n, j0 + width)
            for t in 0 ..< tokens {
                let row = x + t * n
                for j in j0 ..< j1 { acc[j] += row[j] * row[j] }
            }
            var bad = false
            for j in j0 ..< j1 where !acc[j].isFinite { bad = true }
            nonFinite[b] = bad
        }
        return !(0 ..< blocks).contains { nonFinite[$0] }
    }
}
