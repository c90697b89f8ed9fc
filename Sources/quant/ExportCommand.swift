import ArgumentParser
import Export
import Foundation
import Planning
import QKCore

/// `quant export MODEL -o OUTDIR --format …`: GPU-engine checkpoints (vLLM, transformers).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a Hugging Face checkpoint with 4-bit group-quantized linears as compressed-tensors, GPTQ or AWQ.",
        discussion: """
            Writes OUTDIR as a Hugging Face checkpoint (config.json with quantization_config, safetensors, \
            tokenizer and generation files) that vLLM and transformers load: compressed-tensors pack-quantized \
            (llm-compressor's layout), GPTQ (AutoGPTQ/GPTQModel: qweight, qzeros, scales, g_idx) or AWQ (AutoAWQ GEMM). \
            Methods: rtn (round to nearest), gptq (Hessian error compensation) and awq (activation-aware scales \
            folded into the preceding norm/linear), the last two calibrated on --calibration text. The decoder \
            layers' *_proj linears are quantized; embeddings, norms and lm_head are kept.
            """)

    @Argument(help: "Hugging Face checkpoint directory (config.json + safetensors), or a llama/qwen2 GGUF.") var model: String
    @Option(name: [.short, .customLong("output")], help: "Output directory.") var output: String
    @Option(help: "compressed-tensors, gptq or awq.") var format: String
    @Option(help: "Bits per weight (4, or 8 for compressed-tensors/gptq).") var bits = 4
    @Option(name: .customLong("group-size"), help: "Input columns per scale.") var groupSize = 128
    @Flag(name: .customLong("sym"), help: "Symmetric grid (default).") var sym = false
    @Flag(name: .customLong("asym"), help: "Asymmetric grid (zero points).") var asym = false
    @Option(help: "rtn, gptq or awq.") var method = "rtn"
    @Option(help: "Calibration text file (gptq, awq).") var calibration: String?
    @Option(name: .customLong("calibration-tokens"), help: "Calibration tokens used at most (default: 16384 for gptq, 4096 for awq).")
    var calibrationTokens: Int?
    @Option(help: "GPTQ damping (fraction of mean diag H).") var damp = 0.1
    @Option(name: .customLong("hessian-memory"),
            help: "GPTQ: most memory the Hessians may hold at once (e.g. 2GiB; default: a quarter of RAM). Less memory means more passes over the calibration text.")
    var hessianMemory: String?
    @Flag(name: .customLong("act-order"), help: "GPTQ: quantize columns by decreasing Hessian diagonal.") var actOrder = false
    @Option(name: .customLong("max-shard-size"), help: "Largest shard in MB.") var maxShardMB = 5000
    @Option(name: [.short, .long], help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "GGUF input: copy tokenizer files from this directory.") var tokenizer: String?
    @Flag(help: "Print a JSON summary on stdout.") var json = false
    @Flag(name: .long, help: "No progress output.") var quiet = false

    func run() throws {
        try CLI.guarded {
            CLI.removeTemporariesOnSignals()
            guard let f = ExportFormat(rawValue: format.lowercased()) else {
                throw ValidationError("--format must be compressed-tensors, gptq or awq")
            }
            guard let m = ExportMethod(rawValue: method.lowercased()) else { throw ValidationError("--method must be rtn, gptq or awq") }
            if sym && asym { throw ValidationError("give --sym or --asym, not both") }
            var r = ExportRequest(format: f)
            r.method = m
            r.bits = bits
            r.groupSize = groupSize
            r.symmetric = !asym
            r.actOrder = actOrder
            r.calibrationPath = calibration
            r.calibrationTokens = calibrationTokens
            r.maxShardSize = maxShardMB * 1_000_000
            r.threads = threads
            r.tokenizerDirectory = tokenizer
            r.gptqDamp = damp
            r.hessianMemory = try hessianMemory.map { try ByteSize(parsing: $0).bytes }
            if let threads { ThreadPool.shared = ThreadPool(threads: threads) }
            let line = ProgressLine(enabled: !quiet)
            var lastPhase = ""
            let summary = try Exporter.run(model: model, output: output, request: r) { p in
                if p.phase != lastPhase && !quiet {
                    FileHandle.standardError.write(Data("\(p.phase)…\n".utf8))
                    lastPhase = p.phase
                }
                line.update("[\(p.phase) \(p.done)/\(p.total)] \(p.item)")
            }
            line.finish()
            for w in summary.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            if json {
                try CLI.printJSON(summary)
            } else {
                print("exported \(model) -> \(output) (\(summary.format), \(summary.method), \(summary.bits)-bit, group \(summary.groupSize), \(summary.symmetric ? "sym" : "asym"))")
                print("  \(summary.quantizedLayers) linear layers quantized, \(CLI.mib(summary.bytesWritten)) written in \(String(format: "%.1f", summary.seconds)) s")
            }
        }
    }
}
