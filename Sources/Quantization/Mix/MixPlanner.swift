import GGUF
import QKCore

/// One tensor as the planner sees it: name, GGUF shape (ne0 first: the row length) and type.
public struct MixTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var type: GGMLType
    public init(name: String, shape: [Int], type: GGMLType) {
        self.name = name
        self.shape = shape
        self.type = type
    }
}

/// A `--tensor-type PATTERN=TYPE` override: tensors whose name contains a match of the
/// regular expression (searched, not anchored) get the type instead of the mix's choice.
public struct TensorTypeOverride: Sendable, Equatable {
    public var pattern: String
    public var type: GGMLType
    public init(pattern: String, type: GGMLType) {
        self.pattern = pattern
        self.type = type
    }

    /// Parses llama-quantize's `NAME=TYPE` argument: the name is lower-cased, the type is a
    /// ggml type name in any case ("attn_v=q8_0", "blk\\.[0-3]\\.ffn_down=Q6_K").
    public static func parse(_ argument: String) throws -> TensorTypeOverride {
        guard let eq = argument.firstIndex(of: "=") else {
            throw QuantKitError("malformed tensor type '\(argument)' (expected NAME=TYPE)")
        }
        let name = argument[..<eq]
        let typeName = argument[argument.index(after: eq)...]
        guard !name.isEmpty else { throw QuantKitError("missing tensor name in '\(argument)'") }
        guard !typeName.isEmpty else { throw QuantKitError("missing quantization type in '\(argument)'") }
        guard let t = GGMLType(name: String(typeName)) else {
            throw QuantKitError("invalid quantization type '\(typeName)'")
        }
        return TensorTypeOverride(pattern: name.lowercased(), type: t)
    }
}

/// llama-quantize's options that affect which type each tensor gets.
public struct MixOptions: Sendable, Equatable {
    /// An importance matrix with at least one entry will be used (`--imatrix`, after
    /// `--include-weights`/`--exclude-weights`). Changes a few choices (IQ3_XXS attn_v and
    /// ffn_down, IQ4_* and Q4_0/Q5_0 ffn_down) and lifts the imatrix requirement.
    public var hasImatrix = false
    /// `--output-tensor-type`: the type of output.weight (and of tied token embeddings).
    public var outputTensorType: GGMLType?
    /// `--token-embedding-type`: the type of token_embd.weight and per_layer_token_embd.weight.
    public var tokenEmbeddingType: GGMLType?
    /// `--tensor-type` overrides; the first matching pattern wins. Only used when the file
    /// type's default is a quantized type.
    public var tensorTypes: [TensorTypeOverride] = []
    /// `--pure`: no mix; every quantizable tensor gets the default (block-size fallback still applies).
    public var pure = false
    /// false for `--leave-output-tensor`: output.weight is copied as it is.
    public var quantizeOutputTensor = true
    /// `--allow-requantize`: permit converting tensors that are already quantized.
    public var allowRequantize = false
    /// The `COPY` file type: copy every tensor unchanged.
    public var onlyCopy = false
    /// Keep the given tensor order (llama-quantize's `--keep-split`, which processes tensors in
    /// file order) instead of llama.cpp's usual name order (``TensorOrder/precedes(_:_:)``).
    public var keepOrder = false

    public init() {}
}

/// The type chosen for one tensor.
public struct MixDecision: Sendable, Equatable {
    /// Position of the tensor in the list given to the planner.
    public let index: Int
    public let name: String
    public let shape: [Int]
    public let category: TensorCategory
    /// The tensor's type in the input.
    public let currentType: GGMLType
    /// The type it will have in the output.
    public let targetType: GGMLType
    /// False when llama-quantize copies the tensor untouched whatever the file type
    /// (1-D tensors, norms, routers, …; see ``TensorQuantizability``).
    public let allowsQuantization: Bool
    /// llama.cpp's `tensor_requires_imatrix`: the target is an IQ1/IQ2/IQ3_XXS type (or Q2_K in
    /// a Q2_K_S file) and the tensor is not token_embd/output.
    public let requiresImatrix: Bool
    /// The type before the block-size fallback, when the fallback changed it.
    public let fallbackFrom: GGMLType?
    /// Why, in a few words ("ffn_down: Q4_K_M use_more_bits → Q6_K"); for `--dry-run` listings.
    public let reason: String

