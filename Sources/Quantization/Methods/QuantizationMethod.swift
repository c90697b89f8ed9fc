import Foundation
import QKCore
import QuantFormats

/// How the blocks of each tensor are encoded. Every method writes the same types (hence the
/// same file size) as llama-quantize for a file type; only the values inside the blocks differ.
public enum QuantizationMethod: Sendable {
    /// ggml's own quantizers: byte-identical to llama-quantize.
    case ggml
    /// A wider scale search per block, minimising the (importance-weighted) error as decoded.
    case search
    /// GPTQ error compensation with the layer-input Hessians collected on calibration text;
    /// tensors without a Hessian (embeddings, MoE experts) use `search`.
    case gptq(Hessians, damping: Double)

    /// The method's command-line name.
    public var name: String {
        switch self {
        case .ggml: return "ggml"
        case .search: return "search"
        case .gptq: return "gptq"
        }
    }
}

/// Hands out, tensor by tensor, the row encoder a method uses, computing each GPTQ factor once
/// for the matrices that share an input and dropping it after the last of them. Streamed
/// Hessians are told the tensor order, so they are loaded just before they are needed.
final class MethodCodecs {
    let method: QuantizationMethod
    private var factors: [String: GPTQFactor] = [:]
    private var usesLeft: [String: Int] = [:]
    /// Seconds spent factoring Hessians.
    private(set) var factorSeconds = 0.0

    init(method: QuantizationMethod, plan: [PlannedTensor]) {
        self.method = method
        if case .gptq(let h, _) = method {
            let names = plan.filter(Self.quantizes).map(\.name)
            h.expect(names)
            for name in names {
                if let key = h.groupKey(for: name) { usesLeft[key, default: 0] += 1 }
            }
        }
    }

    private static func quantizes(_ p: PlannedTensor) -> Bool { p.outputType.isQuantized && p.outputType != p.inputType }

    /// The encoder for tensor `p` (nil: ggml's quantizer). `importance` is the imatrix row in use.
    func codec(for p: PlannedTensor, importance: [Float]?) throws -> RowCodec? {
        guard Self.quantizes(p) else { return nil }
        switch method {
        case .ggml:
            return nil
        case .search:
            return try ScaleSearch.codec(p.outputType)
        case .gptq(let hessians, let damping):
            guard p.shape.count == 2, let key = hessians.groupKey(for: p.name) else {
                return try ScaleSearch.codec(p.outputType)
            }
            let factor: GPTQFactor
            if let f = factors[key] {
                factor = f
            } else {
                guard let m = try hessians.prepare(p.name) else { return try ScaleSearch.codec(p.outputType) }
                let t0 = DispatchTime.now().uptimeNanoseconds
                factor = try GPTQFactor(m, damping: damping)
                factorSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                factors[key] = factor
                hessians.release(p.name)   // the factor is all its matrices need from now on
            }
            usesLeft[key, default: 1] -= 1
            if usesLeft[key]! <= 0 { factors[key] = nil }
            guard factor.n == p.shape[0] else { return try ScaleSearch.codec(p.outputType) }
            return try GPTQ.codec(p.outputType, factor: factor, importance: importance)
        }
    }
}
