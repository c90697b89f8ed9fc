import Quantization

/// The memory a plan may use: one pool (`--memory`, CPU or unified memory) or a GPU plus
/// system RAM (`--gpu` and `--ram`, for partial offload).
public struct MemoryBudget: Sendable, Equatable {
    public var memory: ByteSize?
    public var gpu: ByteSize?
    public var ram: ByteSize?
    /// Fraction of each pool kept free for the OS, other programs and allocator slack.
    public var headroom = 0.10

    public init(memory: ByteSize? = nil, gpu: ByteSize? = nil, ram: ByteSize? = nil, headroom: Double = 0.10) {
        self.memory = memory
        self.gpu = gpu
        self.ram = ram
        self.headroom = headroom
    }

    func usable(_ s: ByteSize) -> Int { Int(Double(s.bytes) * (1 - headroom)) }
}

/// The answer to "which quant should I run on this machine?".
public struct Recommendation: Sendable {
    /// The highest-quality file type that fits, nil when none does.
    public let choice: MemoryEstimate?
    /// With a GPU budget: the layer split for ``choice``.
    public let offload: OffloadSplit?
    /// With a GPU budget: the best type that fits entirely on the GPU (the fast option), if any.
    public let fullOffloadChoice: MemoryEstimate?
    /// The measurement that ranks ``choice``.
    public let quality: QualityTable.Entry?
    /// The largest context (a multiple of 256, at most the training context) at which ``choice``
    /// still fits, with the same cache types.
    public let maxContext: Int?
    /// Why: the next better type and why it does not fit, then the choice's arithmetic and quality.
    public let reasons: [String]
}

/// Picks a file type for a memory budget, by measured quality.
public enum Recommender {
    /// Chooses the best type (in ``QualityTable/qualityOrder``) whose memory fits `budget` with
    /// its headroom at `context`, and explains the choice.
    public static func recommend(_ shape: ModelShape, context o: ContextOptions, budget: MemoryBudget) throws -> Recommendation {
        let all = try MemoryPlanner.estimates(shape, context: o)
        let byType = Dictionary(all.map { ($0.fileType, $0) }, uniquingKeysWith: { a, _ in a })
        let ranked = QualityTable.qualityOrder.compactMap { byType[$0] }
        var reasons: [String] = []
        var choice: MemoryEstimate?
        var split: OffloadSplit?
        var rejected: [MemoryEstimate] = []
        for e in ranked {
            if let s = fit(e, budget) {
                choice = e
                split = budget.gpu == nil ? nil : s
                break
            }
            rejected.append(e)
        }
        if choice != nil, let next = rejected.last {
            let others = rejected.count - 1
            reasons.append("\(next.fileType.name), the next better type, does not fit: \(need(next, budget))"
                           + (others > 0 ? " (nor do the \(others) better ones)" : ""))
        }
        var fullGPU: MemoryEstimate?
        if let gpu = budget.gpu {
            fullGPU = ranked.first { MemoryPlanner.split($0, gpuLayers: shape.layerCount + 1).gpuBytes <= budget.usable(gpu) }
        }
        var maxContext: Int?
        if let c = choice {
            reasons.append("\(c.fileType.name) fits: " + breakdown(c) + fitText(c, split, budget))
            if let q = QualityTable.reference(c.fileType) {
                reasons.append("quality: mean KLD \(formatFixed(q.meanKLD, 4)) vs FP16 on \(q.model)"
                               + (q.imatrix ? " (measured with an importance matrix: make it with quant quantize --imatrix)" : "")
                               + " — \(q.source)")
            }
            if let m = QualityTable.measured(c.fileType, model: shape) {
                reasons.append("this model: mean KLD \(formatFixed(m.meanKLD, 4)), PPL ratio \(formatFixed(m.pplRatio ?? 0, 4)) vs F32 — \(m.source)")
            }
            maxContext = try largestContext(shape, fileType: c.fileType, context: o, budget: budget)
        } else if let smallest = all.min(by: { $0.totalBytes < $1.totalBytes }) {
            reasons.append("nothing fits: the smallest type, \(smallest.fileType.name), needs \(need(smallest, budget))")
        }
        return Recommendation(choice: choice, offload: split, fullOffloadChoice: fullGPU,
                              quality: choice.flatMap { QualityTable.reference($0.fileType) },
                              maxContext: maxContext, reasons: reasons)
    }