    /// True when the data must be converted (the target differs from the current type).
    public var converts: Bool { currentType != targetType }
}

/// The per-tensor types for a whole model, in the order llama-quantize processes them.
public struct MixPlan: Sendable {
    public let fileType: FileType
    public let defaultType: GGMLType
    /// One decision per input tensor, in processing order (see ``MixOptions/keepOrder``).
    public let decisions: [MixDecision]
    /// True when the model has no output.weight (llama.cpp assumes tied embeddings until it sees one).
    public let tiedEmbeddings: Bool
    /// How many tensors needed the block-size fallback (llama.cpp warns "N of M tensor(s)
    /// required fallback quantization").
    public var fallbackCount: Int { decisions.count { $0.fallbackFrom != nil } }
    let options: MixOptions

    /// The first tensor that needs an importance matrix when none is given: llama-quantize
    /// stops with "this quantization requires an imatrix!" before writing anything (with
    /// `--dry-run` it only warns at the end). Nil when an imatrix is given or none is needed.
    public var imatrixRequiredBy: MixDecision? {
        options.hasImatrix ? nil : decisions.first { $0.allowsQuantization && $0.requiresImatrix }
    }

    /// The error llama-quantize would stop with, checking tensors in processing order as its
    /// main loop does: first the imatrix requirement (above), then per converted tensor
    /// "Missing importance matrix for tensor X in a very low-bit quantization" (an imatrix is
    /// given but has no entry for a tensor that needs one), then "requantizing from type X is
    /// disabled" (an already-quantized tensor without `--allow-requantize`).
    /// - Parameter imatrixHasEntry: whether the imatrix has an entry for a tensor name.
    public func firstError(imatrixHasEntry: (String) -> Bool = { _ in false }) -> QuantKitError? {
        if let d = imatrixRequiredBy {
            return QuantKitError("this quantization requires an importance matrix: tensor \(d.name) gets type \(d.targetType.name)")
        }
        for d in decisions where d.converts {
            if options.hasImatrix && d.requiresImatrix && !imatrixHasEntry(d.name) {
                return QuantKitError("Missing importance matrix for tensor \(d.name) in a very low-bit quantization")
            }
            if d.currentType.isQuantized && !options.allowRequantize {
                return QuantKitError("requantizing from type \(d.currentType.name) is disabled")
            }
        }
        return nil
    }
}

