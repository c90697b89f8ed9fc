import Foundation
import GGUF
import QKCore
import QuantFormats
import Quantization
import Testing

/// `quant quantize --pure inputs.gguf out.gguf TYPE [--imatrix]` on ggml's golden inputs gives
/// ggml's bytes: the whole pipeline (planning, streaming conversion, GGUF writing), not just
/// the codecs.
struct PureQuantizeGoldenTests {
    static let golden: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/golden/quant").path
    }()

    static var types: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(golden)/expected")) ?? [])
            .filter { $0.hasSuffix(".gguf") }.map { String($0.dropLast(5)) }.sorted()
    }

    @Test func everyGoldenTypeIsCovered() {
        #expect(Self.types.count >= 24, "golden files missing under \(Self.golden)")
    }

    @Test("pure quantization of the golden inputs equals ggml's", arguments: types)
    func pureFileMatches(typeName: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qk-pure-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = try GGUFModel(path: "\(Self.golden)/inputs.gguf")
        let expected = try GGUFFile(path: "\(Self.golden)/expected/\(typeName).gguf")
        let type = try #require(GGMLType(name: typeName))
        var compared = 0
        for (suffix, imatrix) in [("", nil as String?), (".imat", "\(Self.golden)/inputs.imatrix.gguf")] {
            // ggml refuses some types without weights; the golden file has no such tensors.
            guard expected.tensor(named: input.tensors[0].name + suffix) != nil else {
                var r = QuantizeRequest(typeName: typeName)
                r.pure = true
                let job = try QuantizeJob(model: input, request: r)
                #expect(throws: QuantKitError.self) {
                    _ = try GGUFQuantizer.run(input: input, plan: job.plan, metadata: job.metadata, outputPath: "\(dir)/x.gguf", imatrix: nil)
                }
                #expect(!FileManager.default.fileExists(atPath: "\(dir)/x.gguf"))
                continue
            }
            var r = QuantizeRequest(typeName: typeName)
            r.pure = true
            r.imatrixPath = imatrix
            let job = try QuantizeJob(model: input, request: r)
            let out = "\(dir)/out\(suffix).gguf"
            _ = try GGUFQuantizer.run(input: input, plan: job.plan, metadata: job.metadata, outputPath: out, imatrix: job.imatrix)
            let got = try GGUFFile(path: out)
            #expect(got["general.file_type"] != nil && got["general.quantization_version"] == .uint32(2))
            for t in input.tensors {
                let mine = try #require(got.tensor(named: t.name))
                let theirs = try #require(expected.tensor(named: t.name + suffix))
                #expect(mine.type == type && theirs.type == type)
                #expect(Array(got.data(of: mine)) == Array(expected.data(of: theirs)), "\(typeName) \(t.name)\(suffix) differs from ggml")
                compared += 1
            }
        }
        #expect(compared >= input.tensors.count)
    }
}
