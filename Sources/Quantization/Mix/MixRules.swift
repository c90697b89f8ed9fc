import QKCore

// llama.cpp's per-tensor type choices (`llama_tensor_get_type_impl`), written as tables.
//
// How to read them: a tensor is decided by the first *stage* (see `MixRules.stages`) that
// applies to it. A stage maps a category, and usually the file type, to a list of `Pick`s;
// the first pick whose condition holds gives the type, and when none holds the tensor keeps
// the file type's default. Some stages then apply `adjustments` (each one in turn, all that
// hold). Stages for attn_v-like tensors and the FFN tensors advance counters that later
// tensors' conditions read (`i_attention_wv`, `i_ffn_down`, …), exactly where llama.cpp does.

/// What a rule may look at when choosing a type for one tensor.
struct MixContext: Sendable {
    let name: String
    let shape: [Int]
    let category: TensorCategory
    let fileType: FileType
    /// The type chosen so far: the file type's default on entry.
    let current: GGMLType
    let model: MixModel
    let hasImatrix: Bool
    /// No `output.weight` in the model: token_embd doubles as the output and follows its rules.
    let tiedEmbeddings: Bool
    /// `--output-tensor-type`, which tied token embeddings follow too.
    let outputTensorType: GGMLType?
    /// attn_v-like tensors seen before this one (`i_attention_wv`) and in all (`n_attention_wv`).
    let attnVIndex: Int
    let attnVCount: Int
    /// The layer an FFN rule reasons about, and the layer count (block_count): see
    /// ``MixStage/layerFromName``.
    let layer: Int
    let layerCount: Int

    var rowLength: Int { shape.first ?? 1 }
    var experts: Int { model.expertCount }
    var isFalcon: Bool { model.architecture == "falcon" }
}

/// A named predicate over a ``MixContext``; the name goes into the human reason.
struct Condition: Sendable {
    let text: String
    let test: @Sendable (MixContext) -> Bool

    static let always = Condition(text: "") { _ in true }
    static func ftype(_ set: FileType...) -> Condition {
        Condition(text: set.map(\.name).joined(separator: "/")) { set.contains($0.fileType) }
    }
    /// n_gqa ≥ 4 (layer 0's heads per KV head).
    static let gqa4 = Condition(text: "n_gqa>=4") { $0.model.gqa >= 4 }
    static let experts8 = Condition(text: "n_expert==8") { $0.experts == 8 }
    static let noImatrix = Condition(text: "no imatrix") { !$0.hasImatrix }
    static let imatrix = Condition(text: "imatrix") { $0.hasImatrix }
    static let falcon = Condition(text: "falcon") { $0.isFalcon }
    static let notFalcon = Condition(text: "not falcon") { !$0.isFalcon }
    static let is70B = Condition(text: "70B") { $0.model.is70B }
    /// layer < n/8.
    static let firstEighth = Condition(text: "layer<n/8") { $0.layer < $0.layerCount / 8 }
    /// layer < n/16.
    static let firstSixteenth = Condition(text: "layer<n/16") { $0.layer < $0.layerCount / 16 }
    /// n/8 ≤ layer < 7n/8.
    static let middleLayers = Condition(text: "n/8<=layer<7n/8") {
        $0.layer >= $0.layerCount / 8 && $0.layer < 7 * $0.layerCount / 8
    }
    /// llama.cpp's `use_more_bits(layer, n)`: the first and last eighth, and every third layer between.
    static let moreBitsLayer = Condition(text: "use_more_bits") { useMoreBits($0.layer, $0.layerCount) }
    /// `use_more_bits(i_attention_wv, n_attention_wv)`.
    static let moreBitsAttnV = Condition(text: "use_more_bits(attn_v)") { useMoreBits($0.attnVIndex, $0.attnVCount) }
    static func attnVBelow(_ k: Int) -> Condition {
        Condition(text: "i_attention_wv<\(k)") { $0.attnVIndex < k }
    }
    /// The row length is not a multiple of the default type's block size.
    static let rowNotBlockMultiple = Condition(text: "row length not a multiple of the block") {
        $0.rowLength % $0.current.blockSize != 0
    }
    static let currentNotQ8_0 = Condition(text: "") { $0.current != .q8_0 }
    /// A 3-D tensor (stacked experts, ne[2] > 1).
    static let stacked3D = Condition(text: "3-D") { $0.shape.count > 2 && $0.shape[2] > 1 }

    static func && (a: Condition, b: Condition) -> Condition {
        Condition(text: [a.text, b.text].filter { !$0.isEmpty }.joined(separator: " && ")) { a.test($0) && b.test($0) }
    }
    static func || (a: Condition, b: Condition) -> Condition {
        Condition(text: "(\(a.text) || \(b.text))") { a.test($0) || b.test($0) }
    }

