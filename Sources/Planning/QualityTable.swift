import Quantization

/// Measured quality loss of quantized models: never estimated, always with its source.
///
/// Two sources:
/// - llama.cpp's published Llama-3-8B scoreboard (`tools/perplexity/README.md`, revision
///   f364eb6f, CUDA, Wikitext-2): mean KL divergence and ΔPPL against FP16, per file type, without
///   an importance matrix where that row exists, otherwise with llama.cpp's "WT 10m" imatrix. This
///   table covers almost every file type, so it decides the quality *order* of types.
/// - QuantKit's own measurements of the three test models (llama-perplexity --kl-divergence against
///   the F32 model, 4 chunks × 512 tokens of models/text/eng/history.txt; recorded by
///   scripts/reference/make-plan-fixtures.sh). Caveat: the F32 references are dequantized from the
///   published quantized releases (SmolLM2 Q4_1, Gemma-3 and Qwen2.5 Q4_K_M), so a type whose
///   grid contains the release's (Q4_K_M, and Q4_1-like grids) lands almost on it and scores
///   better than it would from the original weights: here Q4_K_M beats Q5_K_M on all three.
///   These rows are shown per model; they never rank types.
public enum QualityTable {
    /// One measurement.
    public struct Entry: Sendable, Equatable {
        public let model: String
        public let fileType: FileType
        /// Whether the quantization used an importance matrix.
        public let imatrix: Bool
        /// Mean KL divergence of the token distributions against the reference model.
        public let meanKLD: Double
        /// PPL(Q) − PPL(base) (published table) or nil.
        public let deltaPPL: Double?
        /// PPL(Q) / PPL(base) or nil.
        public let pplRatio: Double?
        /// How often both models rank the same token first, in percent (nil when not published).
        public let sameTopPercent: Double?
        public let source: String
    }

    public static let llamaCppSource = "llama.cpp tools/perplexity/README.md, LLaMA 3 8b scoreboard (rev f364eb6f, Wikitext-2, KLD vs FP16)"
    public static let quantKitSource = "QuantKit measurement: llama-perplexity --kl-divergence vs the F32 model, 4×512 tokens (scripts/reference/make-plan-fixtures.sh)"

    /// llama.cpp's Llama-3-8B rows: (file type, imatrix, KLD, ΔPPL).
    static let published: [(FileType, Bool, Double, Double)] = [
        (.f16, false, 0.000551, 0.001524), (.q8_0, false, 0.001355, 0.002650), (.q6_K, false, 0.005452, 0.021748),
        (.q5_K_M, false, 0.010762, 0.056974), (.q5_K_S, false, 0.016595, 0.104964), (.q5_1, false, 0.018045, 0.106223),
        (.q5_0, false, 0.022239, 0.131591), (.q4_K_M, false, 0.031273, 0.175482), (.iq4_NL, true, 0.035742, 0.223959),
        (.iq4_XS, true, 0.036334, 0.228071), (.q4_K_S, false, 0.043136, 0.268895), (.q4_1, false, 0.071683, 0.451103),
        (.q4_0, false, 0.071940, 0.468514), (.q3_K_L, false, 0.087176, 0.556242), (.q3_K_M, false, 0.101913, 0.656864),
        (.iq3_M, true, 0.102534, 0.666694), (.iq3_S, true, 0.111278, 0.733867), (.iq3_XS, true, 0.138693, 0.931409),
        (.iq3_XXS, true, 0.183625, 1.226803), (.q3_K_S, false, 0.228217, 1.632152), (.iq2_M, true, 0.325989, 2.369166),
        (.q2_K_S, true, 0.403360, 3.092145), (.iq2_S, true, 0.439197, 3.419148), (.q2_K, false, 0.445132, 3.519934),
        (.iq2_XS, true, 0.546290, 4.529791), (.iq2_XXS, true, 0.812022, 7.860148), (.iq1_M, true, 1.393084, 19.262089),
        (.iq1_S, true, 2.211278, 51.866126),
    ]

    /// QuantKit's rows: (model, file type, KLD, PPL ratio, same top %), from
    /// Tests/PlanningTests/Fixtures/llama-cpp-plan-reference.json ("quality").
    static let measured: [(String, FileType, Double, Double, Double)] = [
        ("SmolLM2-135M", .q8_0, 0.004206, 1.005127, 96.569), ("SmolLM2-135M", .q6_K, 0.010267, 1.015211, 94.314),
        ("SmolLM2-135M", .q5_K_M, 0.078641, 1.095820, 84.314), ("SmolLM2-135M", .q4_K_M, 0.058117, 1.053923, 86.667),
        ("SmolLM2-135M", .q4_0, 0.302753, 1.234807, 68.235), ("SmolLM2-135M", .q3_K_M, 0.139114, 1.132638, 79.118),
        ("SmolLM2-135M", .q2_K, 0.443128, 1.431787, 65.098),
        ("Gemma-3-270M", .q8_0, 0.002811, 1.007061, 96.765), ("Gemma-3-270M", .q6_K, 0.008431, 1.014185, 94.216),
        ("Gemma-3-270M", .q5_K_M, 0.036301, 1.046305, 87.059), ("Gemma-3-270M", .q4_K_M, 0.006221, 1.004740, 95.686),
        ("Gemma-3-270M", .q4_0, 0.425717, 1.635065, 66.667), ("Gemma-3-270M", .q3_K_M, 0.236328, 1.333744, 71.667),
        ("Gemma-3-270M", .q2_K, 0.609051, 1.965933, 60.000),
        ("Qwen2.5-Coder-0.5B", .q8_0, 0.000911, 1.000329, 98.137), ("Qwen2.5-Coder-0.5B", .q6_K, 0.001655, 1.002685, 98.039),
        ("Qwen2.5-Coder-0.5B", .q5_K_M, 0.011158, 0.999116, 94.412), ("Qwen2.5-Coder-0.5B", .q4_K_M, 0.004887, 1.006935, 95.392),
        ("Qwen2.5-Coder-0.5B", .q4_0, 0.116518, 1.134193, 80.392), ("Qwen2.5-Coder-0.5B", .q3_K_M, 0.071266, 1.085180, 85.196),
        ("Qwen2.5-Coder-0.5B", .q2_K, 0.132395, 1.136127, 79.902),
    ]

