import Evaluation
import Foundation
import GGUF
import Inference
import QKCore
import Quantization

/// Measures with the engine how much each class of tensors (attn_q, ffn_down, token_embd…)
/// in each band of layers hurts the output per unit of weighted squared error, so that errors
/// of different tensors can be added up as one estimate of the KL divergence.
///
/// For every class and band, a model is written with those tensors quantized coarsely and
/// everything else at a near-lossless type; its mean KL divergence against the input model on
/// calibration text, less that of the all-near-lossless model, divided by the tensors'
/// measured weighted error, is their factor. Errors then read as estimated KLD.
///
/// Bands matter: the importance matrix grows with depth (activations grow along the residual
/// stream) while the damage does not, so one factor per class underrates early layers. On
/// SmolLM2, ffn_down of layers 0–8 at IQ3_XXS cost 20× the KLD a whole-class factor
/// predicted, layers 18–29 0.8×.
public struct SensitivityProbe {
    public var planner: TargetSizePlanner
    /// Tokenized calibration text (BOS included when the tokenizer adds it).
    public var tokens: [Int32]
    public var bos: Int32?
    public var context = 512
    public var chunks = 1
    /// Type of every tensor outside the probed class.
    public var baseType: GGMLType = .q8_0
    /// Where the temporary models and logits go (removed afterwards).
    public var workDirectory: String
    public var threads: Int?
    public var progress: ((String) -> Void)?

    public init(planner: TargetSizePlanner, tokens: [Int32], bos: Int32?, workDirectory: String) {
        self.planner = planner
        self.tokens = tokens
        self.bos = bos
        self.workDirectory = workDirectory
    }

    /// Bands of consecutive layers probed separately (each class gets one factor per band).
    public var bands = 4

    /// The class of a tensor: its name without the `blk.N.` prefix.
    public static func tensorClass(_ name: String) -> String {
        guard name.hasPrefix("blk."), let dot = name.dropFirst(4).firstIndex(of: ".") else { return name }
        return String(name[name.index(after: dot)...])
    }

    /// The layer of a `blk.N.…` tensor.
    static func layer(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        return Int(name.dropFirst(4).prefix { $0 != "." })
    }

    /// The factor key of a tensor: `CLASS@FIRST-LAST` (its band of layers, of `layers` split
    /// into `bands`), or the class alone outside the blocks.
    public static func probeKey(_ name: String, layers: Int, bands: Int) -> String {
        let cls = tensorClass(name)
        guard let l = layer(name), layers > 0 else { return cls }
        let b = max(1, min(bands, layers))
        let band = min(b - 1, l * b / layers)
        let first = (band * layers + b - 1) / b, last = ((band + 1) * layers + b - 1) / b - 1
        return "\(cls)@\(first)-\(last)"
    }

    /// The factor for tensor `name`: its band's key (`CLASS@FIRST-LAST` containing its layer),
    /// else its class (factors from before bands), else nil.
    public static func factor(for name: String, in factors: [String: Double]) -> Double? {
        let cls = tensorClass(name)
        if let l = layer(name) {
            for (key, f) in factors where key.hasPrefix(cls + "@") {
                let range = key.dropFirst(cls.count + 1).split(separator: "-").compactMap { Int($0) }
                if range.count == 2, range[0] <= l, l <= range[1] { return f }
            }
        }
        return factors[cls]
    }

    /// The coarse type a probe gives a tensor: the one with the largest error among its
    /// candidates of at least 3 bits per weight.
    static func probeType(_ p: TensorProfile) -> CandidateCost? {
        let n = p.shape.reduce(1, *)
        return p.candidates.filter { Double($0.bytes * 8) / Double(n) >= 3.0 }.max { $0.error < $1.error }
    }