    static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }
}

/// "When `when` holds, use `type`".
struct Pick: Sendable {
    let when: Condition
    let type: GGMLType
    init(_ type: GGMLType, if when: Condition = .always) { self.type = type; self.when = when }
}

/// "When `when` holds, replace the type by `change(type)` (nil: leave it)".
typealias Adjustment = (when: Condition, change: @Sendable (GGMLType) -> GGMLType?)

/// Which llama.cpp counter a stage advances after deciding a tensor.
enum MixCounter { case attnV, ffnDown, ffnGate, ffnUp }

/// One step of llama.cpp's if/else chain.
struct MixStage: Sendable {
    let name: String
    /// Whether this stage decides the tensor (later stages are then skipped).
    let applies: @Sendable (MixContext) -> Bool
    /// The picks for a tensor (by category and file type); empty = keep the default.
    let picks: @Sendable (MixContext) -> [Pick]
    /// Applied in order after the picks, each one that holds replacing the type.
    var adjustments: @Sendable (MixContext) -> [Adjustment] = { _ in [] }
    /// The counter advanced for a tensor of a category (after the decision).
    var counter: @Sendable (TensorCategory) -> MixCounter? = { _ in nil }
    /// How the FFN layer is found. true: llama.cpp's `layer_info` — for MoE models
    /// (n_expert > 1) the N of `blk.N.` in the name, otherwise the category's counter (the
    /// number of ffn_down/gate/up tensors seen before). false: always the counter.
    var layerFromName = false
}

enum MixRules {
    // MARK: - output.weight (and the token embeddings when they are tied to it)

    /// Very low-bit file types whose output tensor gets Q5_K.
    static let outputQ5K: Set<FileType> = [.iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S, .iq2_S, .iq2_M, .iq1_M]

    /// output.weight without `--output-tensor-type`.
    static let output: [Pick] = [
        Pick(.q8_0, if: .ftype(.mxfp4_MOE)),
        Pick(.q8_0, if: .falcon || .rowNotBlockMultiple),
        Pick(.q5_K, if: Condition(text: "very low-bit mix") { outputQ5K.contains($0.fileType) }),
        Pick(.q6_K, if: .currentNotQ8_0),
    ]

    // MARK: - token_embd.weight (untied)

    static let tokenEmbedding: [FileType: GGMLType] = [
        .iq2_XXS: .q2_K, .iq2_XS: .q2_K, .iq1_S: .q2_K, .iq1_M: .q2_K,
        .iq2_S: .iq3_s, .iq2_M: .iq3_s, .iq3_XXS: .iq3_s,
        .tq1_0: .q4_K, .tq2_0: .q4_K, .q2_0: .q4_K,
    ]

    // MARK: - the very low-bit mixes (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M)

    static let veryLowBit: Set<FileType> = [.iq2_XXS, .iq2_XS, .iq1_S, .iq2_S, .iq2_M, .iq1_M]

    static let veryLowBitPicks: [TensorCategory: [Pick]] = [
        .attentionV: [Pick(.q4_K, if: .gqa4 || Condition(text: "n_expert>=4") { $0.experts >= 4 }),
                      Pick(.iq3_s, if: .ftype(.iq2_S, .iq2_M)),
                      Pick(.q2_K)],
        .attentionK: [Pick(.q4_K, if: .experts8)],
        // Note: the raw ffn_down counter, not the layer from the name, even for MoE models.
        .ffnDown: [Pick(.iq3_s, if: .firstEighth && .ftype(.iq2_S, .iq2_M)),
                   Pick(.q2_K, if: .firstEighth)],
        .attentionOutput: [Pick(.q5_K, if: .experts8),
                           Pick(.iq2_xxs, if: .ftype(.iq1_S, .iq1_M)),
                           Pick(.iq3_s, if: .ftype(.iq2_S, .iq2_M))],
    ]

    // MARK: - attn_v, attn_qkv, attn_kv_b

    static let attentionV: [FileType: [Pick]] = [
        .q2_K: [Pick(.q4_K, if: .gqa4), Pick(.q3_K)],
        .q2_K_S: [Pick(.q4_K, if: .gqa4)],
        .iq3_XXS: [Pick(.q4_K, if: .gqa4), Pick(.iq3_s, if: .noImatrix), Pick(.iq3_xxs)],
        .iq3_XS: [Pick(.q4_K, if: .gqa4)],
        .iq3_S: [Pick(.q4_K, if: .gqa4)],
        .iq3_M: [Pick(.q4_K)],
        .q3_K_M: [Pick(.q5_K, if: .attnVBelow(2)), Pick(.q4_K)],
        .q3_K_L: [Pick(.q5_K)],
        .iq4_NL: [Pick(.q5_K, if: .gqa4)],
        .iq4_XS: [Pick(.q5_K, if: .gqa4)],
        .q4_K_M: [Pick(.q6_K, if: .moreBitsAttnV)],
        .q5_K_M: [Pick(.q6_K, if: .moreBitsAttnV)],
        .q4_K_S: [Pick(.q5_K, if: .attnVBelow(4))],
    ]

