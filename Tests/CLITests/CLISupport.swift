import Foundation
import Testing

/// Finds and runs the `quant` binary built next to the test bundle.
enum CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static var binary: String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [here, here.deletingLastPathComponent()] {
            let p = dir.appendingPathComponent("quant").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return "\(packageRoot)/.build/release/quant"
    }

    static var models: String {
        ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? "\(packageRoot)/models"
    }

    static func model(_ name: String) throws -> String {
        let p = "\(models)/\(name)"
        guard FileManager.default.fileExists(atPath: p) else {
            throw Failure("model \(p) not found: run scripts/fetch-models.sh (CI installs it)")
        }
        return p
    }

    private static let deriveLock = NSLock()

    /// `models/derived/NAME-F32.gguf`, the shipped model dequantized by `quant quantize` (written
    /// to a temporary name and renamed, so a test running beside this one never sees half a file).
    /// Other suites derive the same file; a suite must not rely on one of them having run first.
    static func derivedF32(_ name: String) throws -> String {
        deriveLock.lock(); defer { deriveLock.unlock() }
        let shipped = ["smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf", "qwen25": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                       "gemma3": "gemma-3-270m-q4_k_m.gguf"]
        let out = "\(models)/derived/\(name)-F32.gguf"
        if FileManager.default.fileExists(atPath: out) { return out }
        guard let file = shipped[name] else { throw Failure("no shipped model for \(name)") }
        let src = try model(file)
        try FileManager.default.createDirectory(atPath: "\(models)/derived", withIntermediateDirectories: true)
        let r = try run(["quantize", "--quiet", "--allow-requantize", src, out, "F32"])
        guard r.status == 0, FileManager.default.fileExists(atPath: out) else {
            throw Failure("deriving \(out) failed: \(r.stderr)")
        }
        return out
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    struct Result {
        var status: Int32
        var signalled: Bool
        var stdout: Data
        var stderr: String
    }

    /// Runs a command with a shell line (for ulimit and the like) or an argument list.
    static func run(_ args: [String], shell: String? = nil) throws -> Result {
        let p = Process()
        if let shell {
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", shell]
        } else {
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
        }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Drain stderr on another thread so neither pipe can fill up and block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let g = DispatchGroup()
        g.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        let e = errBox.data
        p.waitUntilExit()
        return Result(status: p.terminationStatus, signalled: p.terminationReason == .uncaughtSignal,
                      stdout: o, stderr: String(decoding: e, as: UTF8.self))
    }

    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("qk-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}
