import Quantization

/// The standard Llama shapes quantization guides quote sizes for ("Q4_K_M of a 7B is ~4.4 GB"),
/// and llama.cpp's published sizes for them, so such statements can be checked.
public enum StandardModels {
    /// One model shape, as its Hugging Face config describes it.
    public struct Model: Sendable {
        public let name: String
        /// Short names that select it ("7b", "llama-2-7b").
        public let aliases: [String]
        let embd, layers, heads, kvHeads, ff, vocab, context: Int
        let ropeFreqs: Bool

        /// The tensors llama.cpp's converter writes for this model.
        public func shape() -> ModelShape {
            var cfg: [String: Any] = ["model_type": "llama", "hidden_size": embd, "num_hidden_layers": layers,
                                      "num_attention_heads": heads, "num_key_value_heads": kvHeads,
                                      "intermediate_size": ff, "vocab_size": vocab, "max_position_embeddings": context]
            if ropeFreqs { cfg["rope_scaling"] = ["rope_type": "llama3"] }
            var s = try! HFConfig(json: cfg, path: name).shape()
            s.name = name
            return s
        }
    }

    /// Llama 2 and Llama 3/3.1 base shapes (Meta's published configs).
    public static let models: [Model] = [
        Model(name: "Llama-2-7B", aliases: ["7b", "llama-2-7b", "llama2-7b"], embd: 4096, layers: 32, heads: 32, kvHeads: 32,
              ff: 11008, vocab: 32000, context: 4096, ropeFreqs: false),
        Model(name: "Llama-2-13B", aliases: ["13b", "llama-2-13b", "llama2-13b"], embd: 5120, layers: 40, heads: 40, kvHeads: 40,
              ff: 13824, vocab: 32000, context: 4096, ropeFreqs: false),
        Model(name: "Llama-2-70B", aliases: ["llama-2-70b", "llama2-70b"], embd: 8192, layers: 80, heads: 64, kvHeads: 8,
              ff: 28672, vocab: 32000, context: 4096, ropeFreqs: false),
        Model(name: "Llama-3-8B", aliases: ["llama-3-8b", "llama3-8b"], embd: 4096, layers: 32, heads: 32, kvHeads: 8,
              ff: 14336, vocab: 128256, context: 8192, ropeFreqs: false),
        Model(name: "Llama-3-70B", aliases: ["llama-3-70b", "llama3-70b"], embd: 8192, layers: 80, heads: 64, kvHeads: 8,
              ff: 28672, vocab: 128256, context: 8192, ropeFreqs: false),
        Model(name: "Llama-3.1-8B", aliases: ["8b", "llama-3.1-8b", "llama3.1-8b"], embd: 4096, layers: 32, heads: 32, kvHeads: 8,
              ff: 14336, vocab: 128256, context: 131072, ropeFreqs: true),
        Model(name: "Llama-3.1-70B", aliases: ["70b", "llama-3.1-70b", "llama3.1-70b"], embd: 8192, layers: 80, heads: 64, kvHeads: 8,
              ff: 28672, vocab: 128256, context: 131072, ropeFreqs: true),
        Model(name: "Llama-3.1-405B", aliases: ["405b", "llama-3.1-405b", "llama3.1-405b"], embd: 16384, layers: 126, heads: 128,
              kvHeads: 8, ff: 53248, vocab: 128256, context: 131072, ropeFreqs: true),
    ]

    /// The model named `name` (a model name or alias, case-insensitive), or nil.
    public static func named(_ name: String) -> Model? {
        let n = name.lowercased()
        return models.first { $0.name.lowercased() == n || $0.aliases.contains(n) }
    }

    /// A size llama.cpp published for a standard model.
    public struct PublishedSize: Sendable {
        public let model: String
        public let fileType: FileType
        public enum Value: Sendable { case gib(Double), gb(Double), bitsPerWeight(Double) }
        /// The figure as published (its unit and its rounding).
        public let value: Value
        public let source: String
        /// Why the figure does not describe llama.cpp's current output, when it does not.
        public let staleBecause: String?