    /// After the table: 70B models (8 heads share each attn_v) get Q5_K instead of Q3_K/Q4_K;
    /// 8-expert models get Q8_0 whatever was chosen.
    static let attentionVAdjustments: [Adjustment] = [
        (.is70B, { $0 == .q3_K || $0 == .q4_K ? .q5_K : nil }),
        (.experts8, { _ in .q8_0 }),
    ]

    // MARK: - attn_k, attn_q

    static let attentionK: [FileType: [Pick]] = [
        .iq3_XS: [Pick(.iq3_xxs)],
        .iq3_XXS: [Pick(.iq2_s)],
    ]
    static let attentionQ: [FileType: [Pick]] = attentionK

    // MARK: - ffn_down (layer = position among ffn_down tensors, or from the name for MoE)

    static let ffnDown: [FileType: [Pick]] = [
        .q2_K: [Pick(.q3_K)],
        .q2_K_S: [Pick(.q4_K, if: .firstEighth)],
        .iq3_XXS: [Pick(.q4_K, if: .noImatrix && .firstEighth), Pick(.q3_K, if: .noImatrix)],
        .q3_K_M: [Pick(.q5_K, if: .firstSixteenth), Pick(.q4_K, if: .notFalcon || .moreBitsLayer), Pick(.q3_K)],
        .iq3_M: [Pick(.q4_K, if: .firstEighth || (.experts8 && .moreBitsLayer))],
        .q3_K_L: [Pick(.q4_K, if: .falcon), Pick(.q5_K)],
        .q4_K_M: [Pick(.q6_K, if: .falcon && .firstSixteenth), Pick(.q5_K, if: .falcon && .moreBitsLayer),
                  Pick(.q4_K, if: .falcon), Pick(.q6_K, if: .moreBitsLayer)],
        .iq4_NL: [Pick(.q5_K, if: .firstEighth && .noImatrix)],
        .iq4_XS: [Pick(.q5_K, if: .firstEighth && .noImatrix)],
        .q5_K_M: [Pick(.q6_K, if: .moreBitsLayer)],
        .q4_K_S: [Pick(.q5_K, if: .notFalcon && .firstEighth)],
        // With an imatrix only, so that quantizing without one reproduces older files.
        .q4_0: [Pick(.q4_1, if: .imatrix && .firstEighth)],
        .q5_0: [Pick(.q5_1, if: .imatrix && .firstEighth)],
    ]

    // MARK: - attn_output

    static let attentionOutput: [FileType: [Pick]] = {
        // 8-expert models (not falcon) get Q5_K for these mixes.
        let moeQ5K: [FileType] = [.q2_K, .iq3_XS, .iq3_XXS, .q3_K_S, .q3_K_M, .iq4_NL, .q4_K_S, .q4_K_M, .iq3_S, .iq3_M, .iq4_XS]
        var t: [FileType: [Pick]] = [:]
        for f in moeQ5K { t[f] = [Pick(.q5_K, if: .notFalcon && .experts8)] }
        t[.q2_K]! += [Pick(.q3_K, if: .notFalcon)]
        t[.iq3_XXS]! += [Pick(.iq3_s, if: .notFalcon)]
        t[.q3_K_M]! += [Pick(.q4_K, if: .notFalcon)]
        t[.iq3_M]! += [Pick(.q4_K, if: .notFalcon)]
        t[.q3_K_L] = [Pick(.q4_K, if: .falcon), Pick(.q5_K, if: Condition(text: "n_expert!=8") { $0.experts != 8 })]
        return t
    }()

    // MARK: - ffn_gate, ffn_up

    static let ffnGateUp: [FileType: [Pick]] = [
        .iq3_XS: [Pick(.iq3_xxs, if: .middleLayers)],
    ]

    // MARK: - the chain

    static let glm5NextQ8Names = ["attn_q_a", "attn_q_b", "nextn.eh_proj"]

