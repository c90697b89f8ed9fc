import Foundation
import GGUF
import QKCore
import Testing

/// The reader and writer on the three real models (and the small real GGUFs of the shared
/// reference data): byte-for-byte round trips and agreement with gguf-py.
@Suite struct RealModelTests {
    @Test(arguments: Fixtures.modelNames)
    func readsRealModel(_ name: String) throws {
        let f = try Fixtures.open(name)
        #expect(f.version == 3)
        #expect(f.isCanonicalLayout)
        #expect(!f.tensors.isEmpty)
        #expect(f.tensor(named: "token_embd.weight") != nil)
        let vocab = f["tokenizer.ggml.tokens"]?.array
        #expect((vocab?.count ?? 0) > 40000)
        #expect(vocab?.strings != nil)
        let arch = try #require(f.architecture)
        #expect(f["\(arch).block_count"]?.int ?? 0 > 0)
        // The last tensor (padded) ends exactly at the end of the file.
        let last = try #require(f.tensors.max { $0.offset < $1.offset })
        #expect(f.dataOffset + (last.offset + last.byteCount + f.alignment - 1) / f.alignment * f.alignment == f.fileSize)
        if name.hasPrefix("gemma") {
            #expect(vocab?.count == 262_144)
            #expect(f["tokenizer.ggml.scores"]?.array?.floats?.count == 262_144)
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func roundTripIsByteForByte(_ name: String) throws {
        let path = try Fixtures.model(name)
        let f = try Fixtures.open(name)
        try Fixtures.withTempDir { dir in
            let out = "\(dir)/copy.gguf"
            try GGUFWriter.copy(f, to: out)
            let same = try Fixtures.sameBytes(path, out)
            #expect(same, "\(name): rewritten file differs at byte \(String(describing: try? Fixtures.firstDifference(path, out)))")
            // The header alone also re-encodes identically.
            let header = GGUFWriter.encodeHeader(metadata: f.metadata, tensors: f.tensors, version: f.version)
            withExtendedLifetime(f) { #expect(header.count == f.headerSize && memcmp(header, f.bytes.baseAddress!, f.headerSize) == 0) }
        }
    }

    @Test(arguments: Fixtures.modelNames)
    func agreesWithGGUFPy(_ name: String) throws {
        let path = try Fixtures.model(name)
        let py = try Fixtures.gguf_py("dump", path)
        let f = try Fixtures.open(name)
        let problems = Agreement.compare(f, py, label: "gguf-py vs our reader")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        // Our JSON summary (the format `quant inspect --json` prints) says the same, completely.
        let ours = try JSONSerialization.jsonObject(with: Data(f.jsonSummary().serialized().utf8))
        let mine = Agreement.compare(f, ours, label: "our jsonSummary vs our reader")
        #expect(mine.isEmpty, "\(mine.joined(separator: "\n"))")
    }

    /// A file our writer produces with a different layout (tensors in reverse order, alignment
    /// 64, extra metadata of every value type) loads in gguf-py with the same metadata and,
    /// tensor by tensor, the same data as the source.
    @Test func writtenFileLoadsInGGUFPy() throws {
        let path = try Fixtures.model(Fixtures.modelNames[0])
        let src = try Fixtures.open(Fixtures.modelNames[0])
        try Fixtures.withTempDir { dir in
            let out = "\(dir)/rewritten.gguf"
            var md = src.metadata
            md["general.alignment"] = .uint32(64)
            for (k, v) in WriterTests.everyType { md["test.\(k)"] = v }
            let order = Array(src.tensors.indices.reversed())
            let w = try GGUFWriter(path: out, metadata: md, tensors: order.map { src.tensors[$0] })
            for i in order { try w.writeTensor(named: src.tensors[i].name, src.data(at: i)) }
            try w.finish()

            let written = try GGUFFile(path: out)
            #expect(written.alignment == 64)
            #expect(written.metadata == md)
            let problems = Agreement.compare(written, try Fixtures.gguf_py("dump", out), label: "gguf-py vs our reader")
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")

            // Checksums: gguf-py's view of each written tensor vs the source bytes our reader located.
            let ranges = src.tensors.map { [$0.name, src.dataOffset + $0.offset, $0.byteCount] as [Any] }
            let expected = try Fixtures.gguf_py("range-hashes", path, stdin: JSONSerialization.data(withJSONObject: ranges)) as? [String: String]
            let actual = try Fixtures.gguf_py("hashes", out) as? [String: String]
            #expect(expected != nil && expected?.count == src.tensors.count)
            #expect(actual == expected)
        }
    }

    /// The small real GGUFs of the shared reference data (llama.cpp quantizer outputs,
    /// vocab-only files written by gguf-py): round trip and gguf-py agreement.
    @Test func sharedReferenceFiles() throws {
        let files = Fixtures.sharedFiles
        guard !files.isEmpty else { return } // optional data; the real models are the requirement
        try Fixtures.withTempDir { dir in
            for path in files {
                let f = try GGUFFile(path: path)
                let out = "\(dir)/copy.gguf"
                try GGUFWriter.copy(f, to: out)
                #expect(try Fixtures.sameBytes(path, out), "\(path): round trip differs")
            }
        }
        // gguf-py agreement on the files with many tensor types and little metadata.
        for path in files where path.hasSuffix("expected/IQ2_XXS.gguf") || path.hasSuffix("inputs.imatrix.gguf") {
            let f = try GGUFFile(path: path)
            let problems = Agreement.compare(f, try Fixtures.gguf_py("dump", path), label: path)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }
    }
}
