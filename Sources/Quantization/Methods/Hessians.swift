import CKernels
import Foundation
import QKCore

/// The second moment H = Σ x xᵀ of the input of each weight matrix over calibration text —
/// what GPTQ needs to know which weight errors the layer's output notices. Matrices that share
/// an input (q/k/v, gate/up) share one moment.
///
/// Memory: n² floats per distinct input (SmolLM2-135M: 0.4 GB in all; Qwen2.5-0.5B: 2.4 GB);
/// `bytes` says how much. GPTQ's factor of each is computed when first needed and dropped
/// once every tensor using it is quantized.
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

    private var byName: [String: Moment] = [:]
    private let lock = NSLock()

    public init() {}

    /// The moment of matrix `name`, if collected.
    public func moment(for name: String) -> Moment? { lock.withLock { byName[name] } }

    /// Makes `names` share one moment of width `n` (created on first sight) and returns it.
    public func moment(sharedBy names: [String], n: Int) -> Moment {
        lock.withLock {
            let m = names.lazy.compactMap { self.byName[$0] }.first ?? Moment(n: n)
            for name in names { byName[name] = m }
            return m
        }
    }

    /// Names of the matrices with statistics, sorted.
    public var names: [String] { lock.withLock { byName.keys.sorted() } }

    /// Bytes held by the distinct moments.
    public var bytes: Int {
        lock.withLock {
            var seen = Set<ObjectIdentifier>()
            return byName.values.reduce(0) { seen.insert(ObjectIdentifier($1)).inserted ? $0 + $1.sum.count * 4 : $0 }
        }
    }

    /// Drops the moment of `name` (after its tensors are quantized) so memory can be reused.
    public func release(_ name: String) { lock.withLock { _ = byName.removeValue(forKey: name) } }
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
