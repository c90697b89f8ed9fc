import Foundation
import GGUF
import QKCore
import Quantization
import Testing

/// Quantizing with an importance matrix: the same values give the same bytes whatever file
/// carries them, and the result equals llama-quantize's with the same matrix.
@Suite(.serialized) struct ImatrixQuantizeTests {
    /// Bytes of the tensor data section (everything after the header, which holds the imatrix's
    /// path) — what the fixture recorded for llama-quantize's output.
    static func dataHash(_ path: String) throws -> String {
        try Fixtures.sha256(path, from: try GGUFFile(path: path).dataOffset)
    }

    @Test(arguments: ["IQ4_XS", "IQ3_XXS", "IQ2_XS", "Q2_K_S"])
    func equalsLlamaQuantize(type: String) throws {
        let ref = (try Fixtures.reference()["quantize"] as! [String: [String: Any]])["smollm2-\(type)"]!
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = "\(dir)/out.gguf"
        try Fixtures.quantize(try Fixtures.model("smollm2", "F32"), out, type, imatrix: Fixtures.llamaImatrix("smollm2", "F32"))
        #expect(try Self.dataHash(out) == ref["data_sha256"] as? String)
        let g = try GGUFFile(path: out)
        #expect(g["quantize.imatrix.entries_count"]?.int == ref["entries_count"] as? Int)
        #expect(g["quantize.imatrix.chunks_count"]?.int == ref["chunks_count"] as? Int)
        #expect(g["quantize.imatrix.dataset"]?.string == ref["dataset"] as? String)
        #expect(try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int != nil)
    }

    /// llama.cpp's GGUF matrix and the same values in our legacy .dat give identical files
    /// (apart from the recorded imatrix path).
    @Test func sameValuesSameBytes() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let theirs = Fixtures.llamaImatrix("smollm2", "Q8_0")
        var ours = ImatrixData(chunkSize: 512)
        try ours.merge(try ImatrixData(path: theirs), chunkSize: 512)
        try ours.writeLegacy(to: "\(dir)/ours.dat")
        let input = try Fixtures.model("smollm2", "F32")
        try Fixtures.quantize(input, "\(dir)/a.gguf", "Q4_0", imatrix: theirs)
        try Fixtures.quantize(input, "\(dir)/b.gguf", "Q4_0", imatrix: "\(dir)/ours.dat")
        try Fixtures.quantize(input, "\(dir)/c.gguf", "Q4_0")
        #expect(try Self.dataHash("\(dir)/a.gguf") != Self.dataHash("\(dir)/c.gguf"))   // the matrix was used
        #expect(try Self.dataHash("\(dir)/a.gguf") == Self.dataHash("\(dir)/b.gguf"))
    }

    /// A matrix without the entry a very-low-bit type needs is refused before anything is
    /// written, naming the tensor (ffn_down: its 1536 columns take IQ2_XS; the 576-column
    /// tensors fall back to a type that needs no matrix).
    @Test func missingEntryIsAClearError() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var d = ImatrixData(chunkSize: 512)
        try d.merge(try ImatrixData(path: Fixtures.llamaImatrix("smollm2", "F32")), chunkSize: 512)
        d.entries["blk.7.ffn_down.weight"] = nil
        try d.writeGGUF(to: "\(dir)/partial.gguf")
        do {
            try Fixtures.quantize(try Fixtures.model("smollm2", "F32"), "\(dir)/out.gguf", "IQ2_XS", imatrix: "\(dir)/partial.gguf")
            Issue.record("quantized without the entry")
        } catch let e as QuantKitError {
            #expect(e.description.contains("blk.7.ffn_down.weight"), "\(e)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out.gguf"))
    }
}