/// llama.cpp's per-tensor type selection (`llama_tensor_get_type` and its mix rules).
public enum MixPlanner {
    /// Chooses the type of every tensor.
    ///
    /// Steps, as in llama-quantize: tensors are put in llama.cpp's order; a first pass counts
    /// the attn_v-like tensors and looks for output.weight (tied embeddings when absent); then
    /// for each tensor: not quantizable → kept; `--token-embedding-type` / `--output-tensor-type`
    /// → that type as is; else, when the default type is quantized: the first matching
    /// `--tensor-type` pattern, or (unless `--pure`) the mix rules of ``MixRules``, and finally the
    /// block-size fallback. Non-quantized defaults (F32/F16/BF16) are used as they are.
    /// - Throws: for an unusable file type (NVFP4), a bad `--tensor-type` pattern, an FFN tensor
    ///   of an MoE model whose name has no valid `blk.N.`, or a row length no fallback fits.
    public static func plan(model: MixModel, tensors: [MixTensor], fileType: FileType,
                            options: MixOptions = MixOptions()) throws -> MixPlan {
        guard let defaultType = fileType.defaultType else {
            throw QuantKitError("invalid output file type \(fileType.rawValue) (\(fileType.name))")
        }
        let order = options.keepOrder ? Array(tensors.indices) : TensorOrder.sortedIndices(tensors.map(\.name))
        var patterns: [(Regex<AnyRegexOutput>, GGMLType)] = []
        for o in options.tensorTypes {
            do { patterns.append((try Regex(o.pattern), o.type)) } catch {
                throw QuantKitError("invalid --tensor-type pattern '\(o.pattern)': \(error)")
            }
        }
        let categories = tensors.map { TensorCategory(tensorName: $0.name) }
        var state = Counters()
        state.attnVCount = categories.count { $0.isAttentionVLike }
        let tied = !categories.contains(.output)

        var decisions: [MixDecision] = []
        decisions.reserveCapacity(tensors.count)
        for i in order {
            let t = tensors[i]
            let category = categories[i]
            let exclusion = TensorQuantizability.exclusionReason(
                name: t.name, shape: t.shape, architecture: model.architecture,
                quantizeOutput: options.quantizeOutputTensor, onlyCopy: options.onlyCopy)
            let allows = exclusion == nil
            var target = t.type
            var reason = "kept: " + (exclusion ?? "")
            var fallbackFrom: GGMLType?
            if allows {
                if let tt = options.tokenEmbeddingType, category == .tokenEmbedding,
                   !(t.name == "per_layer_token_embd.weight" && patterns.contains { t.name.contains($0.0) }) {
                    (target, reason) = (tt, "--token-embedding-type")
                } else if let ot = options.outputTensorType, category == .output {
                    (target, reason) = (ot, "--output-tensor-type")
                } else if !defaultType.isQuantized {
                    (target, reason) = (defaultType, "default")
                } else {
                    if let k = patterns.firstIndex(where: { t.name.contains($0.0) }) {
                        (target, reason) = (patterns[k].1, "--tensor-type \(options.tensorTypes[k].pattern)")
                    } else if options.pure {
                        (target, reason) = (defaultType, "--pure")
                    } else {
                        (target, reason) = try choose(t, category, model: model, fileType: fileType, defaultType: defaultType,
                                                      options: options, tied: tied, state: &state)
                    }
                    let fitted = try MixRules.fitting(target, rowLength: t.shape.first ?? 1)
                    if fitted != target {
                        fallbackFrom = target
                        reason += "; row \(t.shape.first ?? 1) not a multiple of \(target.blockSize) → \(fitted.name)"
                        target = fitted
                    }
                }
            }
            decisions.append(MixDecision(
                index: i, name: t.name, shape: t.shape, category: category, currentType: t.type, targetType: target,
                allowsQuantization: allows,
                requiresImatrix: requiresImatrix(name: t.name, type: target, fileType: fileType),
                fallbackFrom: fallbackFrom, reason: reason))
        }
        return MixPlan(fileType: fileType, defaultType: defaultType, decisions: decisions, tiedEmbeddings: tied, options: options)
    }

    /// llama.cpp's `tensor_requires_imatrix`.
    public static func requiresImatrix(name: String, type: GGMLType, fileType: FileType) -> Bool {
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" || name == "output.weight" { return false }
        switch type {
        case .iq3_xxs, .iq2_xxs, .iq2_xs, .iq2_s, .iq1_m, .iq1_s: return true
        case .q2_K: return fileType == .q2_K_S
        default: return false
        }
    }

    /// llama.cpp's running counters (`quantize_state_impl`).
    struct Counters {
        var attnVCount = 0
        var attnV = 0, ffnDown = 0, ffnGate = 0, ffnUp = 0

        func value(_ c: MixCounter) -> Int {
            switch c {
            case .attnV: attnV
            case .ffnDown: ffnDown
            case .ffnGate: ffnGate
            case .ffnUp: ffnUp
            }
        }
        mutating func advance(_ c: MixCounter) {
            switch c {
            case .attnV: attnV += 1
            case .ffnDown: ffnDown += 1
            case .ffnGate: ffnGate += 1
            case .ffnUp: ffnUp += 1
            }
        }
    }