    /// The split that fits the budget, or nil. One pool: everything in it. GPU + RAM: the most
    /// layers on the GPU such that both sides fit. A GPU without `--ram`: everything on the GPU
    /// (RAM is not checked; the token embedding and output buffer stay there as llama.cpp keeps them).
    static func fit(_ e: MemoryEstimate, _ b: MemoryBudget) -> OffloadSplit? {
        let layers = e.weights.layerBytes.count
        if let gpu = b.gpu {
            let ram = b.ram.map { b.usable($0) } ?? Int.max
            for n in stride(from: layers + 1, through: b.ram == nil ? layers + 1 : 0, by: -1) {
                let s = MemoryPlanner.split(e, gpuLayers: n)
                if s.gpuBytes <= b.usable(gpu) && s.ramBytes <= ram { return s }
                if s.gpuBytes <= b.usable(gpu) { return nil }  // fewer layers on the GPU only adds RAM
            }
            return nil
        }
        let pool = b.memory ?? b.ram
        guard let pool, e.totalBytes <= b.usable(pool) else { return nil }
        return MemoryPlanner.split(e, gpuLayers: 0)
    }

    /// The largest context (multiple of 256, up to the model's training context) at which the
    /// type still fits the budget, or nil if not even 256 tokens fit.
    public static func largestContext(_ shape: ModelShape, fileType: FileType, context o: ContextOptions,
                                      budget: MemoryBudget) throws -> Int? {
        let w = try WeightSizes.plan(shape, fileType: fileType)
        func fits(_ c: Int) throws -> Bool {
            var oc = o
            oc.context = c
            return fit(try MemoryPlanner.estimate(shape, weights: w, context: oc), budget) != nil
        }
        var lo = 0, hi = max(shape.contextLength, 256) / 256  // in units of 256
        guard try fits(256) else { return nil }
        lo = 1
        if try fits(hi * 256) { return hi * 256 }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if try fits(mid * 256) { lo = mid } else { hi = mid }
        }
        return lo * 256
    }

    static func breakdown(_ e: MemoryEstimate) -> String {
        "weights \(e.weights.size) + KV \(e.kvCache.size) + compute \(ByteSize(bytes: e.computeBytes))"
            + " + output \(ByteSize(bytes: e.outputBufferBytes)) = \(e.total)"
    }

    static func fitText(_ e: MemoryEstimate, _ s: OffloadSplit?, _ b: MemoryBudget) -> String {
        if let s, let gpu = b.gpu {
            let layers = s.isFullOffload ? "all \(s.layerCount) layers + output"
                : s.gpuLayers == 0 ? "nothing" : "output + \(s.gpuRepeatingLayers) of \(s.layerCount) layers"
            return "; -ngl \(s.gpuLayers): \(layers) on the GPU (\(ByteSize(bytes: s.gpuBytes)) ≤ \(ByteSize(bytes: b.usable(gpu))))"
                + ", \(ByteSize(bytes: s.ramBytes)) in RAM"
        }
        let pool = b.memory ?? b.ram!
        return " ≤ \(ByteSize(bytes: b.usable(pool))) (\(pool) less \(Int(b.headroom * 100))% headroom)"
    }

    static func need(_ e: MemoryEstimate, _ b: MemoryBudget) -> String {
        if let gpu = b.gpu {
            guard let ram = b.ram else {
                let s = MemoryPlanner.split(e, gpuLayers: e.weights.layerBytes.count + 1)
                return "\(ByteSize(bytes: s.gpuBytes)) on the GPU > \(ByteSize(bytes: b.usable(gpu))) (give --ram for partial offload)"
            }
            return "\(e.total) in all > \(ByteSize(bytes: b.usable(gpu))) GPU + \(ByteSize(bytes: b.usable(ram))) RAM usable"
        }
        let pool = b.memory ?? b.ram ?? ByteSize(bytes: 0)
        return "\(e.total) > \(ByteSize(bytes: b.usable(pool)))"
    }
}
