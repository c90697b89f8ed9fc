import DotKernels
import Evaluation
import Foundation
import GGUF
import Inference
import QKCore
import QuantFormats
import Quantization

/// What the 8-bit rounding of a matrix's *input* costs, per weight type.
///
/// llama.cpp (and our engine) multiplies a quantized weight matrix with activations that were
/// first rounded to the type's partner format: Q8_0 (blocks of 32) for Q4_0/Q5_0/Q8_0/IQ4_NL,
/// Q8_1 for Q4_1/Q5_1, Q8_K (one scale per 256 values) for the k- and i-quants, F16 for F16.
/// That rounding adds an output error `W·δx` on top of the weights' own error, and it is not
/// small: with heavy-tailed inputs (ffn_down) one outlier sets the step for all 256 values of
/// a Q8_K block. On Gemma-3-270M, the published Q4_K_M types measure KLD 0.0054 against their
/// own dequantized weights; moving only the Q4_K tensors to Q4_1, which holds the same values
/// exactly but takes Q8_1 input, measures 0.0040.
///
/// In the near-lossless range, where the weights' error vanishes, this is the cost that is
/// left: `E‖W δx‖² = Σ_j ‖W[:, j]‖² · E[δx_j²]`, in the same units as the weights'
/// importance-weighted error (`Σ_j E[x_j²] ‖δW[:, j]‖²`). `E[δx_j²]` is measured per input
/// column by rounding the activations the engine actually sees (``ActivationRoundingCollector``).
/// The size allocator adds it on request (`quant quantize --activation-costs`, see
/// ``SensitivityProbe/weigh(_:target:cachedFactors:activationCosts:weighted:)`` for why not by default).
public struct ActivationRounding: Sendable, Codable {
    /// Mean squared rounding error per input column, by activation format name (Q8_0, Q8_1, Q8_K, F16…).
    public var meanSquaredError: [String: [Double]]
    /// Mean squared input per column, `E[x_j²]` (what an importance matrix holds).
    public var meanSquare: [Double]
    /// Tokens the means were taken over.
    public var tokens: Int

    /// The activation formats that are measured (F32 input costs nothing).
    static let formats: [GGMLType] = [.q8_0, .q8_1, .q8_K, .f16, .bf16]

    /// Estimated output error `Σ_j colEnergy_j · E[δx_j²]` of weights of `type` whose squared
    /// column norms are `columnEnergy` (0 when the type's input is F32 or unmeasured).
    public func cost(of type: GGMLType, columnEnergy: [Double]) -> Double {
        guard let act = ReferenceDot.activationType(for: type), let mse = meanSquaredError[act.name],
              mse.count == columnEnergy.count else { return 0 }
        var s = 0.0
        for j in 0 ..< mse.count { s += columnEnergy[j] * mse[j] }
        return s
    }

    /// `Σ_rows w_ij²` for every column j of a 2-D tensor (F32/F16 or any dequantizable type).
    public static func columnEnergy(of tensor: GGUFTensorInfo, in model: GGUFModel, pool: ThreadPool = .shared) throws -> [Double] {
        let n = tensor.rowLength, rows = tensor.rowCount
        guard tensor.type == .f32 || QuantCodec.codec(tensor.type) != nil else {
            throw QuantKitError("tensor '\(tensor.name)' has type \(tensor.type.name), which cannot be read")
        }
        let data = model.data(of: tensor), rowBytes = tensor.type.rowSize(n)
        let chunks = min(rows, 4 * pool.threadCount)
        var partial = [Double](repeating: 0, count: chunks * n)
        partial.withUnsafeMutableBufferPointer { acc in
            pool.parallelFor(chunks) { c in
                let w = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { w.deallocate() }
                let out = acc.baseAddress! + c * n
                for r in stride(from: c, to: rows, by: chunks) {
                    let src = data.baseAddress! + r * rowBytes
                    if tensor.type == .f32 { w.update(from: src.assumingMemoryBound(to: Float.self), count: n) }
                    else { QuantCodec.codec(tensor.type)!.dequantize(src, w, n) }
                    for j in 0 ..< n { out[j] += Double(w[j]) * Double(w[j]) }
                }
            }
        }
        var total = [Double](repeating: 0, count: n)
        for c in 0 ..< chunks { for j in 0 ..< n { total[j] += partial[c * n + j] } }
        return total
    }