    /// The mix rules for one tensor (`llama_tensor_get_type_impl`).
    static func choose(_ t: MixTensor, _ category: TensorCategory, model: MixModel, fileType: FileType,
                       defaultType: GGMLType, options: MixOptions, tied: Bool,
                       state: inout Counters) throws -> (GGMLType, String) {
        func context(layer: Int) -> MixContext {
            MixContext(name: t.name, shape: t.shape, category: category, fileType: fileType, current: defaultType,
                       model: model, hasImatrix: options.hasImatrix, tiedEmbeddings: tied,
                       outputTensorType: options.outputTensorType, attnVIndex: state.attnV,
                       attnVCount: state.attnVCount, layer: layer, layerCount: model.layerCount)
        }
        let probe = context(layer: 0)
        guard let stage = MixRules.stages.first(where: { $0.applies(probe) }) else {
            return (defaultType, "default")
        }
        let counter = stage.counter(category)
        var layer = counter.map { state.value($0) } ?? 0
        if stage.layerFromName && max(1, model.expertCount) > 1 {
            guard let l = TensorOrder.layerIndex(t.name) else {
                throw QuantKitError("Failed to determine layer for tensor \(t.name)")
            }
            guard l >= 0 && l < model.layerCount else {
                throw QuantKitError("Bad layer \(l) for tensor \(t.name). Must be in [0, \(model.layerCount))")
            }
            layer = l
        }
        let c = context(layer: layer)
        var type = defaultType
        var why = "\(stage.name): default"
        if let pick = stage.picks(c).first(where: { $0.when.test(c) }) {
            type = pick.type
            why = "\(stage.name): \(pick.when.text.isEmpty ? fileType.name : fileType.name + " " + pick.when.text) → \(type.name)"
        }
        for (cond, change) in stage.adjustments(c) where cond.test(c) {
            if let n = change(type) {
                type = n
                why += "; \(cond.text) → \(n.name)"
            }
        }
        if let counter { state.advance(counter) }
        return (type, why)
    }
}

extension MixPlanner {
    /// Plans a GGUF file: the model description from its metadata (``MixModel/init(gguf:)-(GGUFFile)``)
    /// and its tensors (in llama.cpp's name order, or in file order with `options.keepOrder`).
    /// With `options.keepOrder`, tensors are taken by data offset, as llama.cpp does.
    public static func plan(gguf: GGUFFile, fileType: FileType, options: MixOptions = MixOptions()) throws -> MixPlan {
        var order = Array(gguf.tensors.indices)
        if options.keepOrder { order.sort { gguf.tensors[$0].offset < gguf.tensors[$1].offset } }
        let tensors = order.map { i in MixTensor(name: gguf.tensors[i].name, shape: gguf.tensors[i].shape, type: gguf.tensors[i].type) }
        return try plan(model: MixModel(gguf: gguf), tensors: tensors, fileType: fileType, options: options).reindexed { order[$0] }
    }

    /// Plans a possibly split model. With `options.keepOrder` (llama-quantize's `--keep-split`)
    /// tensors are taken shard by shard, by data offset within a shard, as llama.cpp does;
    /// ``MixDecision/index`` refers to `gguf.tensors`.
    public static func plan(gguf: GGUFModel, fileType: FileType, options: MixOptions = MixOptions()) throws -> MixPlan {
        var order = Array(gguf.tensors.indices)
        if options.keepOrder {
            order.sort { (gguf.tensorShards[$0], gguf.tensors[$0].offset) < (gguf.tensorShards[$1], gguf.tensors[$1].offset) }
        }
        let tensors = order.map { i in MixTensor(name: gguf.tensors[i].name, shape: gguf.tensors[i].shape, type: gguf.tensors[i].type) }
        let plan = try plan(model: MixModel(gguf: gguf), tensors: tensors, fileType: fileType, options: options)
        return plan.reindexed { order[$0] }
    }
}

extension MixPlan {
    /// The same plan with ``MixDecision/index`` mapped through `f`.
    func reindexed(_ f: (Int) -> Int) -> MixPlan {
        MixPlan(fileType: fileType, defaultType: defaultType,
                decisions: decisions.map { $0.reindexed(f($0.index)) }, tiedEmbeddings: tiedEmbeddings, options: options)
    }
}

extension MixDecision {
    func reindexed(_ i: Int) -> MixDecision {
        MixDecision(index: i, name: name, shape: shape, category: category, currentType: currentType, targetType: targetType,
                    allowsQuantization: allowsQuantization, requiresImatrix: requiresImatrix,
                    fallbackFrom: fallbackFrom, reason: reason)
    }
}
