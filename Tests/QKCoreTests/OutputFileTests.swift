import Foundation
import QKCore
import Testing

struct OutputFileTests {
    func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("qk-out-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func commitRenamesIntoPlace() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = try OutputFile(path: "\(dir)/a.bin", bufferSize: 16)
        try out.write(Array(repeating: 7, count: 100))
        try out.write(le: UInt32(0x0102_0304))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/a.bin"))
        try out.commit()
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.bin"))
        #expect(data.count == 104)
        #expect(Array(data.suffix(4)) == [4, 3, 2, 1])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.bin"])
    }

    @Test func abandonedOutputLeavesNothing() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let out = try OutputFile(path: "\(dir)/b.bin")
            try out.write(Array(repeating: 1, count: 10))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func missingDirectoryIsAClearError() throws {
        let e = #expect(throws: QuantKitError.self) { try OutputFile(path: "/nonexistent-dir/x.gguf") }
        #expect(e?.description.contains("/nonexistent-dir") == true)
    }

    @Test func mappedFileRejectsOutOfRange() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(dir)/c.bin"))
        let m = try MappedFile(path: "\(dir)/c.bin")
        #expect(try m.bytes(at: 1, count: 2).count == 2)
        #expect(throws: QuantKitError.self) { try m.bytes(at: 2, count: 2) }
        #expect(throws: QuantKitError.self) { try m.bytes(at: Int.max, count: 1) }
    }
}