        /// The published number and its unit ("GiB", "GB", "bpw").
        public var number: Double { switch value { case .gib(let x), .gb(let x), .bitsPerWeight(let x): x } }
        public var unit: String { switch value { case .gib: "GiB"; case .gb: "GB"; case .bitsPerWeight: "bpw" } }
    }

    static let perplexityReadme = "llama.cpp tools/perplexity/README.md"
    static let quantizeReadme = "llama.cpp tools/quantize/README.md"
    static let oldQuantizeReadme = "llama.cpp examples/quantize/README.md (rev 02240912)"
    static let oldMainReadme = "llama.cpp README.md quantization table (2023, LLaMA-1 7B/13B: same shapes as Llama-2)"

    /// Published figures known not to match llama.cpp's current mix, and why.
    static let stale: [String: String] = {
        let q2k = "published before llama.cpp made Q2_K a true 2-bit mix in January 2024 (PR #5060: Llama-2-70B Q2_K "
            + "went from 27.11 to 23.71 GiB); the figures published since match"
        return [
            "Llama-2-7B Q2_K": q2k, "Llama-2-13B Q2_K": q2k, "Llama-2-70B Q2_K": q2k,
            "Llama-3-8B Q2_K_S": "the scoreboard repeats Q2_K's 2.96 GiB; tools/quantize/README.md gives Q2_K_S 2.78 GiB",
            "Llama-3.1-70B Q4_K_M": "a rounded example: the same table's F32 size (280.9 GB) is 1.3 GB off the 70.55 B parameters too",
            "Llama-3.1-405B Q4_K_M": "a rounded example: the same table's F32 size (1,625.1 GB) is off the 405.85 B parameters too",
        ]
    }()

