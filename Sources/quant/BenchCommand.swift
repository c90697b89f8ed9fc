import ArgumentParser
import Evaluation
import Foundation
import Inference
import QKCore

/// `quant bench`: llama-bench's pp/tg throughput tests on the QuantKit engine.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Prompt-processing and generation speed of a model (like llama-bench).")

    @Option(name: [.customShort("m"), .long], help: "The GGUF model.")
    var model: String

    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt tokens for the pp test (0 to skip).")
    var prompt = 512

    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Generated tokens for the tg test (0 to skip).")
    var generate = 128

    @Option(name: [.customShort("t"), .long], help: "Threads (default: all cores).")
    var threads: Int?

    @Option(name: [.customShort("r"), .long], help: "Repetitions of each test.")
    var repetitions = 5

    @Option(name: [.customShort("b"), .customLong("batch-size")], help: "Tokens per forward pass.")
    var batchSize = 512

    @Flag(help: "Print the results as JSON.")
    var json = false

    func run() throws {
        try CLI.guarded {
            let lm = try LanguageModel(path: model)
            let context = max(prompt, generate, 1)
            let session = try Session(model: lm, contextLength: min(context, lm.config.trainedContext),
                                      batchSize: batchSize, threads: threads)
            var results: [BenchResult] = []
            if prompt > 0 { results.append(try Bench.promptProcessing(session, tokens: prompt, repetitions: repetitions)) }
            if generate > 0 { results.append(try Bench.textGeneration(session, tokens: generate, repetitions: repetitions)) }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.prettyPrinted, .sortedKeys]
                FileHandle.standardOutput.write(try enc.encode(results) + Data("\n".utf8))
                return
            }
            let size = lm.file.tensors.reduce(0) { $0 + $1.byteCount }
            print("| model | size | threads | test | t/s |")
            print("|---|---:|---:|---:|---:|")
            let name = (model as NSString).lastPathComponent
            for r in results {
                print("| \(name) | \(CLI.mib(size)) | \(r.threads) | \(r.test) | \(String(format: "%.2f ± %.2f", r.mean, r.standardDeviation)) |")
            }
        }
    }
}
