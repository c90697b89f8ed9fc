import Foundation
import Testing

/// `quant convert` as a user runs it: exit codes, messages and files left behind.
@Suite struct ConvertCLITests {
    @Test func helpListsTheArchitectures() throws {
        let r = try CLI.run(["convert", "--help"])
        let text = String(decoding: r.stdout, as: UTF8.self)
        #expect(r.status == 0)
        for a in ["llama", "qwen2", "qwen3", "gemma3", "--outtype", "--type", "--imatrix"] { #expect(text.contains(a), "\(a)") }
    }

    /// A directory that is no checkpoint, an unknown --outtype, and an architecture QuantKit does
    /// not convert: a non-zero exit, the problem and the file named, nothing written.
    @Test func badInputFailsCleanly() throws {
        let dir = NSTemporaryDirectory() + "qk-convert-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/out.gguf"
        var r = try CLI.run(["convert", dir, "-o", out])
        #expect(r.status != 0 && r.stderr.contains("missing config.json") && r.stderr.contains(dir))
        r = try CLI.run(["convert", dir, "-o", out, "--outtype", "q4"])
        #expect(r.status != 0 && r.stderr.contains("unknown --outtype 'q4'"))
        try #"{"architectures": ["BertModel"], "hidden_size": 8}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        r = try CLI.run(["convert", dir, "-o", out])
        #expect(r.status != 0 && r.stderr.contains("unsupported architecture BertModel") && r.stderr.contains("gemma3"))
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["config.json"])
    }
}