    /// llama.cpp's published sizes for the standard shapes.
    public static let published: [PublishedSize] = {
        var r: [PublishedSize] = []
        func add(_ m: String, _ src: String, _ rows: [(FileType, PublishedSize.Value)]) {
            r += rows.map {
                PublishedSize(model: m, fileType: $0.0, value: $0.1, source: src,
                              staleBecause: src.contains("PR #5060") ? nil : stale[m + " " + $0.0.name])
            }
        }
        // Llama-3-8B scoreboard, "Model size [GiB]".
        add("Llama-3-8B", perplexityReadme + ", LLaMA 3 8b scoreboard", [
            (.f16, .gib(14.97)), (.q8_0, .gib(7.96)), (.q6_K, .gib(6.14)), (.q5_K_M, .gib(5.33)), (.q5_K_S, .gib(5.21)),
            (.q5_1, .gib(5.65)), (.q5_0, .gib(5.21)), (.q4_K_M, .gib(4.58)), (.q4_K_S, .gib(4.37)), (.iq4_NL, .gib(4.35)),
            (.iq4_XS, .gib(4.14)), (.q4_1, .gib(4.78)), (.q4_0, .gib(4.34)), (.q3_K_L, .gib(4.03)), (.q3_K_M, .gib(3.74)),
            (.iq3_M, .gib(3.53)), (.iq3_S, .gib(3.42)), (.iq3_XS, .gib(3.28)), (.iq3_XXS, .gib(3.05)), (.q3_K_S, .gib(3.41)),
            (.iq2_M, .gib(2.74)), (.q2_K, .gib(2.96)), (.q2_K_S, .gib(2.96)), (.iq2_S, .gib(2.56)), (.iq2_XS, .gib(2.43)),
            (.iq2_XXS, .gib(2.24)), (.iq1_M, .gib(2.01)), (.iq1_S, .gib(1.88)),
        ])
        // Llama-3.1-8B, "size (GiB)".
        add("Llama-3.1-8B", quantizeReadme + ", meta-llama/Llama-3.1-8B table", [
            (.iq1_S, .gib(1.87)), (.iq1_M, .gib(2.01)), (.iq2_XXS, .gib(2.23)), (.iq2_XS, .gib(2.42)), (.iq2_S, .gib(2.56)),
            (.iq2_M, .gib(2.74)), (.iq3_XXS, .gib(3.04)), (.iq3_XS, .gib(3.27)), (.iq3_S, .gib(3.42)), (.iq3_M, .gib(3.52)),
            (.iq4_XS, .gib(4.17)), (.iq4_NL, .gib(4.38)), (.q2_K_S, .gib(2.78)), (.q2_K, .gib(2.95)), (.q3_K_S, .gib(3.41)),
            (.q3_K_M, .gib(3.74)), (.q3_K_L, .gib(4.02)), (.q4_K_S, .gib(4.36)), (.q4_K_M, .gib(4.58)), (.q5_K_S, .gib(5.21)),
            (.q5_K_M, .gib(5.33)), (.q6_K, .gib(6.14)), (.q8_0, .gib(7.95)), (.f16, .gib(14.96)),
        ])
        // Llama 3.1 Q4_K_M, "Quantized size" in GB (1 decimal).
        add("Llama-3.1-8B", quantizeReadme + ", Memory/Disk Requirements (1 decimal)", [(.q4_K_M, .gb(4.9))])
        add("Llama-3.1-70B", quantizeReadme + ", Memory/Disk Requirements (1 decimal)", [(.q4_K_M, .gb(43.1))])
        add("Llama-3.1-405B", quantizeReadme + ", Memory/Disk Requirements (1 decimal)", [(.q4_K_M, .gb(249.1))])
        // Llama 2 bits per weight.
        let k: [FileType] = [.q2_K, .q3_K_S, .q3_K_M, .q3_K_L, .q4_K_S, .q4_K_M, .q5_K_S, .q5_K_M, .q6_K]
        add("Llama-2-7B", oldQuantizeReadme + ", Llama 2 7B BPW",
            zip(k, [3.35, 3.50, 3.91, 4.27, 4.58, 4.84, 5.52, 5.68, 6.56]).map { ($0, .bitsPerWeight($1)) })
        add("Llama-2-13B", oldQuantizeReadme + ", Llama 2 13B BPW",
            zip(k, [3.34, 3.48, 3.89, 4.26, 4.56, 4.83, 5.51, 5.67, 6.56]).map { ($0, .bitsPerWeight($1)) })
        add("Llama-2-70B", oldQuantizeReadme + ", Llama 2 70B BPW",
            zip(k, [3.40, 3.47, 3.85, 4.19, 4.53, 4.80, 5.50, 5.65, 6.56]).map { ($0, .bitsPerWeight($1)) })
        add("Llama-2-7B", oldMainReadme + " (1 decimal)", [(.q8_0, .bitsPerWeight(8.5))])
        add("Llama-2-13B", oldMainReadme + " (1 decimal)", [(.q8_0, .bitsPerWeight(8.5))])
        // After January 2024's 2-bit changes, "Model size (GiB)".
        add("Llama-2-70B", "llama.cpp PR #5060 (Add Q3_K_XS, 2024-01-21), LLaMA-v2-70B table", [
            (.q2_K, .gib(23.71)), (.q3_K_S, .gib(27.86)),
        ])
        // Llama 2 70B scoreboard, "Model size (GiB)".
        add("Llama-2-70B", perplexityReadme + ", Old Numbers: Llama 2 70B Scoreboard", [
            (.q4_0, .gib(36.20)), (.q4_1, .gib(40.20)), (.q5_0, .gib(44.20)), (.q2_K, .gib(27.27)), (.q3_K_S, .gib(27.86)),
            (.q3_K_M, .gib(30.83)), (.q3_K_L, .gib(33.67)), (.q4_K_S, .gib(36.39)), (.q4_K_M, .gib(38.54)),
            (.q5_K_S, .gib(44.20)), (.q5_K_M, .gib(45.41)), (.q6_K, .gib(52.70)), (.f16, .gib(128.5)),
        ])
        return r
    }()

    /// The planned value in the unit of a published figure.
    public static func planned(_ w: WeightPlan, as value: PublishedSize.Value) -> Double {
        switch value {
        case .gib: ByteSize(bytes: w.bytes).gib
        case .gb: ByteSize(bytes: w.bytes).gb
        case .bitsPerWeight: w.bitsPerWeight
        }
    }
}
