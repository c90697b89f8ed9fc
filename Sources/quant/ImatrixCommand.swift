import ArgumentParser
import Calibration
import Evaluation
import Foundation
import Inference
import QKCore
import Quantization

/// `quant imatrix`: llama-imatrix's importance matrices with the QuantKit engine.
struct ImatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imatrix",
        abstract: "Collect an importance matrix (Σx² of every matmul input column) from calibration text.",
        discussion: """
            Same procedure and file formats as llama-imatrix: the text is cut into chunks of -c tokens, each run \
            through the model from an empty cache, and for every weight matrix of the blocks the squared \
            activations entering each input column are summed. Writes llama.cpp's GGUF imatrix (default) or the \
            legacy .dat (--output-format dat); both are read by `quant quantize --imatrix` and llama-quantize. \
            --in-file adds earlier matrices (weighted by their token counts); without -f it only merges them. \
            --show-statistics summarises one file.
            """)

    @Option(name: [.customShort("m"), .long], help: "The GGUF model.")
    var model: String?

    @Option(name: [.customShort("f"), .long], help: "Calibration text file.")
    var file: String?

    @Option(name: [.customShort("o"), .long], help: "Output file.")
    var output = "imatrix.gguf"

    @Option(name: .customLong("output-format"), help: "gguf (default) or dat (legacy).")
    var outputFormat: String?

    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Tokens per chunk.")
    var context = 512

    @Option(help: "Process at most this many chunks.")
    var chunks: Int?

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Tokens per forward pass.")
    var batchSize = 512

    @Option(name: .customLong("in-file"), help: "Earlier imatrix to add to (repeatable; GGUF or .dat).")
    var inFiles: [String] = []

    @Flag(name: .customLong("process-output"), help: "Also collect output.weight's input.")
    var processOutput = false

    @Flag(name: .customLong("show-statistics"), help: "Summarise the single --in-file and exit.")
    var showStatistics = false

    @Flag(help: "Print JSON (statistics, or a run summary) on stdout.")
    var json = false

    func run() throws {
        try CLI.guarded {
            CLI.removeTemporariesOnSignals()
            if showStatistics {
                guard inFiles.count == 1, file == nil else {
                    throw ValidationError("--show-statistics needs exactly one --in-file and no -f")
                }
                let stats = ImatrixStatistics(try ImatrixData(path: inFiles[0]))
                if json { try CLI.printJSON(stats) } else { print(stats.table(), terminator: "") }
                return
            }
            let legacy: Bool
            switch outputFormat?.lowercased() {
            case nil: legacy = output.hasSuffix(".dat")
            case "gguf": legacy = false
            case "dat": legacy = true
            case let other?: throw ValidationError("--output-format must be gguf or dat, not \(other)")
            }
            var start: ImatrixData?
            for path in inFiles {
                let d = try ImatrixData(path: path)
                if start == nil { start = ImatrixData(chunkSize: context) }
                try start!.merge(d, chunkSize: context, otherPath: path)
            }
            let data: ImatrixData
            if let file {
                guard let model else { throw ValidationError("give the model with -m") }
                data = try collect(model: model, text: file, start: start)
            } else {
                guard var merged = start else {
                    throw ValidationError("give calibration text with -f (and a model with -m), or --in-file matrices to merge")
                }
                merged.storedChunkCount = merged.chunkCount
                data = merged
                log("merged \(inFiles.count) matri\(inFiles.count == 1 ? "x" : "ces"): \(data.entries.count) tensors, \(data.chunkCount) chunks")
            }
            if legacy { try data.writeLegacy(to: output) } else { try data.writeGGUF(to: output) }
            log("wrote \(data.entries.count) tensors (\(data.chunkCount) chunks of \(data.chunkSize) tokens) to \(output)")
            if json {
                try CLI.printJSON(["output": output, "tensors": "\(data.entries.count)", "chunks": "\(data.chunkCount)"])
            }
        }
    }

    private func collect(model: String, text: String, start: ImatrixData?) throws -> ImatrixData {
        let lm = try LanguageModel(path: model)
        let vocab = try TextTokens.vocabulary(of: lm)
        let tokens = try TextTokens.tokenize(file: text, with: vocab)
        let session = try Session(model: lm, contextLength: context, batchSize: batchSize, threads: threads)
        let available = tokens.count / context
        log("\(tokens.count) tokens: \(min(chunks ?? available, available)) chunks of \(context)")
        let progress = ProgressLine(enabled: true)
        let result = try ImatrixRunner(session: session).run(
            tokens: tokens, bos: vocab.bosForChunks, chunks: chunks, dataset: text, startingFrom: start,
            includeOutput: processOutput) { p in
                let line = String(format: "[%d/%d] PPL %.4f  %.2f s/chunk, ", p.chunk, p.chunks, p.perplexity, p.secondsPerChunk)
                    + "ETA " + CLI.duration(p.secondsLeft)
                if !json || p.chunk == 1 { log(line) }
                progress.update(line)
            }
        progress.finish()
        let r = result.perplexity
        log(String(format: "Final estimate: PPL = %.4f +/- %.5f (%.1f s, %.0f tokens/s)", r.perplexity, r.perplexityError,
                   r.seconds, r.tokensPerSecond))
        return result.data
    }

    private func log(_ s: String) {
        (json ? FileHandle.standardError : FileHandle.standardOutput).write(Data((s + "\n").utf8))
    }
}
