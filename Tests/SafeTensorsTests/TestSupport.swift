import Foundation
import QKCore
import SafeTensors
import Testing

/// Shared helpers: locating the real models, running the Python reference reader,
/// checksums that the reference computes identically, temporary directories.
enum Support {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `$QUANTKIT_MODELS`, else `<package>/models`.
    static var modelsDir: String {
        ProcessInfo.processInfo.environment["QUANTKIT_MODELS"] ?? packageRoot + "/models"
    }

    struct Missing: Error, CustomStringConvertible { let description: String }

    /// The MiniLM directory, or an error telling how to install it.
    static func miniLMDir() throws -> String {
        let dir = modelsDir + "/all-MiniLM-L6-v2"
        guard FileManager.default.fileExists(atPath: dir + "/model.safetensors") else {
            throw Missing(description: "all-MiniLM-L6-v2 not found at \(dir). Run scripts/fetch-models.sh --only minilm "
                + "(it installs into $QUANTKIT_MODELS, default ./models).")
        }
        return dir
    }

    static func miniLMFile() throws -> String { try miniLMDir() + "/model.safetensors" }

    /// One tensor as the reference reader describes it.
    struct RefTensor: Decodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let offsets: [Int]
        let file: String
        let header_position: Int
        let checksum: String
        let f32_checksum: String
        let samples: [[UInt64]]
    }

    struct RefDump: Decodable {
        let metadata: [String: String]?
        let index_total_size: Int?
        let tensors: [RefTensor]
    }

    /// Runs a Python script, returning stdout; fails with its stderr on a non-zero exit.
    static func python(_ arguments: [String]) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [ProcessInfo.processInfo.environment["PYTHON"] ?? "python3"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read stderr concurrently so a chatty script cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        reader.start()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !reader.isFinished { usleep(1000) }
        guard p.terminationStatus == 0 else {
            throw Missing(description: "python \(arguments.first ?? "") failed (\(p.terminationStatus)): "
                + String(decoding: errData, as: UTF8.self) + " (numpy is required: pip install numpy)")
        }
        return data
    }

    /// The reference reader's view of a file, index or directory.
    static func reference(_ path: String) throws -> RefDump {
        let script = packageRoot + "/scripts/st_reference.py"
        return try JSONDecoder().decode(RefDump.self, from: python([script, path]))
    }

    /// sum(word[i] * (i % 251 + 1)) mod 2^64 over little-endian UInt64 words (the tail
    /// zero-padded), as scripts/st_reference.py computes it.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var sum: UInt64 = 0
        var w: UInt64 = 1
        let words = bytes.count / 8
        for i in 0..<words {
            sum &+= UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* w
            w = w == 251 ? 1 : w + 1
        }
        if bytes.count % 8 != 0 {
            var tail: UInt64 = 0
            for (k, b) in bytes[(words * 8)...].enumerated() { tail |= UInt64(b) << (8 * UInt64(k)) }
            sum &+= tail &* w
        }
        return sum
    }

    /// The same weighted sum over F32 bit patterns, NaNs canonicalised to 0x7fc00000.
    static func f32Checksum(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
        var sum: UInt64 = 0
        var w: UInt64 = 1
        for v in values {
            sum &+= UInt64(bits(v)) &* w
            w = w == 251 ? 1 : w + 1
        }
        return sum
    }

    static func bits(_ v: Float) -> UInt32 { v.isNaN ? 0x7fc0_0000 : v.bitPattern }

    /// A fresh temporary directory, removed by the returned cleanup.
    static func tempDir(_ tag: String) throws -> String {
        let dir = NSTemporaryDirectory() + "quantkit-st-\(tag)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

    /// Compares the Swift view of `tensors` with the reference dump entry by entry.
    static func compare(_ ref: RefDump, lookup: (String) throws -> (SafeTensorInfo, UnsafeRawBufferPointer),
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        for r in ref.tensors {
            let (info, data) = try lookup(r.name)
            #expect(info.dtype.rawValue == r.dtype, "\(r.name) dtype", sourceLocation: sourceLocation)
            #expect(info.shape == r.shape, "\(r.name) shape", sourceLocation: sourceLocation)
            #expect([info.dataOffsets.lowerBound, info.dataOffsets.upperBound] == r.offsets, "\(r.name) offsets", sourceLocation: sourceLocation)
            #expect(String(checksum(data)) == r.checksum, "\(r.name) raw data checksum", sourceLocation: sourceLocation)
            var f32 = [Float](repeating: .nan, count: info.elementCount)
            try f32.withUnsafeMutableBufferPointer {
                try SafeTensorsConversion.toF32(data, dtype: info.dtype, into: $0)
            }
            let sum = f32.withUnsafeBufferPointer { f32Checksum($0) }
            #expect(String(sum) == r.f32_checksum, "\(r.name) (\(r.dtype)) F32 conversion checksum", sourceLocation: sourceLocation)
            for s in r.samples {
                #expect(UInt64(bits(f32[Int(s[0])])) == s[1], "\(r.name) (\(r.dtype)) element \(s[0])", sourceLocation: sourceLocation)
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) so fuzz failures can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
