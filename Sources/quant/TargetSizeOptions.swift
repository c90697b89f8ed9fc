import ArgumentParser
import Calibration
import Foundation
import GGUF
import Inference
import QKCore
import Quantization

/// `quant quantize --target-size/--target-bpw/--plan-in`: a type per tensor chosen to fit a size.
struct TargetSizeOptions: ParsableArguments {
    @Option(name: [.customLong("target-size")], help: "Largest output file: bytes or 4.2GB, 600MiB… (KB/MB/GB = 1000ⁿ, KiB/MiB/GiB = 1024ⁿ).")
    var targetSize: String?
    @Option(name: [.customLong("target-bpw")], help: "Largest tensor data, in bits per weight (header and metadata come on top).")
    var targetBpw: Double?
    @Option(name: [.customLong("plan-out")], help: "Save the chosen per-tensor types (NAME=TYPE lines).") var planOut: String?
    @Option(name: [.customLong("plan-in")], help: "Use the per-tensor types of a saved plan (NAME=TYPE lines) instead of choosing.")
    var planIn: String?
    @Option(name: [.customLong("candidate-types")], help: "Comma-separated ggml types to choose from (default: legacy, k-, i-quants, F16).")
    var candidateTypes: String?

    @Option(name: [.customLong("sensitivity-text")], help: "Calibration text: measure with the engine how much each tensor class hurts the output (KLD), and weigh its errors by that.")
    var sensitivityText: String?
    @Option(name: [.customLong("sensitivity-chunks")], help: "Chunks of 512 tokens of the calibration text per sensitivity measurement (default 1).")
    var sensitivityChunks = 1
    @Option(name: [.customLong("verify-plans")], help: "With --sensitivity-text: measure this many candidate plans (the target and smaller budgets) with the engine and keep the best (0: trust the estimate; default 5). The best is also measured with FFN smoothing unless --no-smooth-ffn.")
    var verifyPlans = 5
    @Flag(name: [.customLong("activation-costs")], help: "With --sensitivity-text: also verify plans whose estimates include the cost of rounding each matrix's input to its type's 8-bit activation format (experimental).")
    var activationCosts = false
    @Option(name: .long, help: "Measurements cache (JSON): reused when it matches the model and candidates, else written; sensitivity factors go to FILE.factors.json.")
    var measurements: String?

    var isActive: Bool { targetSize != nil || targetBpw != nil || planIn != nil }