    /// Per tensor and candidate type, the activation-rounding cost in the units of that
    /// tensor's weight error (before any sensitivity factor). A tensor whose weights' error was
    /// measured without importance weights (`weighted` false: `Σ δw²`, as if every input had
    /// mean square 1) gets its cost in those units: divided by the mean of `E[x_j²]`.
    public static func costs(_ stats: [String: ActivationRounding], profiles: [TensorProfile], model: GGUFModel,
                             weighted: (String) -> Bool, pool: ThreadPool = .shared) throws -> [String: [GGMLType: Double]] {
        var out: [String: [GGMLType: Double]] = [:]
        for p in profiles {
            guard let s = stats[p.name], let info = model.tensor(named: p.name), info.shape.count == 2 else { continue }
            let energy = try columnEnergy(of: info, in: model, pool: pool)
            let meanSquare = s.meanSquare.reduce(0, +) / Double(max(s.meanSquare.count, 1))
            let unit = weighted(p.name) ? 1 : (meanSquare > 0 ? 1 / meanSquare : 0)
            out[p.name] = Dictionary(uniqueKeysWithValues: p.candidates.map { ($0.type, s.cost(of: $0.type, columnEnergy: energy) * unit) })
        }
        return out
    }

    /// `profiles` with each candidate's error raised by its cost times `scale` times the
    /// profile's sensitivity (tensors without costs are left as they are).
    public static func apply(_ costs: [String: [GGMLType: Double]], to profiles: [TensorProfile], scale: Double = 1) -> [TensorProfile] {
        profiles.map { p in
            guard let c = costs[p.name] else { return p }
            var p = p
            for i in p.candidates.indices { p.candidates[i].error += (c[p.candidates[i].type] ?? 0) * scale * p.sensitivity }
            return p
        }
    }

    /// The scale that makes the estimate for the model with every tensor in `base` (weights'
    /// error plus activation rounding, `profiles` already weighed by sensitivity factors) equal
    /// its measured KL divergence `floor`, kept within [1/50, 4]. The factors were measured on
    /// the weights' error of coarse types; this checks them on rounding that is all activation.
    public static func floorScale(measured floor: Double, base: GGMLType = .q8_0, costs: [String: [GGMLType: Double]],
                                  profiles: [TensorProfile]) -> Double {
        var weights = 0.0, activations = 0.0
        for p in profiles {
            guard let c = p.candidates.first(where: { $0.type == base }) else { continue }
            weights += c.error
            activations += (costs[p.name]?[base] ?? 0) * p.sensitivity
        }
        guard activations > 0 else { return 1 }
        return min(4, max(0.02, (floor - weights) / activations))
    }
}

/// Rounds every matrix input the engine computes with to each activation format and keeps,
/// per matrix and input column, the sum of squared rounding errors (see ``ActivationRounding``).
/// Matrices sharing one input (q/k/v, gate/up) share one measurement; expert matrices are skipped.
public final class ActivationRoundingCollector: ActivationObserver {
    /// Per input (keyed by the first matrix that reads it): one row of n sums per activation
    /// format (squared rounding errors), then one of x².
    private var sums: [String: [Double]] = [:]
    private var readers: [String: [String]] = [:]
    private var tokens: [String: Int] = [:]

    public init() {}

