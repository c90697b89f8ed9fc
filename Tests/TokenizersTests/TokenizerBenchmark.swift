import Foundation
import GGUF
import Testing
@testable import Tokenizers

/// Tokenizer load time and throughput, for the record (not a pass/fail test). Runs only with
/// QUANTKIT_BENCH=1 and means something only in a release build:
///
///     QUANTKIT_BENCH=1 swift test -c release --skip-build --filter TokenizerBenchmark
///
/// Prints, per real model: the time to parse the GGUF metadata, to build the tokenizer from
/// it, and to tokenize 1 MB of English prose (models/text/eng), best of 3.
@Suite struct TokenizerBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["QUANTKIT_BENCH"] != nil && TokFixtures.hasModels))
    func loadAndTokenize() throws {
        let dir = "\(TokFixtures.modelsDir)/text/eng"
        var corpus = Data()
        for f in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where f.hasSuffix(".txt") {
            corpus.append(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(f)")))
        }
        var bytes = [UInt8](corpus.prefix(1 << 20))
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }  // whole characters
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }
        let text = String(decoding: bytes, as: UTF8.self)
        let mb = Double(bytes.count) / 1e6

        func time(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        for name in [TokFixtures.smol, TokFixtures.gemma, TokFixtures.qwen] {
            let path = "\(TokFixtures.modelsDir)/\(name)"
            var file: GGUFFile!
            var tok: Tokenizer!
            var parse = Double.infinity, build = Double.infinity, encode = Double.infinity
            var count = 0
            for _ in 0 ..< 3 {
                parse = min(parse, try time { file = try GGUFFile(path: path) })
                build = min(build, try time { tok = try Tokenizer(gguf: file) })
                encode = min(encode, time { count = tok.encode(text, addSpecial: false).count })
            }
            print(String(format: "%@: %d tokens; GGUF parse %.0f ms, tokenizer build %.0f ms; encode %.2f MB in %.3f s = %.2f MB/s (%.0f ktok/s)",
                         name, tok.vocabularySize, parse * 1000, build * 1000, mb, encode, mb / encode,
                         Double(count) / encode / 1000))
            // Every text of models/text (40 languages and 22 programming languages), one by one.
            var all = [String]()
            let enumerator = FileManager.default.enumerator(atPath: "\(TokFixtures.modelsDir)/text")
            while let f = enumerator?.nextObject() as? String {
                if f.hasSuffix(".txt") { all.append(try String(contentsOfFile: "\(TokFixtures.modelsDir)/text/\(f)", encoding: .utf8)) }
            }
            let total = Double(all.reduce(0) { $0 + $1.utf8.count }) / 1e6
            let t = time { for s in all { _ = tok.encode(s, addSpecial: false) } }
            print(String(format: "    all %d texts: %.2f MB in %.3f s = %.2f MB/s", all.count, total, t, total / t))
        }
    }
}