    func run(input: String, output: String, imatrix: String?, smoothFFN: Bool?, dryRun: Bool, threads: Int?, json: Bool, quiet: Bool,
             method: () throws -> QuantizationMethod = { .ggml }) throws {
        guard [targetSize != nil, targetBpw != nil, planIn != nil].filter({ $0 }).count == 1 else {
            throw QuantKitError("give exactly one of --target-size, --target-bpw and --plan-in")
        }
        let target: SizeTarget? = try targetSize.map { .fileBytes(try SizeTarget.parseBytes($0)) }
            ?? targetBpw.map { bpw in
                guard bpw > 0, bpw.isFinite else { throw QuantKitError("--target-bpw must be a positive number") }
                return .bitsPerWeight(bpw)
            }
        let pool = threads.map { ThreadPool(threads: $0) } ?? .shared
        let model = try GGUFModel(path: input)
        let candidates = try candidateTypes.map { try $0.split(separator: ",").map { try CLI.ggmlType(String($0)) } }
        var planner = try TargetSizePlanner(model: model, imatrixPath: imatrix, candidates: candidates ?? ErrorProfiler.defaultCandidates)
        planner.profiler.pool = pool
        let reporter = ProgressLine(enabled: !quiet && !json)
        let start = Date()
        let sized: SizedPlan
        var smooth = smoothFFN == true
        var measureSeconds = 0.0
        if let planIn {
            sized = try planner.plan(types: PlanFile.read(path: planIn))
        } else {
            var choice = TargetSizeChoice(planner: planner, measurementsPath: measurements)
            if let sensitivityText {
                let vocab = try TextTokens.vocabulary(of: try LanguageModel(file: model))
                var c = TargetSizeChoice.Calibration(tokens: try TextTokens.tokenize(file: sensitivityText, with: vocab), bos: vocab.bosForChunks,
                                                     workDirectory: URL(fileURLWithPath: output).deletingLastPathComponent().path)
                c.chunks = sensitivityChunks
                c.verifyPlans = verifyPlans
                c.activationCosts = activationCosts
                c.trySmoothing = smoothFFN == nil
                c.threads = threads
                choice.calibration = c
            }
            choice.progress = { reporter.update($0) }
            let outcome = try choice.choose(target: target!)
            reporter.finish()
            measureSeconds = Date().timeIntervalSince(start)
            sized = outcome.plan
            smooth = smoothFFN ?? outcome.smoothFFN
            if !json, let factors = outcome.factors {
                print("sensitivity (KLD per unit of weighted error): "
                      + factors.filter { $0.key != SensitivityProbe.floorKey }.sorted { $0.key < $1.key }
                        .map { "\($0.key) \(String(format: "%.3g", $0.value))" }.joined(separator: ", "))
                if let scale = outcome.activationScale {
                    print(String(format: "all tensors Q8_0: KLD %.5f; activation-rounding costs scaled by %.3g to match it",
                                 factors[SensitivityProbe.floorKey]!, scale))
                }
            }
            if !json && !outcome.trials.isEmpty {
                print("candidate plans measured on the calibration text (mean KLD):")
                for (i, t) in outcome.trials.enumerated() {
                    print(String(format: "  budget %.1f%%: %d bytes, estimated %.5f, measured %.5f", t.fraction * 100, t.fileBytes, t.estimated, t.measured)
                          + (t.smoothed ? ", FFN smoothed" : "") + (i == outcome.chosen ? "  ← chosen" : ""))
                }
            }
        }
        if let planOut { try OutputFile.write(Array(PlanFile.format(sized).utf8), to: planOut) }
        let params = sized.plan.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let dataBytes = sized.fileBytes - sized.headerBytes
        if !json {
            func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
            print(pad("tensor", 36) + " " + pad("type", 8) + " " + pad("bytes", 12) + " est. error")
            for p in sized.plan {
                print(pad(p.name, 36) + " " + pad(p.outputType.name, 8) + " " + pad(String(p.outputBytes), 12) + " "
                      + String(format: "%.4g", sized.estimatedError[p.name] ?? 0))
            }
            var counts: [GGMLType: Int] = [:]
            for p in sized.plan { counts[p.outputType, default: 0] += 1 }
            print("types: " + counts.sorted { $0.value > $1.value }.map { "\($0.key.name) \($0.value)" }.joined(separator: ", "))
            print("file size: \(sized.fileBytes) bytes (\(CLI.mib(sized.fileBytes)))"
                  + (sized.target.map { ", target \($0) bytes" } ?? "")
                  + String(format: ", %.3f bpw, estimated error %.6g", Double(dataBytes * 8) / Double(max(params, 1)), sized.totalError)
                  + (measureSeconds > 0 ? String(format: ", measured in %.1f s", measureSeconds) : ""))
        }
        var written: QuantizeSummary?
        if !dryRun {
            let method = try method()
            let smoothing = CLI.smoothing(smooth, plan: sized.plan, imatrix: planner.profiler.imatrix, quiet: quiet || json)
            written = try GGUFQuantizer.run(input: model, plan: sized.plan, metadata: sized.metadata, outputPath: output,
                                            imatrix: planner.profiler.imatrix, allowRequantize: true, method: method,
                                            smoothing: smoothing, pool: pool,
                                            progress: { p in reporter.update("[\(p.tensorIndex + 1)/\(p.tensorCount)] \(p.tensorName)") })
            reporter.finish()
            guard written!.fileBytes == sized.fileBytes else {
                throw QuantKitError("internal error: wrote \(written!.fileBytes) bytes, planned \(sized.fileBytes)", path: output)
            }
            if !json { print("wrote \(output) in " + String(format: "%.1f s", Date().timeIntervalSince(start))) }
        } else {
            try GGUFQuantizer.validate(sized.plan, input: model, imatrix: planner.profiler.imatrix, allowRequantize: true)
        }
        if json {
            let obj: [String: Any] = [
                "input": input, "output": dryRun ? NSNull() : output, "file_bytes": sized.fileBytes, "header_bytes": sized.headerBytes,
                "target_bytes": sized.target ?? NSNull(), "estimated_error": sized.totalError, "file_type": sized.fileTypeName,
                "measure_seconds": measureSeconds, "seconds": Date().timeIntervalSince(start), "smooth_ffn": smooth,
                "tensors": sized.plan.map { ["name": $0.name, "type": $0.outputType.name, "bytes": $0.outputBytes,
                                             "error": sized.estimatedError[$0.name] ?? 0] as [String: Any] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .prettyPrinted]), as: UTF8.self))
        }
    }
}
