import Foundation
import Testing

/// `quant imatrix` as a user runs it: collect, merge, summarise, quantize with the result, and
/// read the file with the `gguf` Python package (llama.cpp's own reader).
@Suite struct ImatrixCLITests {
    let smol: String
    let text: String
    init() throws {
        smol = try CLI.model("SmolLM2-135M-Instruct.Q4_1.gguf")
        text = "\(CLI.models)/text/eng/history.txt"
    }

    @Test func collectMergeShowAndQuantize() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try CLI.run(["imatrix", "-m", smol, "-f", text, "-c", "128", "--chunks", "2", "-o", "\(dir)/a.gguf"])
        #expect(run.status == 0, "\(run.stderr)")
        let out = String(decoding: run.stdout, as: UTF8.self)
        #expect(out.contains("[2/2] PPL") && out.contains("ETA") && out.contains("wrote 210 tensors"))

        // llama.cpp's reader sees the GGUF imatrix layout.
        let py = """
            import sys; from gguf import GGUFReader
            r = GGUFReader(sys.argv[1]); f = r.fields
            print(bytes(f['general.type'].parts[-1]).decode(), int(f['imatrix.chunk_count'].parts[-1][0]),
                  int(f['imatrix.chunk_size'].parts[-1][0]), len(r.tensors))
            t = {x.name: x for x in r.tensors}
            print([int(x) for x in t['blk.0.ffn_down.weight.in_sum2'].shape], float(t['blk.0.ffn_down.weight.counts'].data.ravel()[0]))
            """
        try Data(py.utf8).write(to: URL(fileURLWithPath: "\(dir)/read.py"))
        let read = try CLI.run([], shell: "python3 \(dir)/read.py \(dir)/a.gguf")
        #expect(String(decoding: read.stdout, as: UTF8.self) == "imatrix 2 128 420\n[1536] 256.0\n", "\(read.stderr)")

        // Merging with a legacy copy of itself doubles the counts.
        let dat = try CLI.run(["imatrix", "--in-file", "\(dir)/a.gguf", "-c", "128", "--output-format", "dat", "-o", "\(dir)/a.dat"])
        #expect(dat.status == 0, "\(dat.stderr)")
        let merged = try CLI.run(["imatrix", "--in-file", "\(dir)/a.gguf", "--in-file", "\(dir)/a.dat", "-c", "128", "-o", "\(dir)/m.gguf"])
        #expect(merged.status == 0 && String(decoding: merged.stdout, as: UTF8.self).contains("4 chunks of 128 tokens"), "\(merged.stderr)")

        let show = try CLI.run(["imatrix", "--in-file", "\(dir)/m.gguf", "--show-statistics"])
        let table = String(decoding: show.stdout, as: UTF8.self)
        #expect(show.status == 0 && table.contains("ffn_down") && table.contains("per layer"))

        let q = try CLI.run(["quantize", "--allow-requantize", "--imatrix", "\(dir)/m.gguf", smol, "\(dir)/q.gguf", "IQ2_M"])
        #expect(q.status == 0, "\(q.stderr)")
    }

    @Test func clearErrors() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let nothing = try CLI.run(["imatrix", "-m", smol])
        #expect(nothing.status != 0 && nothing.stderr.contains("calibration text"))
        try Data("Far too short.".utf8).write(to: URL(fileURLWithPath: "\(dir)/short.txt"))
        let short = try CLI.run(["imatrix", "-m", smol, "-f", "\(dir)/short.txt", "-c", "128", "-o", "\(dir)/x.gguf"])
        #expect(short.status == 1 && short.stderr.contains("needs at least 256"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/x.gguf"))
        try Data("not an imatrix".utf8).write(to: URL(fileURLWithPath: "\(dir)/bad.dat"))
        let bad = try CLI.run(["imatrix", "--in-file", "\(dir)/bad.dat", "-o", "\(dir)/y.gguf"])
        #expect(bad.status == 1 && bad.stderr.contains("bad.dat"))
    }
}
