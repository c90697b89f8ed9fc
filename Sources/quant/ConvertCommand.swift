import ArgumentParser
import Conversion
import Foundation
import QKCore

/// `quant convert HF_DIR -o OUT.gguf`: llama.cpp's convert_hf_to_gguf.py, natively and streaming.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Hugging Face checkpoint (config.json, safetensors, tokenizer) to GGUF, as llama.cpp's converter does.",
        discussion: "Architectures: " + Architecture.supported.map(\.name).joined(separator: ", ")
            + ". With --type the tensors are quantized in the same pass (same bytes as converting at --outtype, then quant quantize).")

    @Argument(help: "Checkpoint directory.") var input: String
    @Option(name: [.short, .customLong("output")], help: "Output GGUF.") var output: String
    @Option(name: .long, help: "f32, f16, bf16, q8_0 or auto (bf16/f16 from the checkpoint's dtype; f32 with --type).")
    var outtype: String?
    @Option(name: .long, help: "Quantize to this llama.cpp file type in the same pass (e.g. Q4_K_M).") var type: String?
    @Option(name: .long, help: "Importance matrix for --type.") var imatrix: String?
    @Option(name: .long, help: "general.name (default: the directory name).") var name: String?
    @Option(name: [.short, .long], help: "Threads (default: all cores).") var threads: Int?
    @Flag(name: .long, help: "No progress output.") var quiet = false

    func run() throws {
        try CLI.guarded {
            CLI.removeTemporariesOnSignals()
            let out = outtype ?? (type == nil ? "auto" : "f32")
            guard let outType = ConvertOutType(rawValue: out.lowercased()) else {
                throw QuantKitError("unknown --outtype '\(out)' (f32, f16, bf16, q8_0 or auto)")
            }
            var r = ConvertRequest(outType: outType)
            r.quantizeType = type
            r.imatrixPath = imatrix
            r.name = name
            let checkpoint = try HFCheckpoint(directory: input)
            let plan = try CheckpointConverter.plan(checkpoint, r)
            let pool = threads.map { ThreadPool(threads: $0) } ?? .shared
            let reporter = ProgressLine(enabled: !quiet)
            let summary = try CheckpointConverter.run(plan, outputPath: output, pool: pool) { p in
                reporter.update("[\(p.tensorIndex + 1)/\(p.tensorCount)] \(p.tensorName) \(CLI.mib(p.bytesDone)) / \(CLI.mib(p.bytesTotal))"
                                + (p.remaining.map { String(format: ", ETA %.0fs", $0) } ?? ""))
            }
            reporter.finish()
            let types = summary.typeCounts.sorted { $0.value > $1.value }.map { "\($0.key.name): \($0.value)" }
            print("converted \(input) (\(checkpoint.architecture.name)) -> \(output)")
            print("  \(CLI.mib(summary.inputBytes)) -> \(CLI.mib(summary.fileBytes)), \(String(format: "%.2f", summary.seconds)) s")
            print("  tensors: \(types.joined(separator: ", "))")
        }
    }
}