    public func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens count: Int, pool: ThreadPool, threads: Int) {
        let names = matrices.filter { $0.expert == nil }.map(\.name)
        guard let key = names.first, let n = matrices.first?.cols, count > 0 else { return }
        let formats = ActivationRounding.formats
        readers[key] = names
        tokens[key, default: 0] += count
        let maxBytes = formats.map { $0.rowSize(n) }.max()!
        sums[key, default: [Double](repeating: 0, count: (formats.count + 1) * n)].withUnsafeMutableBufferPointer { acc in
            let squares = acc.baseAddress! + formats.count * n
            for t in 0 ..< count {
                for j in 0 ..< n { squares[j] += Double(input[t * n + j]) * Double(input[t * n + j]) }
            }
            withUnsafeTemporaryAllocation(byteCount: maxBytes, alignment: 64) { q in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { back in
                    for (f, format) in formats.enumerated() where n % format.blockSize == 0 {
                        let a = acc.baseAddress! + f * n
                        for t in 0 ..< count {
                            let x = input + t * n
                            Activations.quantizeRow(format, x, q.baseAddress!, n)
                            Self.decode(format, q.baseAddress!, back.baseAddress!, n)
                            for j in 0 ..< n {
                                let d = Double(x[j]) - Double(back[j])
                                a[j] += d * d
                            }
                        }
                    }
                }
            }
        }
    }

    /// Mean squared errors per matrix name.
    public var statistics: [String: ActivationRounding] {
        var out: [String: ActivationRounding] = [:]
        let formats = ActivationRounding.formats
        for (key, acc) in sums {
            let t = tokens[key] ?? 0, n = acc.count / (formats.count + 1)
            let mean = { (row: Int) in acc[row * n ..< (row + 1) * n].map { $0 / Double(max(t, 1)) } }
            var mse: [String: [Double]] = [:]
            for (f, format) in formats.enumerated() where n % format.blockSize == 0 { mse[format.name] = mean(f) }
            let stats = ActivationRounding(meanSquaredError: mse, meanSquare: mean(formats.count), tokens: t)
            for name in readers[key] ?? [] { out[name] = stats }
        }
        return out
    }

    /// The floats an activation row of `format` stands for (Q8_0, Q8_1: f16 scale per 32;
    /// Q8_K: f32 scale per 256; F16/BF16 per value).
    static func decode(_ format: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        switch format {
        case .q8_0, .q8_1:
            let blockBytes = format == .q8_0 ? 34 : 36, qOffset = format == .q8_0 ? 2 : 4
            for b in 0 ..< n / 32 {
                let block = src + b * blockBytes
                let d = Float(Float16(bitPattern: block.loadUnaligned(as: UInt16.self)))
                for i in 0 ..< 32 { dst[b * 32 + i] = d * Float(block.load(fromByteOffset: qOffset + i, as: Int8.self)) }
            }
        case .q8_K:
            let blockBytes = format.rowSize(256)
            for b in 0 ..< n / 256 {
                let block = src + b * blockBytes
                let d = block.loadUnaligned(as: Float.self)
                for i in 0 ..< 256 { dst[b * 256 + i] = d * Float(block.load(fromByteOffset: 4 + i, as: Int8.self)) }
            }
        case .f16:
            for i in 0 ..< n { dst[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bf16:
            for i in 0 ..< n { dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        default:
            preconditionFailure("no activation decoder for \(format.name)")
        }
    }
}

extension SensitivityProbe {
    /// Runs the input model on the probe's text and measures, for every matrix, what rounding
    /// its input to each activation format costs (``ActivationRounding``).
    public func activationRounding() throws -> [String: ActivationRounding] {
        let session = try Session(model: try LanguageModel(file: planner.model), contextLength: context, threads: threads)
        let collector = ActivationRoundingCollector()
        session.activationObserver = collector
        progress?("activation rounding")
        _ = try PerplexityRunner(session: session).run(tokens: tokens, bos: bos, chunks: chunks)
        return collector.statistics
    }
}
