import ArgumentParser
import Calibration
import Foundation
import Inference
import QKCore
import Planning
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

    @Option(name: .customLong("hessian-memory"),
            help: "Most memory the gptq statistics may hold at once (e.g. 2GiB; default: a quarter of RAM). Less memory means more passes over the calibration text.")
    var hessianMemory: String?

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
        if let hessianMemory {
            guard method == "gptq" else { throw ValidationError("--hessian-memory is only used by --method gptq") }
            _ = try ByteSize(parsing: hessianMemory)
        }
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
            guard tokens.count >= calibrationContext else {
                throw QuantKitError("calibration text has \(tokens.count) tokens, fewer than one chunk of \(calibrationContext)", path: calibration)
            }
            let progress = ProgressLine(enabled: true)
            let source = try CalibrationHessians(session: session, tokens: tokens, bos: vocab.bosForChunks, chunks: calibrationChunks) { pass, c, chunks, perChunk in
                progress.update(String(format: "gptq statistics, pass %d: [%d/%d] %.2f s/chunk, ", pass, c, chunks, perChunk)
                                + "ETA " + CLI.duration(perChunk * Double(chunks - c)))
                if c == chunks { progress.finish() }
            }
            let used = source.tokenCount / calibrationContext
            let budget = try hessianMemory.map { try ByteSize(parsing: $0).bytes } ?? Int(ProcessInfo.processInfo.physicalMemory / 4)
            let streamed = Hessians(source: source, budget: budget)
            log("gptq: layer-input statistics of \(source.groups.count) inputs (\(CLI.mib(source.totalBytes)) in all) from \(used) chunks "
                + "of \(calibrationContext) tokens of \(calibration), at most \(CLI.mib(budget)) held at once: "
                + "about \(streamed.savingWindows().count) pass(es) over the text")
            guard let saveHessians else { return .gptq(streamed, damping: damping) }
            try streamed.write(to: saveHessians)
            log("gptq: saved the statistics to \(saveHessians) (\(source.passes) passes, \(String(format: "%.1f", source.seconds)) s, "
                + "at most \(CLI.mib(streamed.peakBytes)) held)")
            return .gptq(try Hessians(path: saveHessians), damping: damping)
        default: return .ggml
        }
    }
}
