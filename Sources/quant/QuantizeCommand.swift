import ArgumentParser
import Calibration
import Foundation
import GGUF
import QKCore
import Quantization

/// `quant quantize IN OUT TYPE`: llama-quantize's job, streamed.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantize a GGUF model to a llama.cpp file type (Q4_K_M, IQ4_XS, …), bit-exact with llama-quantize.",
        discussion: "TYPE is a llama-quantize file type (case-insensitive; Q3_K/Q4_K/Q5_K mean the _M mixes; COPY copies). "
            + "With --pure, TYPE may also be any ggml type (e.g. IQ2_S, Q4_K): every 2-D/3-D tensor becomes it. "
            + "Without TYPE, --target-size/--target-bpw choose a type per tensor (least estimated error that fits), "
            + "or --plan-in replays a saved NAME=TYPE plan.")

    @Argument(help: "Input GGUF (any shard of a split model).") var input: String
    @Argument(help: "Output GGUF.") var output: String
    @Argument(help: "File type, e.g. Q4_K_M (omit with --target-size, --target-bpw or --plan-in).") var type: String?

    @Option(name: .long, help: "Importance matrix (llama.cpp GGUF imatrix or legacy .dat).") var imatrix: String?
    @Option(name: [.customLong("include-weights")], help: "Use the imatrix only for tensors whose name contains this (repeatable).")
    var includeWeights: [String] = []
    @Option(name: [.customLong("exclude-weights")], help: "Do not use the imatrix for tensors whose name contains this (repeatable).")
    var excludeWeights: [String] = []
    @Flag(name: .long, help: "Every quantizable tensor gets TYPE: no mix rules.") var pure = false
    @Flag(name: [.customLong("allow-requantize")], help: "Dequantize already-quantized tensors and quantize them again.")
    var allowRequantize = false
    @Flag(name: [.customLong("leave-output-tensor")], help: "Keep output.weight as it is.") var leaveOutputTensor = false
    @Option(name: [.customLong("output-tensor-type")], help: "Type for output.weight.") var outputTensorType: String?
    @Option(name: [.customLong("token-embedding-type")], help: "Type for token_embd.weight.") var tokenEmbeddingType: String?
    @Option(name: [.customLong("tensor-type")], help: "PATTERN=TYPE: tensors whose name matches the regex get TYPE (repeatable).")
    var tensorType: [String] = []
    @Option(name: [.customLong("override-kv")], help: "KEY=TYPE:VALUE metadata override (int, float, bool, str; repeatable).")
    var overrideKV: [String] = []
    @Flag(name: [.customLong("keep-split")], help: "Write the output in the same shards as the split input (OUT is then a prefix: OUT-00001-of-0000N.gguf).")
    var keepSplit = false
    @Flag(name: [.customLong("dry-run")], help: "Print the per-tensor plan and final size; write nothing.") var dryRun = false
    @OptionGroup var methodOptions: MethodOptions
    @Flag(name: [.customLong("smooth-ffn")], inversion: .prefixedNo,
          help: "Scale outlier FFN channels by powers of two (ffn_up rows down, ffn_down columns up; the same network) in layers whose ffn_down is Q5_K/Q6_K, so their 8-bit input rounding loses less at run time. Needs --imatrix; not with --method gptq. With --target-size and --sensitivity-text, by default the best plan is measured both ways and the better kept.")
    var smoothFFN: Bool?
    @OptionGroup var sized: TargetSizeOptions
    @Option(name: [.short, .long], help: "Threads (default: all cores).") var threads: Int?
    @Flag(name: .long, help: "Print a machine-readable summary.") var json = false
    @Flag(name: .long, help: "No progress output.") var quiet = false

    func run() throws {
        try CLI.guarded {
            CLI.removeTemporariesOnSignals()
            if smoothFFN == true {
                guard imatrix != nil else { throw QuantKitError("--smooth-ffn needs --imatrix: the mean square of every FFN channel decides its scale") }
                // gptq's statistics would be of the unscaled model.
                guard methodOptions.method != "gptq" else { throw QuantKitError("--smooth-ffn cannot be combined with --method gptq") }
            }
            if sized.isActive {
                guard type == nil else { throw QuantKitError("give either TYPE or --target-size/--target-bpw/--plan-in, not both") }
                // Smoothing is verified with ggml's encoding, and gptq's statistics are of the unscaled model.
                try sized.run(input: input, output: output, imatrix: imatrix, smoothFFN: methodOptions.method == "gptq" ? false : smoothFFN,
                              dryRun: dryRun, threads: threads,
                              json: json, quiet: quiet) {
                    // The sizes and error estimates are ggml's; a better method only lowers the errors.
                    try methodOptions.resolve(modelPath: input, threads: threads) { line in
                        if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) }
                    }
                }
                return
            }
            guard let type else { throw QuantKitError("missing TYPE (e.g. Q4_K_M), or --target-size/--target-bpw/--plan-in") }
            var r = QuantizeRequest(typeName: type)
            r.pure = pure
            r.imatrixPath = imatrix
            r.includeWeights = includeWeights
            r.excludeWeights = excludeWeights
            r.allowRequantize = allowRequantize
            r.keepSplit = keepSplit
            r.leaveOutputTensor = leaveOutputTensor
            r.outputTensorType = try outputTensorType.map(CLI.ggmlType)
            r.tokenEmbeddingType = try tokenEmbeddingType.map(CLI.ggmlType)
            r.tensorTypes = try tensorType.map(TensorTypeOverride.parse)
            r.overrides = try overrideKV.map(QuantizeJob.parseOverride)
            let model = try GGUFModel(path: input)
            let job = try QuantizeJob(model: model, request: r)
            let inBytes = job.plan.reduce(0) { $0 + $1.inputBytes }
            let outBytes = job.plan.reduce(0) { $0 + $1.outputBytes }
            let params = job.plan.reduce(0) { $0 + $1.shape.reduce(1, *) }
            if dryRun {
                try GGUFQuantizer.validate(job.plan, input: model, imatrix: job.imatrix, allowRequantize: true)
                if methodOptions.saveHessians != nil {   // collect and save the statistics only
                    _ = try methodOptions.resolve(modelPath: input, threads: threads) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
                }
                for (i, p) in job.plan.enumerated() {
                    let shape = p.shape.map(String.init).joined(separator: " x ")
                    let change = p.inputType == p.outputType ? "keep \(p.outputType.name)" : "\(p.inputType.name) -> \(p.outputType.name)"
                    print("[\(i + 1)/\(job.plan.count)] \(p.name) [\(shape)] \(change)  \(CLI.mib(p.inputBytes)) -> \(CLI.mib(p.outputBytes))"
                          + (job.reasons[p.name].map { "  (\($0))" } ?? ""))
                }
                print("model size: \(CLI.mib(inBytes)) -> \(CLI.mib(outBytes)) (\(String(format: "%.2f", Double(outBytes * 8) / Double(max(params, 1)))) bpw), \(job.plan.count) tensors")
                return
            }
            let pool = threads.map { ThreadPool(threads: $0) } ?? .shared
            let method = try methodOptions.resolve(modelPath: input, threads: threads) { line in
                if !quiet { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            }
            let smoothing = CLI.smoothing(smoothFFN == true, plan: job.plan, imatrix: job.imatrix, quiet: quiet || json)
            let reporter = ProgressLine(enabled: !quiet && !json)
            let summary = try GGUFQuantizer.run(input: model, plan: job.plan, metadata: job.metadata, outputPath: output,
                                                imatrix: job.imatrix, allowRequantize: job.allowRequantize, keepSplit: keepSplit,
                                                method: method, smoothing: smoothing, pool: pool,
                                                progress: { p in
                reporter.update("[\(p.tensorIndex + 1)/\(p.tensorCount)] \(p.tensorName) \(CLI.mib(p.bytesDone)) / \(CLI.mib(p.bytesTotal))"
                                + (p.remaining.map { String(format: ", ETA %.0fs", $0) } ?? ""))
            })
            reporter.finish()
            if case .gptq(let h, _) = method, !quiet {
                let passes = (h.source as? CalibrationHessians).map { "\($0.passes) calibration pass(es), \(String(format: "%.1f", $0.seconds)) s; " } ?? ""
                FileHandle.standardError.write(Data("gptq: \(passes)at most \(CLI.mib(h.peakBytes)) of statistics held\n".utf8))
            }
            let types = summary.typeCounts.sorted { $0.value > $1.value }.map { "\($0.key.name): \($0.value)" }
            if json {
                let obj: [String: Any] = [
                    "input": input, "output": output, "files": summary.files, "file_type": job.fileTypeName, "method": method.name,
                    "input_bytes": summary.inputBytes, "output_bytes": summary.outputBytes, "file_bytes": summary.fileBytes,
                    "parameters": summary.parameters, "bits_per_weight": summary.bitsPerWeight, "seconds": summary.seconds,
                    "tensor_types": Dictionary(uniqueKeysWithValues: summary.typeCounts.map { ($0.key.name, $0.value) }),
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
            } else {
                print("quantized \(input) -> \(summary.files.joined(separator: ", ")) (\(job.fileTypeName))")
                print("  size \(CLI.mib(summary.inputBytes)) -> \(CLI.mib(summary.outputBytes)), \(String(format: "%.3f", summary.bitsPerWeight)) bpw, \(String(format: "%.2f", summary.seconds)) s")
                print("  tensors: \(types.joined(separator: ", "))")
            }
        }
    }
}

extension CLI {
    /// The `--smooth-ffn` transform for `plan` (nil when not asked for), reported on stderr.
    static func smoothing(_ asked: Bool, plan: [PlannedTensor], imatrix: ImportanceMatrix?, quiet: Bool) -> FFNSmoothing? {
        guard asked, let imatrix else { return nil }
        let s = FFNSmoothing(plan: plan, imatrix: imatrix)
        if !quiet {
            FileHandle.standardError.write(Data("smooth-ffn: \(s.channelCount) channels in \(s.layerCount) layers scaled by powers of two\n".utf8))
        }
        return s
    }
}
