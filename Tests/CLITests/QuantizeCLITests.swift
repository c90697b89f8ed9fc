import Foundation
import Testing

/// `quant quantize` failures as a user meets them: one clear line, a non-zero exit, and no
/// output file (finished or temporary) left behind.
struct QuantizeCLITests {
    static let smol = "SmolLM2-135M-Instruct.Q4_1.gguf"

    func expectCleanFailure(_ r: CLI.Result, dir: String, mentions: [String]) throws {
        #expect(r.status != 0 && !r.signalled, "exit \(r.status)")
        #expect(r.stderr.hasPrefix("error: "), "stderr: \(r.stderr)")
        for m in mentions { #expect(r.stderr.contains(m), "stderr lacks '\(m)': \(r.stderr)") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "files left behind")
    }

    @Test func unknownTypeSuggestsTheClosest() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["quantize", try CLI.model(Self.smol), "\(dir)/o.gguf", "Q4_KM"])
        try expectCleanFailure(r, dir: dir, mentions: ["Q4_KM", "Q4_K_M"])
    }

    @Test func quantizedInputNeedsAllowRequantize() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["quantize", try CLI.model(Self.smol), "\(dir)/o.gguf", "Q8_0"])
        try expectCleanFailure(r, dir: dir, mentions: ["requantiz"])
    }

    @Test func lowBitTypeWithoutImatrixIsRefused() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["quantize", "--allow-requantize", try CLI.model(Self.smol), "\(dir)/o.gguf", "IQ2_XXS"])
        try expectCleanFailure(r, dir: dir, mentions: ["importance matrix"])
    }

    @Test func imatrixForAnotherModelIsNamed() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let golden = URL(fileURLWithPath: CLI.packageRoot).deletingLastPathComponent().appendingPathComponent("shared/golden/quant/inputs.imatrix.gguf").path
        let r = try CLI.run(["quantize", "--allow-requantize", "--imatrix", golden, try CLI.model(Self.smol), "\(dir)/o.gguf", "IQ2_XXS"])
        try expectCleanFailure(r, dir: dir, mentions: ["blk.", "importance matrix"])
    }

    /// A write that hits a file-size limit (as a full disk would) fails cleanly.
    @Test func fullDiskLeavesNothing() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run([], shell: "ulimit -f 20000; exec '\(CLI.binary)' quantize --allow-requantize '\(try CLI.model(Self.smol))' '\(dir)/o.gguf' Q8_0")
        try expectCleanFailure(r, dir: dir, mentions: ["o.gguf", "write failed"])
    }

    /// Ctrl-C in the middle of a quantization removes the partial output.
    @Test func interruptLeavesNothing() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run([], shell: """
            '\(CLI.binary)' quantize --quiet --allow-requantize '\(try CLI.model(Self.smol))' '\(dir)/o.gguf' IQ4_XS & pid=$!
            for i in $(seq 100); do ls '\(dir)'/.o.gguf.tmp-* >/dev/null 2>&1 && break; sleep 0.05; done
            sleep 0.3; kill -INT $pid; wait $pid; echo "status $?"
            """)
        let out = String(decoding: r.stdout, as: UTF8.self)
        #expect(out.contains("status 130"), "\(out) \(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "files left behind")
    }

    /// --dry-run lists every tensor with its type and writes nothing.
    @Test func dryRunWritesNothing() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run(["quantize", "--dry-run", "--allow-requantize", try CLI.model(Self.smol), "\(dir)/o.gguf", "Q4_K_M"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = String(decoding: r.stdout, as: UTF8.self)
        #expect(text.contains("blk.0.ffn_down.weight") && text.contains("model size"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}
