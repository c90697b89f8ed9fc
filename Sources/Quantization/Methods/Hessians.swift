import CKernels
import Foundation
import QKCore

/// The second moment H = Σ x xᵀ of the input of each weight matrix over calibration text —
/// what GPTQ needs to know which weight errors the layer's output notices. Matrices that share
/// an input (q/k/v, gate/up) share one moment.
///
/// Memory: n² floats per distinct input (SmolLM2-135M: 0.4 GB in all; Qwen2.5-0.5B: 2.4 GB;
/// a 70B model: about 290 GB), so moments can be *streamed*: made with a `HessianSource` (a
/// saved file, or calibration passes over text), they are filled on demand a window of inputs
/// at a time — as many as fit `budget` bytes, in the order the quantizer will ask for them —
/// and dropped once factored. `bytes` says how much is held now, `peakBytes` the most so far.
public final class Hessians: @unchecked Sendable {
    /// One input's statistics.
    public final class Moment: @unchecked Sendable {
        public let n: Int
        /// Σ x xᵀ over every token, upper triangle (row-major n × n; the rest is meaningless).
        public var sum: [Float]
        /// Tokens accumulated.
        public var rows: Int64 = 0

        public init(n: Int) {
            self.n = n
            sum = [Float](repeating: 0, count: n * n)
        }

        /// Diagonal entry i: Σ x_i² (the importance-matrix value times the token count).
        public func diagonal(_ i: Int) -> Float { sum[i * n + i] }
    }

    var byName: [String: Moment] = [:]
    /// Matrix name → the name its group is known by (the first of its sharers, sorted).
    var keys: [String: String] = [:]
    let lock = NSLock()

    /// Where moments come from on demand (nil: every moment is filled in up front).
    public let source: HessianSource?
    /// Bytes of moments a streamed window may hold at once (one input's moment always fits).
    public let budget: Int
    /// Streamed: matrix name → group index in `source.groups`; the order inputs will be asked
    /// for; the groups already factored and dropped.
    var groupOf: [String: Int] = [:]
    var order: [Int] = []
    var finished = Set<Int>()
    /// The most bytes of moments held at one time.
    public internal(set) var peakBytes = 0

    /// Moments filled in by a collector (or by hand) as they come.
    public init() {
        source = nil
        budget = .max
    }

    /// Moments read from `source` on demand, at most `budget` bytes of them at once.
    public init(source: HessianSource, budget: Int) {
        self.source = source
        self.budget = budget
        for (i, g) in source.groups.enumerated() {
            let key = g.key
            for name in g.names {
                groupOf[name] = i
                keys[name] = key
            }
        }
        order = Array(source.groups.indices)
    }

    /// The moment of matrix `name`, if held now (streamed moments: see `prepare`).
    public func moment(for name: String) -> Moment? { lock.withLock { byName[name] } }

    /// Makes `names` share one moment of width `n` (created on first sight) and returns it.
    public func moment(sharedBy names: [String], n: Int) -> Moment {
        lock.withLock {
            let m = names.lazy.compactMap { self.byName[$0] }.first ?? Moment(n: n)
            let key = names.compactMap { self.keys[$0] }.first ?? names.min()!
            for name in names {
                byName[name] = m
                keys[name] = key
            }
            peakBytes = max(peakBytes, heldBytes())
            return m
        }
    }

    /// The name of the group of inputs `name` belongs to (nil: no statistics for it).
    public func groupKey(for name: String) -> String? { lock.withLock { keys[name] } }

    /// Names of the matrices with statistics (held or still to come), sorted.
    public var names: [String] { lock.withLock { keys.keys.sorted() } }

    /// Bytes held by the distinct moments now.
    public var bytes: Int { lock.withLock { heldBytes() } }

    func heldBytes() -> Int {
        var seen = Set<ObjectIdentifier>()
        return byName.values.reduce(0) { seen.insert(ObjectIdentifier($1)).inserted ? $0 + $1.sum.count * 4 : $0 }
    }

    /// Drops the moment of `name` and of every matrix sharing it (once its GPTQ factor is
    /// made, nothing needs it), so memory can be reused.
    public func release(_ name: String) {
        lock.withLock {
            guard let key = keys[name] else { return }
            for (other, k) in keys where k == key { byName[other] = nil }
            if let g = groupOf[name] { finished.insert(g) }
        }
    }
}

/// GPTQ's factor of one Hessian: the upper-triangular U with (H + λI)⁻¹ = Uᵀ U, in Float.
public struct GPTQFactor: @unchecked Sendable {
    public let n: Int
    /// Row-major n × n, zeros below the diagonal.
    public let u: [Float]
    /// The per-column importance GPTQ quantizers use for choosing block scales: diag(H),
    /// normalised to mean 1 (zero for columns that never saw input).
    public let importance: [Float]
    /// The dampening λ that was needed, as a fraction of mean(diag H).
    public let damping: Double

    /// Factors `moment`, adding `damping` × mean(diag) to the diagonal (GPTQ's 1 %), and ten
    /// times more until the matrix is positive definite. Columns with no input get H_ii = 1.
    public init(_ moment: Hessians.Moment, damping: Double = 0.01) throws {
        let n = moment.n
        self.n = n
        var diag = (0 ..< n).map { Double(moment.diagonal($0)) }
        let live = diag.filter { $0 > 0 }
        let mean = live.isEmpty ? 1 : live.reduce(0, +) / Double(live.count)
        importance = diag.map { Float($0 > 0 ? $0 / mean : 0) }
        for i in 0 ..< n where !(diag[i] > 0) { diag[i] = mean }
        var lambda = damping
        var a = [Double](repeating: 0, count: n * n)
        while true {
            moment.sum.withUnsafeBufferPointer { s in
                a.withUnsafeMutableBufferPointer { d in
                    for i in 0 ..< n {
                        d[i * n + i] = diag[i] + lambda * mean
                        for j in i + 1 ..< n {
                            // A column that never saw input has zero products with every other.
                            let v = Double(s[i * n + j])
                            d[i * n + j] = v
                            d[j * n + i] = v
                        }
                    }
                }
            }
            let bad = a.withUnsafeMutableBufferPointer { qk_cholesky_inverse_upper($0.baseAddress!, Int32(n)) }
            if bad == 0 { break }
            guard lambda < 10 else {
                throw QuantKitError("GPTQ: the input statistics of a \(n)-wide layer are not positive definite even with \(lambda)× dampening")
            }
            lambda *= 10
        }
        self.damping = lambda
        u = a.map { Float($0) }
    }
}