    /// llama.cpp's if/else chain, in order.
    ///
    /// Not listed: llama.cpp's own branch for `attn_qkv` (Q4_K/Q5_K/Q6_K for Q3_K_*/Q4_K_M/Q5_K_M)
    /// is unreachable there, because attn_qkv is attn_v-like and taken by the attn_v stage first.
    static let stages: [MixStage] = [
        MixStage(name: "glm5-next attn_q_a/attn_q_b/nextn.eh_proj kept at Q8_0",
                 applies: { c in c.model.architecture == "glm5-next" && glm5NextQ8Names.contains { c.name.containsBytes($0) }
                     && ![.f32, .bf16, .f16].contains(c.current) },
                 picks: { _ in [Pick(.q8_0)] }),
        MixStage(name: "output",
                 applies: { $0.category == .output || ($0.tiedEmbeddings && $0.category == .tokenEmbedding) },
                 picks: { c in c.outputTensorType.map { [Pick($0, if: Condition(text: "--output-tensor-type") { _ in true })] } ?? output }),
        MixStage(name: "MXFP4_MOE",
                 applies: { $0.fileType == .mxfp4_MOE },
                 picks: { c in
                     let expertRole = c.category == .ffnUp || c.category == .ffnGate || c.category == .ffnDown
                     let bailing = c.model.architecture == "bailingmoe3"
                     return [Pick(.mxfp4, if: .stacked3D && Condition(text: bailing ? "expert FFN" : "") { _ in !bailing || expertRole }),
                             Pick(.q8_0)]
                 }),
        MixStage(name: "token_embd",
                 applies: { $0.category == .tokenEmbedding },
                 picks: { c in tokenEmbedding[c.fileType].map { [Pick($0, if: .ftype(c.fileType))] } ?? [] }),
        MixStage(name: "very low-bit mix",
                 applies: { veryLowBit.contains($0.fileType) },
                 picks: { c in veryLowBitPicks[c.category.isAttentionVLike ? .attentionV : c.category] ?? [] },
                 counter: { $0.isAttentionVLike ? .attnV : $0 == .ffnDown ? .ffnDown : nil }),
        MixStage(name: "attn_v",
                 applies: { $0.category.isAttentionVLike },
                 picks: { attentionV[$0.fileType] ?? [] },
                 adjustments: { _ in attentionVAdjustments },
                 counter: { _ in .attnV }),
        MixStage(name: "attn_k",
                 applies: { $0.category == .attentionK },
                 picks: { [Pick(.q8_0, if: .experts8)] + (attentionK[$0.fileType] ?? []) }),
        MixStage(name: "attn_q",
                 applies: { $0.category == .attentionQ },
                 picks: { attentionQ[$0.fileType] ?? [] }),
        MixStage(name: "ffn_down",
                 applies: { $0.category == .ffnDown },
                 picks: { ffnDown[$0.fileType] ?? [] },
                 counter: { _ in .ffnDown }, layerFromName: true),
        MixStage(name: "attn_output",
                 applies: { $0.category == .attentionOutput },
                 picks: { attentionOutput[$0.fileType] ?? [] }),
        MixStage(name: "ffn_gate",
                 applies: { $0.category == .ffnGate },
                 picks: { ffnGateUp[$0.fileType] ?? [] },
                 counter: { _ in .ffnGate }, layerFromName: true),
        MixStage(name: "ffn_up",
                 applies: { $0.category == .ffnUp },
                 picks: { ffnGateUp[$0.fileType] ?? [] },
                 counter: { _ in .ffnUp }, layerFromName: true),
    ]

    // MARK: - block-size fallback (`tensor_type_fallback`)

    /// The type used when a row length is not a multiple of the chosen type's block size:
    /// 256-element types fall back to a 32-element one. If that does not fit either, F16.
    static let fallback: [GGMLType: GGMLType] = [
        .iq1_s: .iq4_nl, .iq1_m: .iq4_nl, .iq2_xxs: .iq4_nl, .iq2_xs: .iq4_nl, .iq2_s: .iq4_nl,
        .iq3_xxs: .iq4_nl, .iq3_s: .iq4_nl, .iq4_xs: .iq4_nl,
        .q2_0: .q4_0, .q2_K: .q4_0, .q3_K: .q4_0, .tq1_0: .q4_0, .tq2_0: .q4_0,
        .q4_K: .q5_0, .q5_K: .q5_1, .q6_K: .q8_0,
    ]

    /// llama.cpp's `tensor_type_fallback`: the type to use for rows of `rowLength` elements.
    /// Returns the type unchanged when it fits; throws for a large-block type without a fallback
    /// (e.g. Q1_0, NVFP4), as llama.cpp does.
    static func fitting(_ type: GGMLType, rowLength: Int) throws -> GGMLType {
        guard rowLength % type.blockSize != 0 else { return type }
        var r = type
        if let f = fallback[type] {
            r = f
        } else if type.blockSize > 32 {
            throw QuantKitError("no tensor type fallback is defined for type \(type.name)")
        }
        return rowLength % r.blockSize == 0 ? r : .f16
    }
}
