import Foundation
import GGUF
import QKCore
import QuantFormats

/// The cost of one candidate type for one tensor.
public struct CandidateCost: Sendable, Equatable, Codable {
    public var type: GGMLType
    /// Tensor data bytes in this type, padded to the file's alignment.
    public var bytes: Int
    /// Estimated damage: importance-weighted squared error of the dequantized weights
    /// (Σ_rows Σ_j imp_j (w − ŵ)²), times the tensor's sensitivity.
    public var error: Double
}

/// Every candidate's cost for one tensor that may be quantized.
public struct TensorProfile: Sendable, Codable {
    public var name: String
    public var shape: [Int]
    public var inputType: GGMLType
    /// Importance-weighted energy of the weights (Σ_rows Σ_j imp_j w²), the scale of the errors.
    public var signal: Double
    /// Multiplier applied to the raw weighted error (see ``ErrorProfiler/sensitivity``).
    public var sensitivity: Double
    /// Candidates, cheapest first.
    public var candidates: [CandidateCost]
}

/// Measures, for every tensor and every candidate type, the bytes and the error the type would
/// cause, by quantizing (a sample of) the tensor's rows and dequantizing them again.
public struct ErrorProfiler {
    /// The candidate types: legacy, k- and i-quants (IQ1_S/IQ1_M only on request: slow to
    /// measure, and rarely worth their error) plus F16 (types needing an importance
    /// matrix are used only with one; block sizes must divide the row length).
    public static let defaultCandidates: [GGMLType] = [
        .iq2_xxs, .iq2_xs, .iq2_s, .q2_K, .iq3_xxs, .iq3_s, .q3_K, .iq4_xs, .iq4_nl,
        .q4_0, .q4_1, .q4_K, .q5_0, .q5_1, .q5_K, .q6_K, .q8_0, .f16,
    ]

    public var candidates: [GGMLType]
    public var imatrix: ImportanceMatrix?
    /// Rows quantized per tensor are about this many elements (all rows of smaller tensors);
    /// errors of a sample are scaled up to the whole tensor.
    public var sampleElements: Int
    public var alignment: Int
    public var pool: ThreadPool

    public init(candidates: [GGMLType] = ErrorProfiler.defaultCandidates, imatrix: ImportanceMatrix?,
                sampleElements: Int = 1 << 18, alignment: Int = 32, pool: ThreadPool = .shared) {
        self.candidates = candidates
        self.imatrix = imatrix
        self.sampleElements = sampleElements
        self.alignment = alignment
        self.pool = pool
    }

    /// The candidate types usable for `tensor`: block size divides the row length, and an
    /// importance-matrix entry exists if the type needs one. The input type is always allowed
    /// when it is F32/F16 (keeping it costs no error).
    public func usableTypes(for tensor: GGUFTensorInfo) -> [GGMLType] {
        let n = tensor.rowLength
        let hasImportance = importance(for: tensor) != nil
        var types = candidates.filter { t in
            n % t.blockSize == 0 && QuantCodec.codec(t) != nil && (hasImportance || !QuantCodec.requiresImportance(t))
        }
        if tensor.type.isFloat, !types.contains(tensor.type) { types.append(tensor.type) }
        return types
    }

    /// The importance weights that quantization of `tensor` uses (nil: none or mis-sized).
    public func importance(for tensor: GGUFTensorInfo) -> [Float]? {
        let experts = tensor.shape.count > 2 ? tensor.shape[2...].reduce(1, *) : 1
        guard let w = imatrix?.weights(for: tensor.name), w.count == tensor.rowLength * experts else { return nil }
        return w
    }

    /// How much one unit of weighted error in `tensor` is worth. Token embeddings looked up by
    /// row (no importance) add their error to one token's residual at a time: their squared
    /// error is averaged over the rows (the vocabulary). Tied embeddings also serve as output.
    public static func sensitivity(name: String, shape: [Int], tiedOutput: Bool, hasImportance: Bool) -> Double {
        if name == "token_embd.weight" && !tiedOutput && !hasImportance {
            return 1.0 / Double(max(1, shape.count > 1 ? shape[1] : 1))
        }
        return 1
    }