    /// Every entry, published ones first.
    public static let entries: [Entry] =
        published.map { Entry(model: "Llama-3-8B", fileType: $0.0, imatrix: $0.1, meanKLD: $0.2, deltaPPL: $0.3,
                               pplRatio: nil, sameTopPercent: nil, source: llamaCppSource) }
        + measured.map { Entry(model: $0.0, fileType: $0.1, imatrix: false, meanKLD: $0.2, deltaPPL: nil,
                               pplRatio: $0.3, sameTopPercent: $0.4, source: quantKitSource) }

    /// The Llama-3-8B measurement of a file type, when llama.cpp published one.
    public static func reference(_ t: FileType) -> Entry? {
        entries.first { $0.model == "Llama-3-8B" && $0.fileType == t }
    }

    /// QuantKit's measurement of `t` on the test model whose name matches `modelName` (by the
    /// architecture-and-size key in ``modelKeys``), when there is one.
    public static func measured(_ t: FileType, model shape: ModelShape) -> Entry? {
        guard let key = modelKeys.first(where: { $0.0 == shape.architecture && $0.1 == shape.parameterCount })?.2 else { return nil }
        return entries.first { $0.model == key && $0.fileType == t }
    }

    /// (architecture, parameter count, name) of the measured test models.
    static let modelKeys: [(String, Int, String)] = [
        ("llama", 134_515_008, "SmolLM2-135M"), ("gemma3", 268_098_176, "Gemma-3-270M"),
        ("qwen2", 630_167_424, "Qwen2.5-Coder-0.5B"),
    ]

    /// A published Wikitext-2 perplexity of a whole model at one file type. Llama-2 7B/13B/70B
    /// share a tokenizer, so their perplexities on the same text compare across sizes: this is
    /// what answers "smaller model at high bits or larger model at low bits?".
    public struct Perplexity: Sendable, Equatable {
        public let model: String
        public let fileType: FileType
        public let ppl: Double
        public let source: String
        /// The measured file was made with an older mix than llama.cpp's current one (its
        /// published size does not match: see ``StandardModels/PublishedSize/staleBecause``).
        public var staleMix = false
    }

    public static let perplexities: [Perplexity] = {
        let l2 = "llama.cpp tools/perplexity/README.md, LLaMA 2 vs. LLaMA 3 comparison (rev f364eb6f, Wikitext-2)"
        let l70 = "llama.cpp tools/perplexity/README.md, Old Numbers: Llama 2 70B Scoreboard (Wikitext-2)"
        let l3 = "llama.cpp tools/perplexity/README.md, LLaMA 3 8b scoreboard (rev f364eb6f, Wikitext-2)"
        var r: [Perplexity] = [
            .init(model: "Llama-2-7B", fileType: .q4_K_M, ppl: 5.877078, source: l2),
            .init(model: "Llama-2-7B", fileType: .q6_K, ppl: 5.808494, source: l2),
            .init(model: "Llama-2-7B", fileType: .q8_0, ppl: 5.798542, source: l2),
        ]
        let l70rows: [(FileType, Double)] = [
            (.q4_0, 3.5550), (.q4_1, 3.5125), (.q5_0, 3.4744), (.q2_K, 3.7339), (.q3_K_S, 3.7019), (.q3_K_M, 3.5932),
            (.q3_K_L, 3.5617), (.q4_K_S, 3.4852), (.q4_K_M, 3.4725), (.q5_K_S, 3.4483), (.q5_K_M, 3.4451),
            (.q6_K, 3.4367), (.f16, 3.4313),
        ]
        r += l70rows.map { .init(model: "Llama-2-70B", fileType: $0.0, ppl: $0.1, source: l70, staleMix: $0.0 == .q2_K) }
        let l3rows: [(FileType, Double)] = [
            (.f16, 6.233160), (.q8_0, 6.234284), (.q6_K, 6.253382), (.q5_K_M, 6.288607), (.q5_K_S, 6.336598),
            (.q5_1, 6.337857), (.q5_0, 6.363224), (.q4_K_M, 6.407115), (.q4_K_S, 6.500529), (.q4_1, 6.682737),
            (.q4_0, 6.700147), (.q3_K_L, 6.787876), (.q3_K_M, 6.888498), (.q3_K_S, 7.863786), (.q2_K, 9.751568),
        ]
        r += l3rows.map { .init(model: "Llama-3-8B", fileType: $0.0, ppl: $0.1, source: l3) }
        return r
    }()

    /// The published perplexity of a named model at a file type, if any (none for files made
    /// with an older mix).
    public static func perplexity(model: String, _ t: FileType) -> Perplexity? {
        perplexities.first { $0.model == model && $0.fileType == t && !$0.staleMix }
    }

    /// File types in order of measured quality, best first (by llama.cpp's Llama-3-8B KLD);
    /// types without a published measurement are left out.
    public static var qualityOrder: [FileType] {
        published.sorted { $0.2 < $1.2 }.map(\.0)
    }
}
