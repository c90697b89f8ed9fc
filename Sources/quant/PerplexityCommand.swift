import ArgumentParser
import Evaluation
import Foundation
import GGUF
import Inference
import QKCore

/// `quant perplexity`: llama-perplexity's measurement with the QuantKit engine.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a model on a text, and KL divergence from a reference model's saved distributions.",
        discussion: """
            Same method as llama-perplexity: the text is cut into chunks of -c tokens and the second half of \
            each chunk is scored. --save-logits writes the reference distributions (llama-perplexity's \
            --kl-divergence-base format, readable by both tools); --kl-divergence compares another model \
            with them on the same tokens (no text needed).
            """)

    @Option(name: [.customShort("m"), .long], help: "The GGUF model.")
    var model: String

    @Option(name: [.customShort("f"), .long], help: "Plain-text file to score.")
    var file: String?

    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length of each chunk.")
    var context = 512

    @Option(help: "Score at most this many chunks.")
    var chunks: Int?

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Tokens per forward pass.")
    var batchSize = 512

    @Option(name: .customLong("save-logits"), help: "Write the token distributions to this file (reference for --kl-divergence).")
    var saveLogits: String?

    @Option(name: .customLong("kl-divergence"), help: "Compare with the distributions saved in this file.")
    var klBase: String?

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    func run() throws {
        try CLI.guarded {
            CLI.removeTemporariesOnSignals()
            let lm = try LanguageModel(path: model)
            let vocab = try TextTokens.vocabulary(of: lm)
            let report: PerplexityReport
            let progress = ProgressLine(enabled: true)
            let log = json ? FileHandle.standardError : FileHandle.standardOutput
            func show(_ p: ChunkProgress) {
                var line = "[\(p.chunk)/\(p.chunks)] PPL \(String(format: "%.4f", p.perplexity))"
                if let k = p.meanKLD, let top = p.sameTop {
                    line += String(format: "  KLD %.6f  same top %.2f%%", k, 100 * top)
                }
                line += String(format: "  %.2f s/chunk, %.0f s left", p.secondsPerChunk, p.secondsLeft)
                if p.chunk == 1 || p.chunk == p.chunks || !json { log.write(Data((line + "\n").utf8)) }
                progress.update(line)
            }
            if let klBase {
                guard file == nil, saveLogits == nil else {
                    throw QuantKitError("--kl-divergence takes its tokens from the base file: drop -f and --save-logits")
                }
                let header = try LogitsFile.readHeader(try MappedFile(path: klBase))
                let session = try Session(model: lm, contextLength: header.context, batchSize: batchSize, threads: threads)
                report = try KLDivergenceRunner(session: session).run(baseFile: klBase, chunks: chunks, bos: vocab.bosForChunks, progress: show)
            } else {
                guard let file else { throw ValidationError("give a text file with -f, or a base file with --kl-divergence") }
                let tokens = try TextTokens.tokenize(file: file, with: vocab)
                let session = try Session(model: lm, contextLength: context, batchSize: batchSize, threads: threads)
                report = try PerplexityRunner(session: session).run(tokens: tokens, bos: vocab.bosForChunks, chunks: chunks,
                                                                    saveLogits: saveLogits, progress: show)
            }
            progress.finish()
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                FileHandle.standardOutput.write(try enc.encode(report) + Data("\n".utf8))
            } else {
                print(PerplexityText.render(report))
            }
        }
    }
}

/// Human-readable result, in llama-perplexity's wording.
enum PerplexityText {
    static func render(_ r: PerplexityReport) -> String {
        var s = String(format: "Final estimate: PPL = %.4f +/- %.5f", r.perplexity, r.perplexityError)
        s += "\n" + String(format: "%d chunks of %d tokens, %d positions scored, %.1f s (%.0f tokens/s)",
                           r.chunks, r.context, r.scoredTokens, r.seconds, r.tokensPerSecond)
        guard let k = r.kl else { return s }
        func e(_ x: KLDivergenceReport.Estimate, _ pct: Bool = false) -> String {
            pct ? String(format: "%6.3f ± %5.3f %%", 100 * x.value, 100 * x.error) : String(format: "%10.6f ± %10.6f", x.value, x.error)
        }
        s += "\n\n====== Perplexity statistics ======"
        s += "\nMean PPL(Q)                   : " + e(k.perplexity)
        s += "\nMean PPL(base)                : " + e(k.basePerplexity)
        s += "\nCor(ln(PPL(Q)), ln(PPL(base))): " + String(format: "%6.2f%%", 100 * k.correlation)
        s += "\nMean ln(PPL(Q)/PPL(base))     : " + e(k.lnPerplexityRatio)
        s += "\nMean PPL(Q)/PPL(base)         : " + e(k.perplexityRatio)
        s += "\nMean PPL(Q)-PPL(base)         : " + e(k.perplexityDifference)
        s += "\n\n====== KL divergence statistics ======"
        s += "\nMean    KLD: " + e(k.meanKLD)
        s += "\nMaximum KLD: " + String(format: "%10.6f", k.maxKLD)
        for key in ["99.9", "99.0", "95.0", "90.0"] { s += "\n" + pad(key) + "   KLD: " + String(format: "%10.6f", k.kldPercentiles[key]!) }
        s += "\nMedian  KLD: " + String(format: "%10.6f", k.medianKLD)
        for key in ["10.0", "5.0", "1.0", "0.1"] { s += "\n" + pad(key) + "   KLD: " + String(format: "%10.6f", k.kldPercentiles[key]!) }
        s += "\nMinimum KLD: " + String(format: "%10.6f", k.minKLD)
        s += "\n\n====== Token probability statistics ======"
        s += "\nMean    Δp: " + e(k.meanDeltaP, true)
        s += "\nMaximum Δp: " + String(format: "%6.3f%%", 100 * k.maxDeltaP)
        for key in ["99.9", "99.0", "95.0", "90.0", "75.0"] { s += "\n" + pad(key) + "   Δp: " + String(format: "%6.3f%%", 100 * k.deltaPPercentiles[key]!) }
        s += "\nMedian  Δp: " + String(format: "%6.3f%%", 100 * k.medianDeltaP)
        for key in ["25.0", "10.0", "5.0", "1.0", "0.1"] { s += "\n" + pad(key) + "   Δp: " + String(format: "%6.3f%%", 100 * k.deltaPPercentiles[key]!) }
        s += "\nMinimum Δp: " + String(format: "%6.3f%%", 100 * k.minDeltaP)
        s += "\nRMS Δp    : " + e(k.rmsDeltaP, true)
        s += "\nSame top p: " + e(k.sameTop, true)
        return s
    }

    private static func pad(_ key: String) -> String { key.count < 4 ? " " + key + "%" : key + "%" }
}