    /// Runs `body` with a function that writes a model with the given tensor types (the rest
    /// as the planner would leave them; FFN channels smoothed when the third argument is true,
    /// see ``FFNSmoothing``), and returns its mean KL divergence against the input model on the
    /// probe's text (reference logits computed once; temporary files removed).
    public func withReference<T>(_ body: (_ kld: ([String: GGMLType], String, Bool) throws -> Double) throws -> T) throws -> T {
        let fm = FileManager.default
        try fm.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        let tag = UUID().uuidString.prefix(8)
        let baseLogits = workDirectory + "/.quant-probe-\(tag).logits"
        defer { try? fm.removeItem(atPath: baseLogits) }
        let source = try LanguageModel(file: planner.model)
        let s0 = try Session(model: source, contextLength: context, threads: threads)
        progress?("reference logits")
        _ = try PerplexityRunner(session: s0).run(tokens: tokens, bos: bos, chunks: chunks, saveLogits: baseLogits)
        return try body { types, label, smooth in
            progress?(label)
            let path = workDirectory + "/.quant-probe-\(tag).gguf"
            defer { try? fm.removeItem(atPath: path) }
            let plan = try planner.plan(types: types)
            let imatrix = planner.profiler.imatrix
            _ = try GGUFQuantizer.run(input: planner.model, plan: plan.plan, metadata: plan.metadata, outputPath: path,
                                      imatrix: imatrix, allowRequantize: true,
                                      smoothing: smooth ? imatrix.map { FFNSmoothing(plan: plan.plan, imatrix: $0) } : nil)
            let lm = try LanguageModel(path: path)
            let session = try Session(model: lm, contextLength: context, threads: threads)
            return try KLDivergenceRunner(session: session).run(baseFile: baseLogits, chunks: chunks, bos: bos).kl!.meanKLD.value
        }
    }

    /// One factor per class and band (KLD per unit of error), measured as described above.
    public func measure(profiles: [TensorProfile]) throws -> [String: Double] {
        try withReference { kld in try factors(profiles: profiles, kld: { try kld($0, $1, false) }) }
    }

    private func factors(profiles: [TensorProfile], kld: ([String: GGMLType], String) throws -> Double) throws -> [String: Double] {
        let layers = (profiles.compactMap { Self.layer($0.name) }.max() ?? -1) + 1
        var byClass: [String: [TensorProfile]] = [:]
        for p in profiles { byClass[Self.probeKey(p.name, layers: layers, bands: bands), default: []].append(p) }
        let baseTypes = Dictionary(uniqueKeysWithValues: profiles.map { ($0.name, baseType) })

        let floor = try kld(baseTypes, "all \(baseType.name)")
        var factors: [String: Double] = [:]
        for (cls, members) in byClass.sorted(by: { $0.key < $1.key }) {
            var types = baseTypes
            var error = 0.0
            for p in members {
                guard let c = Self.probeType(p) else { continue }
                types[p.name] = c.type
                error += c.error - (p.candidates.first { $0.type == baseType }?.error ?? 0)
            }
            guard error > 0 else { continue }
            let k = try kld(types, cls)
            factors[cls] = max(k - floor, 0) / error
        }
        // A class whose damage drowned in the noise gets a small factor, never zero.
        let positive = factors.values.filter { $0 > 0 }.sorted()
        let least = positive.isEmpty ? 1 : positive[0] * 0.5
        for (k, v) in factors where v <= 0 { factors[k] = least }
        factors[Self.floorKey] = floor
        return factors
    }

    /// The key under which ``measure(profiles:)`` also returns the measured KLD of the model
    /// with every probed tensor at the base type (no tensor class has this name).
    public static let floorKey = "(all at base type)"

    /// `profiles` with every error multiplied by its class's factor. With `trustedRangeOnly`,
    /// candidates coarser than the probe's types (fewer than 3 bits per weight) are dropped: the
    /// linear model was calibrated at the probe's error level and badly underestimates the damage
    /// of 2-bit types on a few critical tensors (e.g. early ffn_down).
    public static func apply(_ factors: [String: Double], to profiles: [TensorProfile], trustedRangeOnly: Bool = false) -> [TensorProfile] {
        profiles.map { p in
            var p = p
            let f = factor(for: p.name, in: factors) ?? 1
            p.sensitivity *= f
            for i in p.candidates.indices { p.candidates[i].error *= f }
            if trustedRangeOnly {
                let n = Double(p.shape.reduce(1, *))
                let kept = p.candidates.filter { Double($0.bytes * 8) / n >= 3.0 }
                if !kept.isEmpty { p.candidates = kept }
            }
            return p
        }
    }
}
