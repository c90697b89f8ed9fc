import Foundation
import QKCore
import QuantFormats

/// Scales a gated FFN's outlier channels down by powers of two before quantizing: the same
/// network, but ffn_down's input rounds better at run time.
///
/// llama.cpp multiplies a k-quant matrix with its input rounded to 8 bits, one scale per 256
/// values (Q8_K). ffn_down's input, `act(gate·x) ⊙ (up·x)`, has a few channels whose mean square
/// is hundreds to thousands of times the median (Gemma-3-270M: up to 7,500×), so in nearly every
/// block of 256 one channel sets the step for all. Channel j of that input is multiplied by
/// `2^-k_j` by scaling row j of ffn_up (exact for any quantized type: every scale of the row
/// halves, the integers stay) and column j of ffn_down by `2^k_j` (exact in F32; ffn_down is
/// quantized afterwards, and its imatrix column by `4^-k_j`, the new mean square). Then
/// `k_j = max(0, ⌊½·log2(E[x_j²] / q)⌋)`, `q` the channels' 99th percentile mean square (the
/// imatrix's), at most ``maxExponent``: the outliers land near the others.
///
/// Only layers whose ffn_down becomes a type in ``smoothedTypes`` are changed: there the
/// weights' own error is small next to the input's rounding. Measured (llama-perplexity KLD
/// against F32 on history.txt; imatrix from other text):
/// - Gemma-3, llama's Q4_K_M types (9 Q6_K ffn_down layers smoothed): 0.005885 → 0.004528 on 16
///   chunks (llama-quantize's own Q4_K_M file: 0.005969); every target-size cell 0.79–0.93×;
/// - SmolLM2 Q6_K 0.00767 → 0.00702, Q5_K_M 0.00698 → 0.00613, Q4_K_M 0.0368 → 0.0364 (16 chunks);
/// - Qwen2.5 (whose F32 reference sits on its Q4_K_M/Q6_K grids, which smoothing leaves):
///   target-size cells 0.99–1.07×, i.e. no gain.
/// With ffn_down at 4 bits or fewer the weights' error dominates and the scaled columns make it
/// grow (SmolLM2 with every layer smoothed: IQ4_XS 0.1058 → 0.1113, Q3_K_M 0.0931 → 0.0943), so
/// those layers are left alone. Whether it pays is the model's: `--target-size` with
/// `--sensitivity-text` measures its best plan both ways (``PlanVerifier``).
public struct FFNSmoothing: Sendable {
    /// ffn_down types whose layers are smoothed (Q8_K input, 5 bits or more).
    public static let smoothedTypes: Set<GGMLType> = [.q5_K, .q6_K]
    /// The percentile of the channels' mean squares that outliers are brought down to.
    public static let quantile = 0.99
    /// The largest exponent (a factor of 64), far from fp16 scales' subnormal range.
    public static let maxExponent: Int32 = 6

    /// Per layer, the exponent k_j of each FFN channel (0: unchanged); only layers with a
    /// channel above 0 are kept.
    public private(set) var exponents: [Int: [Int32]] = [:]

    /// Layers changed and channels scaled, for reporting.
    public var layerCount: Int { exponents.count }
    public var channelCount: Int { exponents.values.reduce(0) { $0 + $1.filter { $0 > 0 }.count } }

    /// The smoothing of the layers of `plan` that qualify: `blk.N.ffn_gate/ffn_up/ffn_down`
    /// present as 2-D matrices of matching sizes, ffn_down planned as one of
    /// ``smoothedTypes``, no ffn_up bias, and an imatrix entry for ffn_down.
    public init(plan: [PlannedTensor], imatrix: ImportanceMatrix) {
        let byName = Dictionary(plan.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for p in plan {
            guard let layer = Self.layer(of: p.name, matrix: "ffn_down"),
                  Self.smoothedTypes.contains(p.outputType), p.shape.count == 2,
                  let up = byName["blk.\(layer).ffn_up.weight"],
                  let gate = byName["blk.\(layer).ffn_gate.weight"], byName["blk.\(layer).ffn_up.bias"] == nil,
                  up.shape.count == 2, gate.shape == up.shape, up.shape[1] == p.shape[0], up.shape[0] == p.shape[1],
                  let meanSquares = imatrix.weights(for: p.name), meanSquares.count == p.shape[0]
            else { continue }
            let k = Self.exponents(meanSquares: meanSquares)
            if k.contains(where: { $0 > 0 }) { exponents[layer] = k }
        }
    }

    /// `k_j` for channels with mean squares `v` (see the type's description).
    static func exponents(meanSquares v: [Float]) -> [Int32] {
        let sorted = v.sorted()
        let q = Double(sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * quantile))])
        guard q > 0 else { return Array(repeating: 0, count: v.count) }
        return v.map { x in
            let k = (0.5 * Foundation.log2(Double(x) / q)).rounded(.down)
            return k.isFinite ? Int32(max(0, min(Double(maxExponent), k))) : 0
        }
    }

    /// The layer number of `blk.N.<matrix>.weight`.
    static func layer(of name: String, matrix: String) -> Int? {
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[0] == "blk", parts[2] == matrix, parts[3] == "weight" else { return nil }
        return Int(parts[1])
    }

    /// How `tensor`'s F32 rows change, if at all: `apply(rows, firstRow, count, n)` scales them in place.
    public func rowTransform(for tensor: String) -> (@Sendable (UnsafeMutablePointer<Float>, Int, Int, Int) -> Void)? {
        if let layer = Self.layer(of: tensor, matrix: "ffn_up"), let k = exponents[layer] {
            // Row j (channel j) times 2^-k_j.
            return { rows, first, count, n in
                for r in 0 ..< count where k[first + r] > 0 {
                    let f = Float(sign: .plus, exponent: -Int(k[first + r]), significand: 1)
                    let row = rows + r * n
                    for i in 0 ..< n { row[i] *= f }
                }
            }
        }
        if let layer = Self.layer(of: tensor, matrix: "ffn_down"), let k = exponents[layer] {
            // Column j (channel j) times 2^k_j, in every row.
            let f = k.map { Float(sign: .plus, exponent: Int($0), significand: 1) }
            return { rows, _, count, n in
                f.withUnsafeBufferPointer { f in
                    for r in 0 ..< count {
                        let row = rows + r * n
                        for j in 0 ..< n { row[j] *= f[j] }
                    }
                }
            }
        }
        return nil
    }

    /// The importance weights for `tensor` after smoothing: ffn_down's column j times `4^-k_j`
    /// (its input's new mean square); other tensors' unchanged.
    public func importance(for tensor: String, _ weights: [Float]) -> [Float] {
        guard let layer = Self.layer(of: tensor, matrix: "ffn_down"), let k = exponents[layer], k.count == weights.count else { return weights }
        return zip(weights, k).map { w, k in w * Float(sign: .plus, exponent: -2 * Int(k), significand: 1) }
    }
}
