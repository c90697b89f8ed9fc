import ArgumentParser
import Foundation
import Planning
import QKCore
import Quantization

/// `quant plan MODEL`: memory per file type, and the quant that fits a machine.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "How much memory a model needs at each quant (weights, KV cache, buffers), and which quant fits a machine.",
        discussion: """
            MODEL is a GGUF file, a Hugging Face checkpoint directory, a config.json (no weights needed) or a standard \
            shape (7B, 8B, 13B, 70B, 405B, Llama-2-7B, Llama-3-8B, …). Sizes accept B, KB/MB/GB/TB (10³ⁿ) and \
            KiB/MiB/GiB/TiB (2¹⁰ⁿ), e.g. --memory 8GB, --gpu 24GiB --ram 32GB.
            Examples:
              quant plan model.gguf --ctx 8192 --memory 8GB
              quant plan 70b --gpu 24GB --ram 64GB --ctx 8192 -ctk q8_0 -ctv q8_0
              quant plan --sizes 7b,8b,70b
              quant plan --compare llama-2-7b,llama-2-70b --memory 40GB
            """)

    @Argument(help: "GGUF file, checkpoint directory, config.json or standard model name.") var model: String?
    @Option(name: [.customLong("ctx"), .customShort("c")], help: "Context length in tokens (default: the model's training context).") var ctx: Int?
    @Option(name: [.customLong("ctk", withSingleDash: true), .customLong("cache-type-k")],
            help: "K cache type: f16, q8_0, q4_0, … (llama.cpp's -ctk).") var cacheTypeK = "f16"
    @Option(name: [.customLong("ctv", withSingleDash: true), .customLong("cache-type-v")],
            help: "V cache type (llama.cpp's -ctv).") var cacheTypeV = "f16"
    @Option(name: [.customLong("parallel"), .customLong("np", withSingleDash: true)], help: "Parallel sequences (llama.cpp's -np).")
    var parallel = 1
    @Option(name: [.customLong("ubatch"), .customLong("ub", withSingleDash: true)], help: "Physical batch size (llama.cpp's -ub).")
    var ubatch = 512
    @Flag(name: [.customLong("kv-unified"), .customLong("kvu", withSingleDash: true)],
          help: "One KV buffer shared by all sequences (llama.cpp's -kvu).") var kvUnified = false
    @Flag(name: .customLong("swa-full"), help: "Full-size cache for sliding-window layers (llama.cpp's --swa-full).") var swaFull = false
    @Option(name: .long, help: "Memory for everything (CPU RAM or unified memory), e.g. 8GB.") var memory: String?
    @Option(name: .long, help: "GPU memory, for partial offload, e.g. 24GB.") var gpu: String?
    @Option(name: .long, help: "System RAM next to --gpu, e.g. 32GB.") var ram: String?
    @Option(name: .long, help: "Percent of each memory kept free (default 10).") var headroom: Double = 10
    @Option(name: .long, help: "A file type to size up: largest context and GPU layers at that type.") var type: String?
    @Option(name: .long, help: "Table of standard models × file types (comma-separated names, or 'all').") var sizes: String?
    @Option(name: .long, help: "Comma-separated models to compare at their best fitting type for the budget.") var compare: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        try CLI.guarded {
            let budget = try makeBudget()
            if let sizes {
                let models = sizes.lowercased() == "all" ? StandardModels.models : try names(sizes).map(standard)
                let table = try StandardReport.SizeTable(models: models)
                try emit(table.json(), table.text())
                return
            }
            let typeK = try KVCache.cacheType(cacheTypeK), typeV = try KVCache.cacheType(cacheTypeV)
            if let compare {
                guard let budget else { throw QuantKitError("--compare needs a budget: --memory, or --gpu (and --ram)") }
                let shapes = try names(compare).map(shape)
                let context = ctx ?? min(4096, shapes.map(\.contextLength).min() ?? 4096)
                let c = try StandardReport.Comparison(models: shapes, context: context, cacheK: typeK, cacheV: typeV, budget: budget)
                try emit(c.json(), c.text())
                return
            }
            guard let model else { throw QuantKitError("give a MODEL, --sizes or --compare (see quant plan --help)") }
            let s = try shape(model)
            var o = ContextOptions(context: ctx ?? s.contextLength, typeK: typeK, typeV: typeV)
            o.sequences = max(parallel, 1)
            o.ubatch = max(ubatch, 1)
            o.swaFull = swaFull
            o.unified = kvUnified
            let fileType = try type.map { try FileType.choice(named: $0).fileType }
            let report = try PlanReport(shape: s, context: o, budget: budget, fileType: fileType)
            try emit(report.json(), report.text())
        }
    }

    func makeBudget() throws -> MemoryBudget? {
        guard memory != nil || gpu != nil || ram != nil else { return nil }
        if memory != nil && gpu != nil { throw QuantKitError("use --memory alone, or --gpu with --ram") }
        guard (0 ..< 100).contains(headroom) else { throw QuantKitError("--headroom must be a percentage in 0..<100") }
        return MemoryBudget(memory: try memory.map(ByteSize.init(parsing:)), gpu: try gpu.map(ByteSize.init(parsing:)),
                            ram: try ram.map(ByteSize.init(parsing:)), headroom: headroom / 100)
    }

    func names(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func standard(_ name: String) throws -> StandardModels.Model {
        guard let m = StandardModels.named(name) else {
            throw QuantKitError("unknown standard model '\(name)' (known: \(StandardModels.models.map(\.name).joined(separator: ", ")) and 7B, 8B, 13B, 70B, 405B)")
        }
        return m
    }

    /// A path if it exists, else a standard model name.
    func shape(_ name: String) throws -> ModelShape {
        if FileManager.default.fileExists(atPath: name) { return try ModelShape.load(path: name) }
        if let m = StandardModels.named(name) { return m.shape() }
        throw QuantKitError("no such file, and not a standard model name (7B, 8B, 13B, 70B, 405B, Llama-2-7B, …)", path: name)
    }

    func emit(_ object: [String: Any], _ text: String) throws {
        if json {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(text)
        }
    }
}
