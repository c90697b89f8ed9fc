import ArgumentParser
import Calibration
import Foundation
import Inference
import QKCore
import Quantization

/// `--method` and its calibration options, shared by the commands that quantize.
struct MethodOptions: ParsableArguments {
    @Option(help: "How blocks are encoded: ggml (default; byte-identical with llama-quantize), search (wider scale search, no data), gptq (error compensation; needs --calibration).")
    var method = "ggml"

    @Option(help: "Calibration text for --method gptq (the layer-input statistics are collected on it).")
    var calibration: String?

    @Option(name: .customLong("calibration-chunks"), help: "Chunks of calibration text to use (gptq).")
    var calibrationChunks = 32

    @Option(name: .customLong("calibration-ctx"), help: "Tokens per calibration chunk (gptq).")
    var calibrationContext = 512

    @Option(help: "Hessians saved by an earlier run (--save-hessians): gptq without calibrating again.")
    var hessians: String?

    @Option(name: .customLong("save-hessians"), help: "Save the collected Hessians to this file (GGUF) for later --hessians runs.")
    var saveHessians: String?

    @Option(help: "GPTQ dampening, as a fraction of the mean Hessian diagonal.")
    var damping = 0.01

    func validate() throws {
        guard ["ggml", "search", "gptq"].contains(method) else {
            throw ValidationError("--method must be ggml, search or gptq, not \(method)")
        }
        if method == "gptq" && (calibration == nil) == (hessians == nil) {
            throw ValidationError("--method gptq needs either --calibration TEXT or --hessians FILE")
        }
        if method != "gptq" && (calibration != nil || hessians != nil || saveHessians != nil) {
            throw ValidationError("--calibration, --hessians and --save-hessians are only used by --method gptq")
        }
        guard damping > 0, damping < 10 else { throw ValidationError("--damping must be in (0, 10)") }
    }

    /// The method, with the Hessians collected from the model `path` when it is gptq.
    func resolve(modelPath path: String, threads: Int?, log: (String) -> Void) throws -> QuantizationMethod {
        switch method {
        case "search": return .search
        case "gptq":
            if let hessians {
                let h = try Hessians(path: hessians)
                log("gptq: \(h.names.count) matrices from \(hessians)")
                return .gptq(h, damping: damping)
            }
            guard let calibration else { throw ValidationError("--method gptq needs --calibration TEXT") }
            let lm = try LanguageModel(path: path)
            let vocab = try TextTokens.vocabulary(of: lm)
            let tokens = try TextTokens.tokenize(file: calibration, with: vocab)
            let session = try Session(model: lm, contextLength: calibrationContext, batchSize: calibrationContext, threads: threads)
            let available = tokens.count / calibrationContext
            guard available > 0 else {
                throw QuantKitError("calibration text has \(tokens.count) tokens, fewer than one chunk of \(calibrationContext)", path: calibration)
            }
            let used = min(calibrationChunks, available)
            log("gptq: collecting layer-input statistics on \(used) chunks of \(calibrationContext) tokens of \(calibration)")
            let progress = ProgressLine(enabled: true)
            let result = try HessianRunner(session: session).run(tokens: tokens, bos: vocab.bosForChunks, chunks: used) { p in
                progress.update(String(format: "[%d/%d] PPL %.4f  %.2f s/chunk, ", p.chunk, p.chunks, p.perplexity, p.secondsPerChunk)
                                + "ETA " + CLI.duration(p.secondsLeft))
            }
            progress.finish()
            log(String(format: "gptq: %d matrices, %.0f MiB of statistics, %.1f s", result.hessians.names.count,
                       Double(result.hessians.bytes) / 1048576, result.perplexity.seconds))
            if let saveHessians {
                try result.hessians.write(to: saveHessians)
                log("gptq: saved the statistics to \(saveHessians)")
            }
            return .gptq(result.hessians, damping: damping)
        default: return .ggml
        }
    }
}