    /// Profiles one tensor of `model`.
    public func profile(_ tensor: GGUFTensorInfo, in model: GGUFModel, tiedOutput: Bool) throws -> TensorProfile {
        let n = tensor.rowLength, rows = tensor.rowCount
        let types = usableTypes(for: tensor)
        let rowsPerMatrix = tensor.shape.count > 1 ? tensor.shape[1] : 1
        let sampled = min(rows, max(16, sampleElements / max(n, 1)))
        let rowIndex = (0 ..< sampled).map { Int((Double($0) + 0.5) * Double(rows) / Double(sampled)) }
        let importance = importance(for: tensor)
        let data = model.data(of: tensor)
        let inRow = tensor.type.rowSize(n)
        guard tensor.type == .f32 || QuantCodec.codec(tensor.type) != nil else {
            throw QuantKitError("tensor '\(tensor.name)' has type \(tensor.type.name), which cannot be read")
        }
        let codecs = types.map { QuantCodec.codec($0)! }
        let maxRow = types.map { $0.rowSize(n) }.max() ?? 0
        // One task per group of sampled rows; per task, per type: weighted squared error.
        let group = max(1, min(64, sampled / (4 * pool.threadCount) + 1))
        let tasks = (sampled + group - 1) / group
        var errors = [Double](repeating: 0, count: tasks * types.count)
        var signals = [Double](repeating: 0, count: tasks)
        errors.withUnsafeMutableBufferPointer { errs in
            signals.withUnsafeMutableBufferPointer { sig in
                pool.parallelFor(tasks) { task in
                    let w = UnsafeMutablePointer<Float>.allocate(capacity: n)
                    let back = UnsafeMutablePointer<Float>.allocate(capacity: n)
                    let q = UnsafeMutableRawPointer.allocate(byteCount: maxRow + 64, alignment: 64)
                    let ones = UnsafeMutablePointer<Float>.allocate(capacity: n)
                    ones.initialize(repeating: 1, count: n)
                    defer { w.deallocate(); back.deallocate(); q.deallocate(); ones.deallocate() }
                    for s in task * group ..< min(sampled, (task + 1) * group) {
                        let r = rowIndex[s]
                        let src = data.baseAddress! + r * inRow
                        if tensor.type == .f32 { w.update(from: src.assumingMemoryBound(to: Float.self), count: n) }
                        else { QuantCodec.codec(tensor.type)!.dequantize(src, w, n) }
                        let impRow: UnsafePointer<Float>? = importance.map { imp in
                            imp.withUnsafeBufferPointer { $0.baseAddress! + (imp.count == n ? 0 : (r / rowsPerMatrix) * n) }
                        }
                        let weight = impRow ?? UnsafePointer(ones)
                        var e = 0.0
                        for j in 0 ..< n { e += Double(weight[j]) * Double(w[j]) * Double(w[j]) }
                        sig[task] += e
                        for (k, c) in codecs.enumerated() {
                            c.quantize(w, q, n, impRow)
                            c.dequantize(q, back, n)
                            var err = 0.0
                            for j in 0 ..< n {
                                let d = Double(w[j] - back[j])
                                err += Double(weight[j]) * d * d
                            }
                            errs[task * types.count + k] += err
                        }
                    }
                }
            }
        }
        let scale = Double(rows) / Double(sampled)
        let sens = Self.sensitivity(name: tensor.name, shape: tensor.shape, tiedOutput: tiedOutput, hasImportance: importance != nil)
        var costs = types.enumerated().map { k, t in
            let err = (0 ..< tasks).reduce(0.0) { $0 + errors[$1 * types.count + k] } * scale
            return CandidateCost(type: t, bytes: padded(t.rowSize(n) * rows), error: err * sens)
        }
        costs.sort { $0.bytes != $1.bytes ? $0.bytes < $1.bytes : $0.error < $1.error }
        return TensorProfile(name: tensor.name, shape: tensor.shape, inputType: tensor.type,
                             signal: signals.reduce(0, +) * scale, sensitivity: sens, candidates: costs)
    }

    func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
}
